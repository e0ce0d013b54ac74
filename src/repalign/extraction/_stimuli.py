"""Stimuli in every accepted form, cut into batches, in order.

A stimulus set is one of:

* a torch tensor or NumPy array, batched along axis 0;
* a mapping of such arrays of one length (``{"input_ids": ..., "attention_mask": ...}``),
  batched along axis 0 of each and passed to the model as keyword arguments;
* a list or tuple of strings (text, for models with a tokenizer or callables);
* a sequence with ``len`` and integer indexing (a map-style ``torch.utils.data.Dataset``,
  a list of arrays or of PIL images): items are stacked into batches; an item that is a
  tuple or list stands for ``(input, target, ...)`` and only its first element is used;
  PIL images stay a list of images, for the model's image preprocessing (or ``transform``);
* a ``torch.utils.data.DataLoader`` that reads its dataset in order (no shuffling, no
  ``drop_last``): its batches, as its ``collate_fn`` makes them (loading workers
  included), are cut again into ``extract``'s ``batch_size``. A batch may be a tensor, a
  mapping, a list of strings or PIL images, or a list/tuple of fields ``(inputs,
  targets, ...)`` as torch's default collation makes from ``(input, target)`` items, of
  which the first is used. Its length is that of its dataset (unknown for an
  ``IterableDataset`` without ``__len__``);
* any other iterable of items (a generator): read once, in order. Its length is unknown
  in advance, so it cannot be streamed into a store.

``transform`` (a callable) is applied to each stimulus as given (a row of an array, an
item's input, a PIL image, a string) before batching; the results are stacked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import torch

from ._images import is_pil_image

__all__ = ["as_stimuli", "Stimuli", "collate"]


def _is_text(items) -> bool:
    return len(items) > 0 and all(isinstance(s, str) for s in items)


def _to_tensor(x):
    if isinstance(x, torch.Tensor):
        return x
    arr = np.asarray(x)
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(
            f"stimuli must hold numbers, strings or tensors; got items with dtype {arr.dtype}"
        )
    return torch.from_numpy(np.ascontiguousarray(arr))


def _input_of(item):
    """The input of a dataset item: the first element of an ``(input, target)`` pair."""
    if isinstance(item, (tuple, list)) and not isinstance(item, str) and len(item) > 0:
        return item[0]
    return item


def collate(items: list):
    """Stack a list of stimulus items into one batch.

    Tensors and arrays are stacked along a new axis 0, strings give a list of strings,
    PIL images a list of images, mappings are collated key by key, and a tuple or list
    item ``(input, target, ...)`` contributes its first element.
    """
    first = items[0]
    if isinstance(first, (tuple, list)) and not isinstance(first, str):
        return collate([_input_of(item) for item in items])
    if isinstance(first, str) or is_pil_image(first):
        kind = str if isinstance(first, str) else None
        same = (lambda x: isinstance(x, str)) if kind else is_pil_image
        if not all(same(item) for item in items):
            what = "strings" if kind else "PIL images"
            raise TypeError(f"stimuli mix {what} with other items; give one kind")
        return list(items)
    if isinstance(first, Mapping):
        return {key: collate([item[key] for item in items]) for key in first}
    tensors = [_to_tensor(item) for item in items]
    try:
        return torch.stack(tensors)
    except RuntimeError as err:
        shapes = sorted({tuple(t.shape) for t in tensors})
        raise ValueError(
            f"stimuli items must all have one shape to be batched; got shapes {shapes[:4]} "
            "(images of different sizes need transform= or a model with image "
            "preprocessing; give them as PIL images)"
        ) from err


# --- batches as pieces: length, slices, concatenation ----------------------------------


def _batch_len(batch) -> int:
    if isinstance(batch, Mapping):
        return len(next(iter(batch.values())))
    return len(batch)


def _slice(batch, i, j):
    if isinstance(batch, Mapping):
        return {key: _slice(value, i, j) for key, value in batch.items()}
    return batch[i:j]


def _concat(pieces: list):
    if len(pieces) == 1:
        return pieces[0]
    first = pieces[0]
    if isinstance(first, Mapping):
        return {key: _concat([piece[key] for piece in pieces]) for key in first}
    if isinstance(first, torch.Tensor):
        return torch.cat(pieces)
    return [item for piece in pieces for item in piece]


def _rebatch(pieces, batch_size: int):
    """Cut a stream of batch pieces into batches of ``batch_size`` (the last may be shorter)."""
    buffer, count = [], 0
    for piece in pieces:
        start, length = 0, _batch_len(piece)
        while start < length:
            take = min(batch_size - count, length - start)
            buffer.append(_slice(piece, start, start + take))
            count, start = count + take, start + take
            if count == batch_size:
                yield _concat(buffer)
                buffer, count = [], 0
    if buffer:
        yield _concat(buffer)


def _items_of(batch) -> list:
    """The single stimuli of a batch (rows of a tensor, elements of a list)."""
    if isinstance(batch, Mapping):
        raise ValueError(
            "transform= applies to single stimuli (an image, a text); this DataLoader "
            "yields mappings of model inputs: apply the transform in its dataset instead"
        )
    return list(batch.unbind(0)) if isinstance(batch, torch.Tensor) else list(batch)


# --- DataLoader -------------------------------------------------------------------------


def _check_loader(loader):
    from torch.utils.data import IterableDataset, SequentialSampler

    if getattr(loader, "drop_last", False):
        raise ValueError(
            "stimuli: the DataLoader has drop_last=True, which leaves out the stimuli of "
            "its last, short batch; use drop_last=False"
        )
    if isinstance(loader.dataset, IterableDataset):
        return
    sampler = loader.sampler
    if loader.batch_sampler is not None:
        sampler = getattr(loader.batch_sampler, "sampler", None)
    if not isinstance(sampler, SequentialSampler):
        raise ValueError(
            f"stimuli: the DataLoader's sampler ({type(sampler).__name__}) does not read the "
            "dataset in order, so rows could not be matched to stimuli; use shuffle=False "
            "and no sampler (or pass the dataset itself)"
        )


def _loader_inputs(batch, expected):
    """The model inputs of one DataLoader batch (see the module docstring)."""
    if isinstance(batch, np.ndarray):
        batch = _to_tensor(batch)
    if isinstance(batch, (tuple, list)) and not _is_text(batch) \
            and not (batch and all(is_pil_image(x) for x in batch)):
        if not batch:
            raise ValueError("stimuli: the DataLoader yielded an empty batch")
        batch = batch[0]  # (inputs, targets, ...)
        if isinstance(batch, np.ndarray):
            batch = _to_tensor(batch)
        elif isinstance(batch, tuple):
            batch = list(batch)
    if not isinstance(batch, (torch.Tensor, Mapping, list)):
        raise TypeError(
            f"stimuli: the DataLoader yielded a batch of type {type(batch).__name__}; a "
            "batch must be a tensor, a mapping of tensors, a list of strings or PIL images, "
            "or a list/tuple (inputs, targets, ...)"
        )
    if isinstance(batch, torch.Tensor) and batch.ndim == 0:
        raise ValueError("stimuli: the DataLoader yielded a 0-d tensor as a batch")
    got = _batch_len(batch)
    if expected is not None and got != expected:
        raise ValueError(
            f"stimuli: a DataLoader batch holds {got} inputs where {expected} stimuli were "
            "expected; its collate_fn must return a batch (a tensor, a mapping, a list of "
            "strings or images) or (inputs, targets, ...) as torch's default collation does"
        )
    return batch


def _loader_source(loader, transform):
    _check_loader(loader)
    try:
        n = len(loader.dataset)
    except TypeError:
        n = None
    size = loader.batch_size

    def pieces():
        seen = 0
        for batch in loader:
            expected = None if (size is None or n is None) else min(size, n - seen)
            inputs = _loader_inputs(batch, expected)
            seen += _batch_len(inputs)
            if transform is not None:
                inputs = collate([transform(item) for item in _items_of(inputs)])
            yield inputs

    if n is not None:
        _check_length(n)
    return Stimuli(n, pieces=pieces)


# --- the stimulus set -------------------------------------------------------------------


class Stimuli:
    """A stimulus set: its length (or None) and its batches.

    Parameters
    ----------
    n : int or None
        The number of stimuli, None for an iterable of unknown length.
    get : callable, optional
        ``get(start, stop)`` -> the batch of stimuli ``start:stop`` (random access).
    pieces : callable, optional
        ``pieces()`` -> a new iterator of consecutive batch pieces (a DataLoader).
    iterable : iterable, optional
        Items, read once.
    """

    def __init__(self, n, get=None, iterable=None, pieces=None):
        self.n = n
        self._get = get
        self._pieces = pieces
        self._iterable = iterable

    def n_batches(self, batch_size: int):
        return None if self.n is None else -(-self.n // batch_size)

    def batch(self, index: int, batch_size: int):
        """Batch ``index`` of size ``batch_size`` (the last one may be shorter)."""
        start = index * batch_size
        return self._get(start, min(start + batch_size, self.n))

    def probe(self):
        """A batch holding the first stimulus only."""
        if self._get is not None:
            return self._get(0, 1)
        for batch in _rebatch(self._pieces(), 1):
            return batch
        raise ValueError("stimuli is empty; give at least one stimulus")

    def batches(self, batch_size: int, skip=frozenset()):
        """Yield ``(index, batch, n_rows)``, leaving out the batch indices in ``skip``."""
        if self._get is not None:
            for index in range(self.n_batches(batch_size)):
                if index in skip:
                    continue
                batch = self.batch(index, batch_size)
                yield index, batch, _batch_len(batch)
            return
        if self._pieces is not None:
            index = -1
            for index, batch in enumerate(_rebatch(self._pieces(), batch_size)):
                if index not in skip:
                    yield index, batch, _batch_len(batch)
            if index < 0:
                raise ValueError("stimuli is empty; give at least one stimulus")
            return
        buffer, index = [], 0
        for item in self._iterable:
            buffer.append(item)
            if len(buffer) == batch_size:
                yield index, collate(buffer), len(buffer)
                buffer, index = [], index + 1
        if buffer:
            yield index, collate(buffer), len(buffer)
        elif index == 0:
            raise ValueError("stimuli is empty; give at least one stimulus")


def _check_length(n: int):
    if n == 0:
        raise ValueError("stimuli is empty; give at least one stimulus")


def _is_loader(x) -> bool:
    from torch.utils.data import DataLoader

    return isinstance(x, DataLoader)


def as_stimuli(stimuli, transform=None) -> Stimuli:
    """Wrap any accepted stimulus form (see the module docstring) as :class:`Stimuli`.

    Parameters
    ----------
    stimuli
    transform : callable, optional
        Applied to each stimulus before batching.

    Raises
    ------
    TypeError
        If ``stimuli`` is a single string or of an unsupported type, or ``transform`` is
        not callable.
    ValueError
        If ``stimuli`` is empty, is a 0-d array, a mapping of arrays of unequal lengths,
        a DataLoader that shuffles or drops its last batch, or a mapping given with
        ``transform``.
    """
    if transform is not None and not callable(transform):
        raise TypeError(
            f"transform must be a callable applied to each stimulus (a torchvision or timm "
            f"transform); got {type(transform).__name__}"
        )
    if isinstance(stimuli, (str, bytes)):
        raise TypeError(
            "stimuli is a single string; pass a list of strings, one per stimulus"
        )
    if isinstance(stimuli, np.generic):
        stimuli = np.asarray(stimuli)
    if isinstance(stimuli, torch.Tensor) or isinstance(stimuli, np.ndarray):
        if stimuli.ndim == 0:
            raise ValueError("stimuli must be batched along axis 0; got a 0-d array")
        if isinstance(stimuli, np.ndarray) and stimuli.dtype.kind in "US":
            return as_stimuli([str(s) for s in stimuli], transform)
        _check_length(len(stimuli))
        if transform is not None:
            return Stimuli(len(stimuli), get=lambda i, j: collate(
                [transform(stimuli[k]) for k in range(i, j)]))
        return Stimuli(len(stimuli), get=lambda i, j: _to_tensor(stimuli[i:j]))
    if isinstance(stimuli, Mapping):
        if transform is not None:
            raise ValueError(
                "transform= applies to single stimuli (an image, a text), but stimuli is a "
                "mapping of model inputs; preprocess them yourself or drop transform="
            )
        if not stimuli:
            raise ValueError("stimuli is an empty mapping; give at least one array")
        lengths = {key: len(value) for key, value in stimuli.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(
                f"stimuli arrays must have one length along axis 0; got {lengths}"
            )
        n = next(iter(lengths.values()))
        _check_length(n)
        return Stimuli(
            n, get=lambda i, j: {key: _to_tensor(value[i:j]) for key, value in stimuli.items()}
        )
    if _is_loader(stimuli):
        return _loader_source(stimuli, transform)
    if isinstance(stimuli, (list, tuple)) and _is_text(stimuli) and transform is None:
        return Stimuli(len(stimuli), get=lambda i, j: list(stimuli[i:j]))
    if hasattr(stimuli, "__len__") and hasattr(stimuli, "__getitem__"):
        _check_length(len(stimuli))
        if transform is not None:
            return Stimuli(len(stimuli), get=lambda i, j: collate(
                [transform(_input_of(stimuli[k])) for k in range(i, j)]))
        return Stimuli(len(stimuli), get=lambda i, j: collate([stimuli[k] for k in range(i, j)]))
    if isinstance(stimuli, Iterable):
        if transform is not None:
            return Stimuli(None, iterable=(transform(_input_of(item)) for item in stimuli))
        return Stimuli(None, iterable=stimuli)
    raise TypeError(
        "stimuli must be a tensor, an array, a mapping of arrays, a list of strings, a "
        f"Dataset, a DataLoader or an iterable of items; got {type(stimuli).__name__}"
    )
