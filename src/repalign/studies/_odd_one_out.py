"""Odd-one-out choices predicted by an embedding, and their accuracy with a grouped interval.

Shared by the studies scored on the THINGS triplets (``triplets``, ``fewshot``,
``llm_triplets``): a trial shows three items ``(a, b, c)``; an embedding
predicts as the odd one out the item left out of its most similar pair, as
:func:`repalign.triplet_accuracy` does. Trials of the same three items (shown in
varying order) form a group, the unit of resampling: the THINGS data repeat
some triplets across participants, and their trials are not independent.
"""

from __future__ import annotations

import numpy as np

__all__ = ["odd_one_out", "trial_hits", "triplet_groups", "grouped_accuracy"]


def odd_one_out(embedding, triplets):
    """The odd one out of each triplet under ``embedding``'s dot-product similarity.

    The odd one out of ``(a, b, c)`` is the item left out of the most similar
    pair, position ``argmax(s(b, c), s(a, c), s(a, b))`` with ``s`` the dot
    product (ties to the lowest position), as in :func:`repalign.triplet_accuracy`.

    Parameters
    ----------
    embedding : ndarray of shape (n_items, n_features)
    triplets : ndarray of int, shape (m, 3)

    Returns
    -------
    ndarray of int, shape (m,)
        Position (0, 1 or 2) of the odd one out in each row of ``triplets``.
    """
    E = np.asarray(embedding, dtype=float)
    items, position = np.unique(triplets, return_inverse=True)
    position = position.reshape(np.shape(triplets))
    gram = E[items] @ E[items].T  # one BLAS product instead of a gather per trial
    a, b, c = position.T
    return np.stack([gram[b, c], gram[a, c], gram[a, b]], axis=1).argmax(axis=1)


def trial_hits(embedding, triplets, choices, similarity: str = "dot"):
    """Whether each odd-one-out trial's human choice is predicted by ``embedding``.

    The predicted odd one out is :func:`odd_one_out`'s under the dot product,
    or under the cosine (the rows scaled to unit norm first); the mean of these
    hits is :func:`repalign.triplet_accuracy` with the same ``similarity``.

    Parameters
    ----------
    embedding : ndarray of shape (n_items, n_features)
    triplets : ndarray of int, shape (m, 3)
    choices : ndarray of int, shape (m,)
    similarity : {"dot", "cosine"}, default="dot"

    Returns
    -------
    ndarray of bool, shape (m,)

    Raises
    ------
    ValueError
        For an unknown ``similarity``, or an all-zero row under the cosine.
    """
    if similarity not in ("cosine", "dot"):
        raise ValueError(f"similarity must be 'cosine' or 'dot'; got {similarity!r}")
    E = np.asarray(embedding, dtype=float)
    if similarity == "cosine":
        norms = np.linalg.norm(E, axis=1, keepdims=True)
        if not np.all(norms > 0):
            raise ValueError("embedding has all-zero rows, for which the cosine is undefined")
        E = E / norms
    return odd_one_out(E, triplets) == np.asarray(choices)


def triplet_groups(triplets):
    """Group id of each trial: trials of one item set share it (ids in the order of the
    sorted item sets)."""
    _, group = np.unique(np.sort(triplets, axis=1), axis=0, return_inverse=True)
    return group.reshape(-1)


def grouped_accuracy(hits, group, draws, level: float = 0.95):
    """Trial-weighted accuracy and its percentile interval from resampled groups.

    With ``h_g`` the hits and ``n_g`` the trials of group ``g``, the accuracy is
    ``sum_g h_g / sum_g n_g`` (the mean of ``hits``), and each bootstrap
    replicate draws groups with replacement and pools their trials (a cluster
    bootstrap of the ratio estimator; Davison & Hinkley 1997, section 3.8).

    Parameters
    ----------
    hits : ndarray of bool, shape (m,)
        Per trial (:func:`trial_hits`).
    group : ndarray of int, shape (m,)
        Per trial (:func:`triplet_groups`).
    draws : ndarray of int, shape (n_bootstrap, n_groups)
        The groups drawn in each replicate; shared across embeddings so that
        their intervals come from the same resamples.
    level : float, default=0.95

    Returns
    -------
    accuracy, low, high : float
    """
    n_groups = draws.shape[1]
    group_hits = np.bincount(group, weights=hits, minlength=n_groups)
    group_trials = np.bincount(group, minlength=n_groups)
    boot = group_hits[draws].sum(axis=1) / group_trials[draws].sum(axis=1)
    low, high = np.quantile(boot, [(1 - level) / 2, (1 + level) / 2])
    return float(np.mean(hits)), float(low), float(high)
