"""Stimuli in every accepted form, cut into batches.

A stimulus set is one of:

* a torch tensor or NumPy array, batched along axis 0;
* a mapping of such arrays of one length (``{"input_ids": ..., "attention_mask": ...}``),
  batched along axis 0 of each and passed to the model as keyword arguments;
* a list or tuple of strings (text, for models with a tokenizer or callables);
* a sequence with ``len`` and integer indexing (a ``torch.utils.data.Dataset``, a list of
  arrays): items are stacked into batches; an item that is a tuple or list stands for
  ``(input, target, ...)`` and only its first element is used;
* any other iterable of items (a generator): read once, in order. Its length is unknown
  in advance, so it cannot be streamed into a store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import torch

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


def collate(items: list):
    """Stack a list of stimulus items into one batch.

    Tensors and arrays are stacked along a new axis 0, strings give a list of strings,
    mappings are collated key by key, and a tuple or list item ``(input, target, ...)``
    contributes its first element.
    """
    first = items[0]
    if isinstance(first, (tuple, list)) and not isinstance(first, str):
        return collate([item[0] for item in items])
    if isinstance(first, str):
        if not all(isinstance(item, str) for item in items):
            raise TypeError("stimuli mix strings with other items; give one kind")
        return list(items)
    if isinstance(first, Mapping):
        return {key: collate([item[key] for item in items]) for key in first}
    tensors = [_to_tensor(item) for item in items]
    try:
        return torch.stack(tensors)
    except RuntimeError as err:
        shapes = sorted({tuple(t.shape) for t in tensors})
        raise ValueError(
            f"stimuli items must all have one shape to be batched; got shapes {shapes[:4]}"
        ) from err


class Stimuli:
    """A stimulus set: its length (or None) and its batches.

    Parameters
    ----------
    n : int or None
        The number of stimuli, None for an iterable of unknown length.
    """

    def __init__(self, n, get=None, iterable=None):
        self.n = n
        self._get = get  # get(start, stop) -> batch
        self._iterable = iterable

    def n_batches(self, batch_size: int):
        return None if self.n is None else -(-self.n // batch_size)

    def batch(self, index: int, batch_size: int):
        """Batch ``index`` of size ``batch_size`` (the last one may be shorter)."""
        start = index * batch_size
        return self._get(start, min(start + batch_size, self.n))

    def probe(self):
        """A batch holding the first stimulus only."""
        return self._get(0, 1)

    def batches(self, batch_size: int, skip=frozenset()):
        """Yield ``(index, batch, n_rows)``, leaving out the batch indices in ``skip``."""
        if self._get is not None:
            for index in range(self.n_batches(batch_size)):
                if index in skip:
                    continue
                batch = self.batch(index, batch_size)
                yield index, batch, _batch_len(batch)
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


def _batch_len(batch) -> int:
    if isinstance(batch, Mapping):
        return len(next(iter(batch.values())))
    return len(batch)


def _check_length(n: int):
    if n == 0:
        raise ValueError("stimuli is empty; give at least one stimulus")


def as_stimuli(stimuli) -> Stimuli:
    """Wrap any accepted stimulus form (see the module docstring) as :class:`Stimuli`.

    Raises
    ------
    TypeError
        If ``stimuli`` is a single string, a DataLoader or of an unsupported type.
    ValueError
        If ``stimuli`` is empty, is a 0-d array, or a mapping of arrays of unequal lengths.
    """
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
            return as_stimuli([str(s) for s in stimuli])
        _check_length(len(stimuli))
        return Stimuli(len(stimuli), get=lambda i, j: _to_tensor(stimuli[i:j]))
    if isinstance(stimuli, Mapping):
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
    if type(stimuli).__name__ == "DataLoader" and hasattr(stimuli, "dataset"):
        raise TypeError(
            "stimuli is a DataLoader, which yields batches; pass its dataset "
            "(loader.dataset) and set batch_size in extract instead"
        )
    if isinstance(stimuli, (list, tuple)) and _is_text(stimuli):
        return Stimuli(len(stimuli), get=lambda i, j: list(stimuli[i:j]))
    if hasattr(stimuli, "__len__") and hasattr(stimuli, "__getitem__"):
        _check_length(len(stimuli))
        return Stimuli(len(stimuli), get=lambda i, j: collate([stimuli[k] for k in range(i, j)]))
    if isinstance(stimuli, Iterable):
        return Stimuli(None, iterable=stimuli)
    raise TypeError(
        "stimuli must be a tensor, an array, a mapping of arrays, a list of strings, a "
        f"Dataset or an iterable of items; got {type(stimuli).__name__}"
    )
