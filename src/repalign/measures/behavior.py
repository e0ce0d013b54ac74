"""Behaviour: how well a representation predicts human odd-one-out choices.

In a triplet odd-one-out task a person sees three items and picks the one
least like the other two. A representation predicts the choice as the item
left out of its most similar pair (Hebart et al. 2020). Its accuracy is bounded
above by the consistency of the people themselves, the noise ceiling, read
off triplets shown many times.
"""

from __future__ import annotations

import numpy as np

from .._array_api import namespace_and_device, to_numpy
from .._validation import Options, as_array, check_representation

__all__ = ["triplet_accuracy", "triplet_noise_ceiling", "check_trials"]


def check_trials(triplets, choices, n_items=None):
    """Validated (m, 3) item indices and (m,) odd-one-out positions, as NumPy int64."""
    T = np.asarray(to_numpy(as_array(triplets, "triplets")))
    c = np.asarray(to_numpy(as_array(choices, "choices")))
    if T.ndim != 2 or T.shape[1] != 3:
        raise ValueError(
            f"triplets must be an (m, 3) array of item indices; got shape {T.shape}"
        )
    if c.shape != (T.shape[0],):
        raise ValueError(
            f"choices must be an (m,) array with one entry per triplet (m={T.shape[0]}); "
            f"got shape {c.shape}"
        )
    if T.shape[0] == 0:
        raise ValueError("triplets is empty; at least one trial is needed")
    for name, arr in (("triplets", T), ("choices", c)):
        if not np.all(np.equal(np.mod(arr, 1), 0)):
            raise TypeError(f"{name} must hold integers; got dtype {arr.dtype} with fractions")
    T, c = T.astype(np.int64), c.astype(np.int64)
    bad = np.flatnonzero((c < 0) | (c > 2))
    if bad.size:
        raise ValueError(
            f"choices must be 0, 1 or 2 (the position of the odd one out); row {bad[0]} "
            f"holds {c[bad[0]]}. (Data with 1-based choices: pass choices - 1.)"
        )
    low, high = int(T.min()), int(T.max())
    if low < 0 or (n_items is not None and high >= n_items):
        rows = f"the {n_items} rows of embedding" if n_items is not None else "items"
        raise ValueError(
            f"triplets must be 0-based indices into {rows}; got values from {low} to {high}"
        )
    dup = np.flatnonzero((T[:, 0] == T[:, 1]) | (T[:, 0] == T[:, 2]) | (T[:, 1] == T[:, 2]))
    if dup.size:
        raise ValueError(
            f"each triplet must hold three different items; row {dup[0]} is {T[dup[0]].tolist()}"
        )
    return T, c


