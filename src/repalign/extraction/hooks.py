"""Activations of any torch module: forward hooks, batches, resumable streaming to a store."""

from __future__ import annotations

import contextlib
import numbers
import sys

import numpy as np
import torch

from ._layers import INPUT, order, resolve_layers
from ._stimuli import as_stimuli
from .adapters import ModelAdapter, as_adapter
from .pooling import check_pool, pool_output, pooling_name, select_tensor

__all__ = ["extract", "layers"]


def layers(model, *, all_modules: bool = False) -> list[str]:
    """The layers of ``model`` that :func:`extract` takes by default, or all it can hook.

    Parameters
    ----------
    model : torch.nn.Module, ModelAdapter, callable or str
        A module, an adapter from :func:`repalign.load_model`, a local model path or
        bundled package name (loaded with :func:`repalign.load_model`), or any
        callable.
    all_modules : bool, default=False
        False: the default layers of ``extract(model, stimuli)``, the outputs of the
        network's blocks (see :mod:`repalign.extraction._layers`): for a transformer its
        embeddings and each encoder/decoder layer (the residual stream), for a CNN its
        blocks or stages (EfficientNet: the 16 ``_blocks.i``), for a network without
        blocks its top-level modules. True: every named submodule (``named_modules()``
        without the root), containers included (``"features"`` as well as
        ``"features.0"``); any of them, and any ``"name:input"``, may be passed to
        ``extract(layers=...)``.

    Returns
    -------
    list of str
        In network order: the order in which the modules are registered (an input
        before its module), which is the order in which they run for the default
        layers of the supported families. For a callable, ``["output"]``. Default layers
        that do not run in the forward pass are left out by :func:`extract`.

    Examples
    --------
    >>> import torch, repalign
    >>> block = lambda: torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU())
    >>> net = torch.nn.Sequential(block(), block(), torch.nn.Linear(4, 2))
    >>> repalign.layers(net)
    ['0', '1', '2']
    >>> repalign.layers(net, all_modules=True)
    ['0', '0.0', '0.1', '1', '1.0', '1.1', '2']
    """
    adapter = as_adapter(model)
    return adapter.layers() if all_modules else adapter.default_layers()


def _resolve_layers(adapter: ModelAdapter, layers) -> list[str]:
    available = adapter.layers()
    if layers is None:
        names = adapter.default_layers()
        if not names:
            raise ValueError(
                f"layers=None takes the model's blocks or top-level modules, but {adapter!r} "
                "has no submodules; pass the model as a function (lambda x: model(x)) to "
                "get its output as the layer 'output'"
            )
        return order(names, available)
    return resolve_layers(layers, available, repr(adapter))


class _Recorder:
    """Runs batches through the model and collects each hooked layer's pooled output.

    Hooks pool inside the forward pass, so no full activation outlives its layer.
    A module called more than once per forward pass keeps its last call's output.
    """

    def __init__(self, adapter: ModelAdapter, names: list[str], pool, device, strict=True):
        self.adapter, self.names, self.pool, self.device = adapter, names, pool, device
        # strict=False (layers=None): layers that do not run in the first forward pass
        # (weights used by a fused parent, e.g. MultiheadAttention.out_proj) are dropped.
        self.strict = strict
        self._handles = []
        self._ordered = adapter.module is None
        self._mask = None
        self._n = 0
        self._out: dict[str, torch.Tensor] = {}

    def __enter__(self):
        if self.adapter.module is not None:
            modules = dict(self.adapter.module.named_modules())
            for name in self.names:
                if name.endswith(INPUT):
                    module = modules[name[:-len(INPUT)]]
                    self._handles.append(module.register_forward_pre_hook(
                        self._input_hook(name), with_kwargs=True))
                else:
                    self._handles.append(modules[name].register_forward_hook(self._hook(name)))
        return self

    def __exit__(self, *exc):
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _hook(self, name):
        def hook(module, args, output):
            self._out[name] = pool_output(select_tensor(output, name), self.pool, self._mask,
                                          name, self._n)
        return hook

    def _input_hook(self, name):
        def hook(module, args, kwargs):
            if args:
                given = args[0]
            elif "hidden_states" in kwargs:
                given = kwargs["hidden_states"]
            else:
                given = next((v for v in kwargs.values() if isinstance(v, torch.Tensor)), None)
            if given is None:
                raise ValueError(f"layer {name!r}: the module was called without inputs")
            self._out[name] = pool_output(select_tensor(given, name), self.pool, self._mask,
                                          name, self._n)
        return hook

    def run(self, batch, n: int, names=None) -> dict[str, np.ndarray]:
        """Pooled float32 outputs ``{layer: (n, d)}`` of ``names`` (default: all)."""
        inputs, self._mask = self.adapter.prepare(batch, self.device)
        self._n, self._out = n, {}
        output = self.adapter.forward(inputs)
        if self.adapter.module is None:
            self._out["output"] = pool_output(select_tensor(output, "output"), self.pool,
                                              self._mask, "output", n)
        if not self._ordered:  # network order: as the outputs were produced
            self._ordered = True
            ran = [name for name in self._out if name in set(self.names)]
            self.names = ran + [name for name in self.names if name not in self._out]
        if not self.strict:
            self.strict = True
            self.names = [name for name in self.names if name in self._out]
            if not self.names:
                raise ValueError(
                    f"none of the default layers of {self.adapter!r} ran during the "
                    "forward pass; choose layers explicitly"
                )
        names = self.names if names is None else [x for x in names if x in self.names]
        missing = [name for name in names if name not in self._out]
        if missing:
            raise ValueError(
                f"layers {missing} did not run during the forward pass (a parent used "
                "their weights directly, as nn.MultiheadAttention does with out_proj, or a "
                "fused fast path or an untaken branch skipped them); choose other layers"
            )
        return {name: self._out[name].numpy() for name in names}


