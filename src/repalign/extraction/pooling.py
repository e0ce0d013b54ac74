"""From a layer's output to one row per stimulus: output selection and pooling.

A hooked layer can return a tensor, a tuple (``nn.MultiheadAttention``,
``nn.LSTM``) or a mapping (transformers' ``ModelOutput``, sentence-transformers'
feature dicts). :func:`select_tensor` picks the activation tensor out of it and
:func:`pool_output` reduces that tensor to a matrix of shape
``(n_stimuli, n_features)``.

Axis conventions
----------------
The first axis is always the batch (stimuli). After that:

* ``(N,)`` becomes ``(N, 1)`` and ``(N, D)`` is returned as it is, whatever ``pool``.
* ``(N, T, D)`` is a sequence of ``T`` tokens of ``D`` features (the batch-first layout of
  transformers). Pooling runs over the token axis ``T``. When the batch has an attention
  mask of shape ``(N, T)``, padding tokens are left out: ``"mean"`` averages the real
  tokens only, ``"max"`` ignores padding, ``"cls"`` takes the first real token and
  ``"last"`` the last real token (with right padding, position ``length - 1``).
  Layers whose token count differs from the mask's are pooled without it.
* ``(N, C, *spatial)`` with two or more spatial axes (``(N, C, H, W)`` for images,
  ``(N, C, D, H, W)`` for video) is channels-first: ``"mean"`` and ``"max"`` run over
  the spatial axes, giving ``(N, C)``; ``"cls"`` and ``"last"`` are undefined there.
* ``"flatten"`` keeps everything: ``(N, prod(rest))``.

Text
----
Tokenised text always comes with an attention mask, so the token poolings of a text
model's layers (and of a ViT's patches, which have no padding) are:

* ``"mean"`` (the default): the mean of the real tokens, as sentence-transformers' mean
  pooling computes it;
* ``"cls"``: the first real token, which BERT-style tokenizers make ``[CLS]``;
* ``"last"``: the last real token, whatever the padding side; for a decoder (GPT-2) it
  is the only position that has attended to the whole text.

Note that a 3-D output is always read as tokens: a ``Conv1d`` output ``(N, C, L)`` is
pooled over ``C``. Pass a callable ``pool`` for such layers.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping

import torch

__all__ = ["POOLINGS", "select_tensor", "check_pool", "pool_output", "pooling_name"]

#: The named pooling modes accepted by ``extract(pool=...)``.
POOLINGS = ("mean", "max", "flatten", "cls", "last")

#: Keys of mapping outputs preferred over the first floating-point tensor, in order.
PREFERRED_KEYS = ("last_hidden_state", "sentence_embedding", "token_embeddings")


def _first_floating(output):
    if isinstance(output, torch.Tensor):
        return output if output.is_floating_point() else None
    if isinstance(output, Mapping):
        values = list(output.values())
    elif isinstance(output, (tuple, list)):
        values = list(output)
    else:
        return None
    for value in values:
        found = _first_floating(value)
        if found is not None:
            return found
    return None


def select_tensor(output, layer: str) -> torch.Tensor:
    """Pick the activation tensor out of a layer's output.

    Parameters
    ----------
    output : tensor, array, tuple, list or mapping
        What the layer (or a callable model) returned.
    layer : str
        The layer name, for error messages.

    Returns
    -------
    tensor
        ``output`` itself if it is a tensor (NumPy arrays are converted); for a mapping,
        the value under ``last_hidden_state``, else ``sentence_embedding``, else
        ``token_embeddings``, else the first floating-point tensor among its values; for
        a tuple or list, the first floating-point tensor among its elements (searched
        depth-first, so ``(output, (h, c))`` gives ``output``).

    Raises
    ------
    TypeError
        If the output holds no floating-point tensor.
    """
    if isinstance(output, torch.Tensor):
        return output
    if hasattr(output, "__array__") and not isinstance(output, (Mapping, tuple, list)):
        return torch.as_tensor(output)
    if isinstance(output, Mapping):
        for key in PREFERRED_KEYS:
            value = output.get(key)
            if isinstance(value, torch.Tensor):
                return value
    found = _first_floating(output)
    if found is None:
        raise TypeError(
            f"layer {layer!r} returned {type(output).__name__} with no floating-point "
            "tensor in it; choose another layer"
        )
    return found


def pooling_name(pool) -> str:
    """The name under which ``pool`` is recorded in a store's attributes."""
    if isinstance(pool, str):
        return pool
    return getattr(pool, "__qualname__", None) or type(pool).__name__