def triplet_accuracy(embedding, triplets, choices, similarity: str = "dot") -> float:
    """The fraction of human odd-one-out choices a representation predicts.

    For a triplet ``(a, b, c)`` the predicted odd one out is the item left out
    of the most similar pair: position 0 if ``s(b, c)`` is the largest of
    ``s(b, c), s(a, c), s(a, b)``, position 1 if ``s(a, c)`` is, position 2 if
    ``s(a, b)`` is.

    Parameters
    ----------
    embedding : array of shape (n_items, n_features)
        One row per item (NumPy or any array-API array, e.g. a torch tensor).
    triplets : array of int, shape (m, 3)
        0-based item indices (rows of ``embedding``), three different items per row.
    choices : array of int, shape (m,)
        Position (0, 1 or 2) in each row of ``triplets`` of the item people chose
        as the odd one out.
    similarity : {"dot", "cosine"}, default="dot"
        ``s(i, j) = e_i . e_j`` (the SPoSE model's similarity) or the cosine.

    Returns
    -------
    float
        Accuracy in [0, 1]; chance is 1/3.

    Notes
    -----
    Exact ties between pair similarities (e.g. sparse embeddings with all three
    similarities 0) are resolved towards the lowest position, as ``argmax`` does;
    this follows the evaluation code of SPoSE and VICE.

    References
    ----------
    Hebart, Zheng, Pereira & Baker (2020). Revealing the multidimensional mental
    representations of natural objects underlying human similarity judgements.
    Nature Human Behaviour 4:1173-1185.

    Examples
    --------
    >>> import numpy as np, repalign
    >>> E = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    >>> repalign.triplet_accuracy(E, [[0, 1, 2]], [2])   # item 2 is the odd one out
    1.0
    """
    Options("dot", "cosine").check("triplet_accuracy", "similarity", similarity)
    E = check_representation(embedding, "embedding", min_stimuli=3)
    T, c = check_trials(triplets, choices, n_items=E.shape[0])
    xp, device = namespace_and_device(E)
    if similarity == "cosine":
        norms = xp.sqrt(xp.sum(E * E, axis=1))
        if not bool(xp.all(norms > 0)):
            raise ValueError("embedding has all-zero rows, for which the cosine is undefined")
        E = E / norms[:, None]
    rows = [xp.take(E, xp.asarray(T[:, k], device=device), axis=0) for k in range(3)]
    # Similarity of the pair that leaves out position 0, 1, 2.
    pair_sims = xp.stack([xp.sum(rows[1] * rows[2], axis=1),
                          xp.sum(rows[0] * rows[2], axis=1),
                          xp.sum(rows[0] * rows[1], axis=1)], axis=1)
    predicted = xp.argmax(pair_sims, axis=1)
    hits = predicted == xp.asarray(c, device=device)
    return float(xp.mean(xp.astype(hits, E.dtype)))


def triplet_noise_ceiling(triplets, choices, min_repeats: int = 2) -> float:
    """The human noise ceiling of odd-one-out accuracy, from repeated triplets.

    Trials are grouped by their set of three items (the order of presentation
    varies); for each group, the ceiling is the fraction of responses that agree
    with the group's most frequent odd one out, the best any deterministic model
    can score on it. The result is the mean over groups.

    Parameters
    ----------
    triplets : array of int, shape (m, 3)
        0-based item indices of each trial.
    choices : array of int, shape (m,)
        Position (0, 1 or 2) of the odd one out in each row.
    min_repeats : int, default=2
        Groups with fewer responses are left out (a single response agrees with
        itself and would inflate the ceiling).

    Returns
    -------
    float

    References
    ----------
    Hebart, Zheng, Pereira & Baker (2020). Nature Human Behaviour 4:1173-1185
    (the 67.22% ceiling of the THINGS triplets).

    Examples
    --------
    >>> import repalign
    >>> T = [[0, 1, 2], [2, 0, 1], [1, 2, 0], [0, 1, 3]]
    >>> C = [2, 0, 2]   # item 2, item 2, item 0
    >>> repalign.triplet_noise_ceiling(T[:3], C)   # 2 of 3 agree
    0.6666666666666666
    """
    if isinstance(min_repeats, bool) or not isinstance(min_repeats, int) or min_repeats < 1:
        raise ValueError(f"min_repeats must be a positive integer; got {min_repeats!r}")
    T, c = check_trials(triplets, choices)
    odd = T[np.arange(T.shape[0]), c]
    keys = np.sort(T, axis=1)
    # One group per distinct item set; within it, count each chosen odd item.
    groups, group_of = np.unique(keys, axis=0, return_inverse=True)
    group_of = group_of.reshape(-1)
    slot = (keys == odd[:, None]).argmax(axis=1)  # which of the sorted three was chosen
    counts = np.zeros((groups.shape[0], 3), dtype=np.int64)
    np.add.at(counts, (group_of, slot), 1)
    totals = counts.sum(axis=1)
    keep = totals >= min_repeats
    if not keep.any():
        raise ValueError(
            f"no triplet was shown at least min_repeats={min_repeats} times; the noise "
            "ceiling needs repeated triplets"
        )
    return float(np.mean(counts[keep].max(axis=1) / totals[keep]))