@contextlib.contextmanager
def _eval_mode(module):
    if module is None:
        yield
        return
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training


@contextlib.contextmanager
def _progress(total, enabled, description):
    if not enabled:
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda: bar.advance(task)


def _check_feature_count(layer, expected, got):
    if got != expected:
        raise ValueError(
            f"layer {layer!r} gave {got} features in one batch but {expected} in another; "
            "pooled outputs must have one width (pool='flatten' over tokens depends on "
            "the padded length: use 'mean', 'max', 'cls' or 'last')"
        )


def extract(model, stimuli, layers=None, pool="mean", batch_size=64, device=None, store=None,
            name=None, *, transform=None, stimulus_set=None, stimulus_ids=None,
            progress=None):
    """Activations of a model's layers for a set of stimuli, one row per stimulus.

    Forward hooks on the chosen submodules record each layer's output for every batch,
    pooled at once to ``(batch, n_features)``; the model runs in eval mode under
    ``torch.inference_mode``.

    Parameters
    ----------
    model : torch.nn.Module, ModelAdapter, str or callable
        A module (its submodules are hooked), an adapter from :func:`repalign.load_model`,
        a local model path or bundled package name (loaded with ``load_model``), or any
        callable from a batch to a tensor or mapping of tensors, whose output is the
        single layer ``"output"``. Its own preprocessing is used: a Hugging Face
        tokenizer or image processor saved with it, a sentence-transformers model's
        tokenizer and modules, a timm ``pretrained_cfg`` (see
        :mod:`repalign.extraction.adapters`).
    stimuli : tensor, array, mapping of arrays, list of str, Dataset, DataLoader or iterable
        Taken in order (see :mod:`repalign.extraction._stimuli`): a tensor or array
        batched along axis 0 (images: integer 0-255 arrays ``(N, H, W, C)`` or
        ``(N, C, H, W)`` are raw images for the model's preprocessing, floating-point ones
        are passed as they are); a mapping such as ``{"input_ids": ...,
        "attention_mask": ...}`` passed as keyword arguments (its ``attention_mask`` is
        used by the pooling); a list of strings for models with a tokenizer or callables;
        a list of PIL images; a map-style ``torch.utils.data.Dataset`` or sequence of
        items (tensors, arrays, PIL images, or ``(input, target)`` pairs of which the
        input is used); a ``torch.utils.data.DataLoader`` without shuffling (its batches
        are cut again into ``batch_size``); or any iterable of items.
    layers : list of str, str or None, default=None
        Layer names or glob patterns out of ``repalign.layers(model, all_modules=True)``:
        ``*`` matches within one name component (``"_blocks.*"``: the blocks, not their
        submodules), ``**`` also across dots, ``?`` one character, ``[...]`` a set; a name
        or pattern ending in ``":input"`` records the module's input instead of its
        output. None takes the default layers, :func:`repalign.layers` ``(model)``: the
        outputs of the network's blocks (a transformer's embeddings and each layer, the
        residual stream; a CNN's blocks or stages), never their submodules; default
        layers that do not run in the forward pass are left out.
    pool : {"mean", "max", "flatten", "cls", "last"} or callable, default="mean"
        How each layer's output becomes one row per stimulus. ``(N, C, H, W)`` outputs
        are pooled over ``H, W``; ``(N, D)`` outputs are kept as they are; ``"flatten"``
        keeps everything. Token outputs ``(N, T, D)`` (text, and a ViT's patches) are
        pooled over the tokens ``T``, skipping padding where the batch has an attention
        mask (tokenised text always has one):

        * ``"mean"``: the mean of the real tokens (the default; what sentence-transformers'
          mean pooling does);
        * ``"cls"``: the first real token (BERT's ``[CLS]``, a ViT's class token);
        * ``"last"``: the last real token, under right or left padding (for decoders such
          as GPT-2, the only token that has seen the whole text);
        * ``"max"``: the maximum over the real tokens.

        Tuples give their first floating-point tensor, mappings their
        ``last_hidden_state`` (else ``sentence_embedding``, else ``token_embeddings``,
        else their first floating-point tensor). A callable gets the selected tensor (and
        ``attention_mask=`` if it takes that keyword) and returns ``(N, ...)``, flattened
        to ``(N, d)``. See :mod:`repalign.extraction.pooling`.
    batch_size : int, default=64
        Stimuli per forward pass, and the chunk length of the store's arrays.
    device : str or torch.device, optional
        Where to run. Default: the device of the model's parameters. A given device
        moves the model there (in place).
    store : ActivationStore, optional
        An :class:`repalign.ActivationStore` opened with ``mode="a"``. Each layer is
        streamed into the array ``(name, layer)`` batch by batch, so memory holds one
        batch, and an interrupted run resumes: batches already written for every
        requested layer are not recomputed, and layers already complete are not run.
    name : str, optional
        The model's name in the store; required with ``store``, not allowed without.
    transform : callable, optional
        Applied to each stimulus as given (a PIL image, a row of an array, a dataset
        item's input, a string) before batching, as a torchvision transform
        (``weights.transforms()``) or a timm one (``create_transform(...)``) is: any
        callable from one stimulus to a tensor or array of a fixed shape. Its
        floating-point output is passed to the model as it is (the model's own image
        preprocessing applies only to raw images). Transforms written for PIL images
        need PIL images as stimuli. Not allowed with a mapping of model inputs.
    stimulus_set : str, optional
        An id of the stimulus set, recorded in the store's attributes.
    stimulus_ids : sequence, optional
        One id per stimulus, recorded in the store's attributes; default ``0..n-1``.
    progress : bool, optional
        Show a progress bar (rich, on stderr). Default: only when stderr is a terminal.

    Returns
    -------
    dict of str to array of shape (n_stimuli, n_features)
        In network order: the order in which the layers' outputs are produced in the
        forward pass, whatever the order of ``layers`` (a rerun against a store that
        computes nothing gives registration order). Without ``store``: float32 NumPy
        arrays. With ``store``: the stored arrays as lazy dask arrays
        (``store.read_lazy(name, layer)``), for every requested layer.

    Raises
    ------
    TypeError
        If ``model``, ``stimuli``, ``layers``, ``pool`` or ``transform`` is of an
        unsupported type, or raw images reach a model without image preprocessing.
    ValueError
        For an unknown layer (the message lists close names), an unknown ``pool``, empty
        stimuli, a DataLoader that shuffles or drops its last batch, ``store`` without
        ``name`` (or the reverse), a layer that did not run, outputs that are not
        batch-first, and, with ``store``, a complete stored array that was extracted
        differently (delete it first).

    Notes
    -----
    With ``store``, the feature count of each layer is learnt from one stimulus (one
    extra forward pass of a single stimulus) before the arrays are opened; a rerun of a
    finished extraction runs no forward pass. The store records ``pool`` by name (a
    callable by its ``__qualname__``, so two lambdas look alike to a resumed run) and,
    for models from :func:`repalign.load_model`, their ``source``.

    A module called several times in one forward pass (a shared ``nn.ReLU``) records
    its last call. With ``layers=None``, default layers that do not run in the forward
    pass are left out; named explicitly, they raise ``ValueError``.

    Examples
    --------
    >>> import torch, repalign
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(),
    ...                           torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 2))
    >>> acts = repalign.extract(net, torch.randn(10, 3, 8, 8), layers=["3", "0"])
    >>> {layer: a.shape for layer, a in acts.items()}
    {'0': (10, 4), '3': (10, 2)}
    """
    adapter = as_adapter(model)
    pool = check_pool(pool)
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) \
            or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}")
    batch_size = int(batch_size)
    if store is None and name is not None:
        raise ValueError(f"name={name!r} is the model's name in a store; it needs store=")
    if store is not None and (not isinstance(name, str) or not name):
        raise ValueError(
            f"store= needs name=, the model's name in the store (a non-empty string); "
            f"got {name!r}"
        )
    source = as_stimuli(stimuli, transform)
    if device is not None:
        adapter.to(device)
    device = adapter.device if device is None else torch.device(device)
    names = _resolve_layers(adapter, layers)
    if progress is None:
        progress = sys.stderr.isatty()
    with _eval_mode(adapter.module), torch.inference_mode(), \
            _Recorder(adapter, names, pool, device, strict=layers is not None) as recorder:
        if store is None:
            return _in_memory(recorder, source, batch_size, progress)
        return _to_store(recorder, adapter, source, names, pool, batch_size, store, name,
                         stimulus_set, stimulus_ids, progress)