def check_pool(pool):
    """Validate ``pool`` and return it (a name of :data:`POOLINGS` or a callable).

    Raises
    ------
    ValueError
        If ``pool`` is a string that is not a known mode.
    TypeError
        If ``pool`` is neither a string nor callable.
    """
    if isinstance(pool, str):
        if pool not in POOLINGS:
            raise ValueError(
                f"pool must be one of {list(POOLINGS)} or a callable; got {pool!r}"
            )
        return pool
    if callable(pool):
        return pool
    raise TypeError(
        f"pool must be one of {list(POOLINGS)} or a callable; got {type(pool).__name__}"
    )


def _accepts_mask(fn) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "attention_mask" in params or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()
    )


def _token_index(mask, first: bool):
    """Position of the first (or last) nonzero entry of each row of ``mask`` (N, T)."""
    present = mask.to(torch.bool)
    positions = torch.arange(mask.shape[1], device=mask.device)
    if first:
        return torch.where(present, positions, mask.shape[1]).amin(dim=1).clamp(
            max=mask.shape[1] - 1)
    return torch.where(present, positions, -1).amax(dim=1).clamp(min=0)


def _pool_tokens(x, pool: str, mask):
    n, t = x.shape[:2]
    if mask is not None and tuple(mask.shape) != (n, t):
        mask = None
    if pool == "mean":
        if mask is None:
            return x.mean(dim=1)
        weights = mask.to(device=x.device, dtype=x.dtype).unsqueeze(-1)
        return (x * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1)
    if pool == "max":
        if mask is None:
            return x.amax(dim=1)
        pad = ~mask.to(device=x.device, dtype=torch.bool).unsqueeze(-1)
        return x.masked_fill(pad, float("-inf")).amax(dim=1)
    rows = torch.arange(n, device=x.device)
    if mask is None:
        return x[:, 0] if pool == "cls" else x[:, -1]
    index = _token_index(mask.to(x.device), first=(pool == "cls"))
    return x[rows, index]


def pool_output(x: torch.Tensor, pool, mask, layer: str, n: int) -> torch.Tensor:
    """Reduce one layer's batch output to a float32 CPU matrix ``(n, n_features)``.

    Parameters
    ----------
    x : tensor of shape (n, ...)
        The selected output tensor (see :func:`select_tensor`).
    pool : str or callable
        A mode of :data:`POOLINGS` (axis conventions in the module docstring), or a
        callable ``pool(x)`` (or ``pool(x, attention_mask=mask)`` if it takes that
        keyword) returning a tensor whose first axis is the batch.
    mask : tensor of shape (n, T) or None
        The attention mask of the batch (1 = real token, 0 = padding).
    layer : str
        The layer name, for error messages.
    n : int
        The number of stimuli in the batch.

    Raises
    ------
    ValueError
        If the output's first axis is not the batch, or ``pool`` is ``"cls"`` or
        ``"last"`` on a spatial output.
    """
    if x.ndim == 0 or x.shape[0] != n:
        raise ValueError(
            f"layer {layer!r} returned shape {tuple(x.shape)}, but its first axis must be "
            f"the batch of {n} stimuli (for nn.Transformer* modules use batch_first=True)"
        )
    if not x.is_floating_point() or x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()
    if callable(pool):
        out = pool(x, attention_mask=mask) if _accepts_mask(pool) else pool(x)
        out = torch.as_tensor(out)
        if out.ndim == 0 or out.shape[0] != n:
            raise ValueError(
                f"pool returned shape {tuple(out.shape)} for layer {layer!r}; its first "
                f"axis must be the batch of {n} stimuli"
            )
        x = out
    elif pool == "flatten":
        x = x.reshape(n, -1)
    elif x.ndim == 3:
        x = _pool_tokens(x, pool, mask)
    elif x.ndim >= 4:
        if pool in ("cls", "last"):
            raise ValueError(
                f"pool={pool!r} needs token outputs of shape (N, T, D); layer {layer!r} "
                f"returned spatial shape {tuple(x.shape)}. Use 'mean', 'max' or 'flatten'"
            )
        axes = tuple(range(2, x.ndim))
        x = x.mean(dim=axes) if pool == "mean" else x.amax(dim=axes)
    x = x.reshape(n, -1)
    return x.detach().to(device="cpu", dtype=torch.float32)