def _in_memory(recorder, source, batch_size, progress):
    """Fill one float32 array per layer (preallocated when the stimulus count is known)."""
    out: dict[str, np.ndarray | list] = {}
    widths: dict[str, int] = {}
    with _progress(source.n_batches(batch_size), progress, "extracting") as advance:
        for index, batch, n in source.batches(batch_size):
            for layer, rows in recorder.run(batch, n).items():
                if layer not in out:
                    widths[layer] = rows.shape[1]
                    out[layer] = [] if source.n is None else \
                        np.empty((source.n, rows.shape[1]), np.float32)
                _check_feature_count(layer, widths[layer], rows.shape[1])
                if source.n is None:
                    out[layer].append(rows)
                else:
                    out[layer][index * batch_size:index * batch_size + n] = rows
            advance()
    if source.n is None:
        return {layer: np.concatenate(out[layer]) for layer in recorder.names}
    return {layer: out[layer] for layer in recorder.names}


def _to_store(recorder, adapter, source, names, pool, batch_size, store, name,
              stimulus_set, stimulus_ids, progress):
    if source.n is None:
        raise ValueError(
            "stimuli must have a length to be streamed into a store (the arrays are "
            "allocated up front); pass a list, an array or a Dataset instead of an iterator"
        )
    n = source.n
    if stimulus_ids is None:
        stimulus_ids = list(range(n))
    else:
        stimulus_ids = [i.item() if hasattr(i, "item") else i for i in stimulus_ids]
        if len(stimulus_ids) != n:
            raise ValueError(
                f"stimulus_ids has {len(stimulus_ids)} ids but there are {n} stimuli"
            )
    attrs = {"pooling": pooling_name(pool), "stimulus_set": stimulus_set,
             "stimulus_ids": stimulus_ids}
    if adapter.source is not None:
        attrs["source"] = adapter.source
    complete = set(store.list())
    pending = []
    for layer in names:
        if (name, layer) in complete:
            _check_stored(store, name, layer, n, attrs)
        else:
            pending.append(layer)
    if pending:
        widths = {layer: rows.shape[1]
                  for layer, rows in recorder.run(source.probe(), 1, pending).items()}
        names = [layer for layer in recorder.names if layer in names]  # ran, in order
        pending = [layer for layer in pending if layer in widths]
        writers = {layer: store.writer(name, layer, n, widths[layer], chunk_size=batch_size,
                                       attrs=dict(attrs)) for layer in pending}
        done = {layer: set(w.done_chunks()) for layer, w in writers.items()}
        skip = frozenset(set.intersection(*done.values()))
        total = source.n_batches(batch_size) - len(skip)
        with _progress(total, progress, f"extracting {name}") as advance:
            for index, batch, rows_n in source.batches(batch_size, skip=skip):
                todo = [layer for layer in pending if index not in done[layer]]
                pooled = recorder.run(batch, rows_n, todo)
                for layer in todo:
                    _check_feature_count(layer, widths[layer], pooled[layer].shape[1])
                    writers[layer].write_chunk(index, pooled[layer])
                advance()
        for layer in pending:
            writers[layer].finalize()
    return {layer: store.read_lazy(name, layer) for layer in names}


def _check_stored(store, name, layer, n, attrs):
    stored = store.attrs(name, layer)
    rows = store.read_lazy(name, layer).shape[0]
    differences = [f"{key} {stored.get(key)!r} (now {attrs[key]!r})"
                   for key in ("pooling", "stimulus_set", "stimulus_ids")
                   if stored.get(key) != attrs[key]]
    if rows != n:
        differences.insert(0, f"{rows} stimuli (now {n})")
    if differences:
        shown = "; ".join(d if len(d) < 200 else d[:200] + "...)" for d in differences)
        raise ValueError(
            f"the store already holds a complete array for model {name!r}, layer "
            f"{layer!r} extracted differently: {shown}. Delete it with "
            f"store.delete({name!r}, {layer!r}) or choose another name"
        )
