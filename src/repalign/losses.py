"""Differentiable alignment losses (torch): train a representation towards another one,
layer by layer towards a guide network, or towards human odd-one-out choices.

Each loss is an :class:`torch.nn.Module` built on the measures' gradients
(measures whose ``capabilities.differentiable`` is True; see
:class:`~repalign.measures.Capabilities`). This module imports torch; ``import
repalign`` does not load it.

Minibatches
-----------
A measure computed on a minibatch of ``b`` of the ``n`` stimuli is an
estimate of its value on all ``n``, and for most measures a biased one: the
mean of the batch values over the batches is not the full-data value.

- The unbiased HSIC of Song et al. (2012) (``CKA.hsic`` with
  ``estimator="unbiased"``) is a U-statistic of order 4. Its mean over all
  subsets of ``b >= 4`` stimuli equals its full-data value exactly, so a
  uniformly drawn batch gives an unbiased estimate of the full-data HSIC, and a
  loss summed over batches has the full-data HSIC as its expectation (tested:
  the mean over all 126 batches of 5 of 9 stimuli equals the full value to
  1e-15 relative).
- The biased HSIC (Gretton et al. 2005) is not: at ``b = 5`` of ``n = 9``
  the batch mean was 61% above the full value (the bias is O(1/b)).
- CKA is a ratio of HSICs, so even with the unbiased estimator a batch value
  of CKA is biased (O(1/b)); the same holds for every normalised measure (RSA,
  CCA, shape metrics, distance correlation). To estimate the full-data CKA
  from batches, average the three unbiased HSICs over batches first and then
  take the ratio (:func:`repalign.minibatch_cka`, Nguyen et al. 2021).
  Training on the mean of batch CKAs optimises a slightly different objective,
  whose optimum is still a perfect alignment (CKA = 1 on every batch).
- Predictivity measures fit their maps within the batch: a batch value is the
  cross-validated score of a model fitted on ``b`` stimuli, not ``n``.

A loss is computed on the stimuli of a batch in the same order in both
representations; rows must correspond.

References
----------
Song, Smola, Gretton, Bedo & Borgwardt (2012). Feature selection via dependence
maximization. JMLR 13, 1393-1434.

Nguyen, Raghu & Kornblith (2021). Do wide and deep networks learn the same
things? ICLR.

Subramaniam, Mayo, Katz, Cheung & Barbu (2025). Training the untrainable:
introducing inductive bias via representational alignment.

Muttenthaler, Linhardt, Dippel, Vandermeulen, Hermann, Lampinen & Kornblith
(2023). Improving neural network representations using human similarity
judgments. NeurIPS.

Hebart, Zheng, Pereira & Baker (2020). Revealing the multidimensional mental
representations of natural objects underlying human similarity judgements.
Nature Human Behaviour 4, 1173-1185.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from ._validation import Options
from .measures import Measure, get
from .measures.behavior import check_trials

__all__ = ["AlignmentLoss", "LayerwiseAlignmentLoss", "OddOneOutLoss",
           "local_structure_loss", "glocal_penalty"]

_REDUCTION = Options("mean", "sum", "none")


def _reduce(losses, reduction: str):
    if reduction == "mean":
        return torch.mean(losses)
    if reduction == "sum":
        return torch.sum(losses)
    return losses


class AlignmentLoss(nn.Module):
    """A measure as a loss: ``1 - s(X, Y)`` for a similarity, ``d(X, Y)`` for a distance.

    Parameters
    ----------
    measure : str or Measure, default="cka"
        A registered measure name (configured by ``**params``) or a configured
        measure; it must declare ``capabilities.differentiable``.
    reduction : {"mean", "sum", "none"}, default="mean"
        How the losses of several pairs (see :meth:`forward`) are combined;
        ``"none"`` returns one loss per pair.
    **params
        The measure's parameters, e.g. ``kernel="rbf"``, ``estimator="unbiased"``.

    Notes
    -----
    .. math::

        \\mathcal{L}(X, Y) = \\begin{cases} 1 - s(X, Y) & \\text{similarity} \\\\
            d(X, Y) & \\text{distance} \\end{cases}

    Inputs of shape ``(n, *features)`` (e.g. convolutional maps) are flattened
    to ``(n, prod(features))``. On a minibatch the value estimates the
    full-data one with a bias that depends on the measure (see the module
    docstring, *Minibatches*).

    References
    ----------
    Kornblith, Norouzi, Lee & Hinton (2019). Similarity of neural network
    representations revisited. ICML.

    Examples
    --------
    >>> import torch
    >>> from repalign.losses import AlignmentLoss
    >>> X = torch.randn(32, 10, dtype=torch.float64, requires_grad=True)
    >>> loss = AlignmentLoss("cka", kernel="rbf")(X, 2 * X)
    >>> round(float(loss.detach()), 12)
    0.0
    """

    def __init__(self, measure: str | Measure = "cka", *, reduction: str = "mean", **params):
        super().__init__()
        if isinstance(measure, Measure):
            if params:
                raise TypeError(f"AlignmentLoss: measure is an already configured "
                                f"{measure.name}; got extra parameters {sorted(params)} "
                                "(pass a name to configure it here)")
        elif isinstance(measure, str):
            measure = get(measure, **params)
        else:
            raise TypeError("AlignmentLoss: measure must be a measure name or a Measure; "
                            f"got {type(measure).__name__}")
        if not measure.capabilities.differentiable:
            raise ValueError(f"AlignmentLoss: {measure.name} takes no gradient: "
                             f"{measure.capabilities.gradient_refusal}")
        _REDUCTION.check("AlignmentLoss", "reduction", reduction)
        self.measure = measure
        self.reduction = reduction

    def extra_repr(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.measure.params.items())
        return f"{self.measure.name}({params}), reduction={self.reduction!r}"

    def pair_loss(self, X, Y):
        """The loss of one pair of representations of the same stimuli (a 0-d tensor)."""
        X, Y = (A.reshape(A.shape[0], -1) if A.ndim > 2 else A for A in (X, Y))
        value = self.measure(X, Y)
        if not isinstance(value, torch.Tensor):  # neither input tracks a gradient
            value = torch.tensor(value, dtype=X.dtype, device=X.device)
        return 1 - value if self.measure.kind == "similarity" else value

    def forward(self, X, Y):
        """The loss of ``(X, Y)``, or the reduced losses of paired sequences of them.

        Parameters
        ----------
        X, Y : tensor of shape (n_stimuli, *features), or sequences of such tensors
            Two representations of the same stimuli (rows in the same order),
            or two equally long sequences of them (e.g. one per head or layer).

        Returns
        -------
        tensor
            0-d (or, for sequences and ``reduction="none"``, one loss per pair).
        """
        if isinstance(X, torch.Tensor) and isinstance(Y, torch.Tensor):
            return self.pair_loss(X, Y)
        if isinstance(X, torch.Tensor) or isinstance(Y, torch.Tensor):
            raise TypeError("AlignmentLoss: X and Y must both be tensors or both sequences "
                            f"of tensors; got {type(X).__name__} and {type(Y).__name__}")
        if len(X) != len(Y) or not X:
            raise ValueError("AlignmentLoss: X and Y must be sequences of the same, non-zero "
                             f"length (one pair per entry); got {len(X)} and {len(Y)}")
        return _reduce(torch.stack([self.pair_loss(x, y) for x, y in zip(X, Y)]),
                       self.reduction)


class LayerwiseAlignmentLoss(nn.Module):
    """Guidance: a weighted sum of alignment losses over (target, guide) layer pairs.

    .. math::

        \\mathcal{L} = \\sum_l w_l \\, \\mathcal{L}_{\\mathrm{align}}\\big(
            T_{t_l}, G_{g_l}\\big)

    with ``T`` the target network's activations, ``G`` the (frozen) guide's and
    :class:`AlignmentLoss` per pair, as in guidance training (Subramaniam et
    al. 2025), where it is added to the target's task loss.

    Parameters
    ----------
    pairs : sequence of (target_layer, guide_layer)
        Keys of the activation mappings given to :meth:`forward`.
    measure : str or Measure, default="cka"
        As for :class:`AlignmentLoss` (the paper uses linear CKA).
    weights : sequence of float, optional
        One non-negative weight per pair; default 1 each.
    reduction : {"sum", "mean", "none"}, default="sum"
        ``"sum"`` is the formula above; ``"mean"`` divides it by ``sum(w)``;
        ``"none"`` returns the weighted loss of each pair.
    detach_guide : bool, default=True
        Take no gradient into the guide's activations (a frozen guide).
    **params
        The measure's parameters.

    References
    ----------
    Subramaniam, Mayo, Katz, Cheung & Barbu (2025). Training the untrainable:
    introducing inductive bias via representational alignment.
    """

    def __init__(self, pairs, measure: str | Measure = "cka", *, weights=None,
                 reduction: str = "sum", detach_guide: bool = True, **params):
        super().__init__()
        pairs = [tuple(p) for p in pairs]
        if not pairs or any(len(p) != 2 for p in pairs):
            raise ValueError("LayerwiseAlignmentLoss: pairs must be a non-empty sequence of "
                             f"(target_layer, guide_layer); got {pairs}")
        weights = [1.0] * len(pairs) if weights is None else [float(w) for w in weights]
        if len(weights) != len(pairs):
            raise ValueError(f"LayerwiseAlignmentLoss: weights must have one entry per pair "
                             f"({len(pairs)}); got {len(weights)}")
        if any(not w >= 0 for w in weights) or not sum(weights) > 0:
            raise ValueError("LayerwiseAlignmentLoss: weights must be non-negative with a "
                             f"positive sum; got {weights}")
        _REDUCTION.check("LayerwiseAlignmentLoss", "reduction", reduction)
        self.align = AlignmentLoss(measure, reduction="none", **params)
        self.pairs, self.reduction, self.detach_guide = pairs, reduction, detach_guide
        self.register_buffer("weights", torch.tensor(weights, dtype=torch.float64),
                             persistent=False)

    @staticmethod
    def _layer(acts: Mapping, key, which: str):
        if not isinstance(acts, Mapping):
            raise TypeError(f"LayerwiseAlignmentLoss: {which} must be a mapping of layer name "
                            f"-> activations; got {type(acts).__name__}")
        if key not in acts:
            raise ValueError(f"LayerwiseAlignmentLoss: {which} has no layer {key!r}; it has "
                             f"{sorted(map(str, acts))}")
        return acts[key]

    def forward(self, target: Mapping, guide: Mapping):
        """The guidance loss of one batch.

        Parameters
        ----------
        target, guide : mapping of layer name -> tensor of shape (n_stimuli, *features)
            Activations of the target and guide networks on the same batch.

        Returns
        -------
        tensor
        """
        targets = [self._layer(target, t, "target") for t, _ in self.pairs]
        guides = [self._layer(guide, g, "guide") for _, g in self.pairs]
        if self.detach_guide:
            guides = [G.detach() for G in guides]
        losses = self.align(targets, guides)
        weighted = losses * self.weights.to(dtype=losses.dtype, device=losses.device)
        if self.reduction == "mean":
            return torch.sum(weighted) / torch.sum(self.weights)
        return _reduce(weighted, "sum" if self.reduction == "sum" else "none")


def _pair_similarities(E, T, similarity: str):
    """Per triplet, the similarities of the pairs that leave out position 0, 1 and 2."""
    if similarity == "cosine":
        E = E / torch.linalg.vector_norm(E, dim=1, keepdim=True)
    a, b, c = (E[T[:, k]] for k in range(3))
    return torch.stack([torch.sum(b * c, dim=1), torch.sum(a * c, dim=1),
                        torch.sum(a * b, dim=1)], dim=1)


def local_structure_loss(transformed, original, temperature: float = 0.1):
    """The local-structure term of gLocal: keep each item's neighbourhood distribution.

    .. math::

        \\mathcal{L}_{\\mathrm{local}} = -\\frac1m \\sum_i \\sum_{j \\ne i}
            \\sigma(S, \\tau)_{ij} \\log \\sigma(S^*, \\tau)_{ij}, \\qquad
        \\sigma(S, \\tau)_{ij} = \\frac{\\exp(S_{ij} / \\tau)}
            {\\sum_{k \\ne i} \\exp(S_{ik} / \\tau)}

    with ``S`` the cosine similarities of the ``original`` rows and ``S*`` of
    the ``transformed`` rows: the cross-entropy between each item's softmax
    distribution over the other items before and after the transform. It is
    smallest (the entropy of ``sigma(S)``) with zero gradient when the
    transformed similarities equal the original ones.

    Parameters
    ----------
    transformed : tensor of shape (m, d)
    original : tensor of shape (m, d0)
        The same ``m`` items (e.g. a batch of images) before the transform; no
        gradient is taken into it.
    temperature : float, default=0.1

    Returns
    -------
    0-d tensor

    References
    ----------
    Muttenthaler et al. (2023). Improving neural network representations using
    human similarity judgments. NeurIPS (the local contrastive term).
    """
    if not temperature > 0:
        raise ValueError(f"local_structure_loss: temperature must be > 0; got {temperature}")
    if transformed.ndim != 2 or original.ndim != 2 or transformed.shape[0] != original.shape[0]:
        raise ValueError("local_structure_loss: transformed and original must be 2-D with the "
                         f"same items (rows); got shapes {tuple(transformed.shape)} and "
                         f"{tuple(original.shape)}")
    m = transformed.shape[0]
    if m < 3:
        raise ValueError(f"local_structure_loss: needs at least 3 items; got {m}")
    off = ~torch.eye(m, dtype=torch.bool, device=transformed.device)

    def log_neighbours(E):
        U = E / torch.linalg.vector_norm(E, dim=1, keepdim=True)
        S = (U @ U.T) / temperature
        return torch.log_softmax(S.masked_fill(~off, float("-inf")), dim=1)

    p = torch.exp(log_neighbours(original.detach().to(transformed.dtype)))
    return -torch.sum(torch.where(off, p * log_neighbours(transformed), 0)) / m


def glocal_penalty(W):
    """gLocal's pull of a transform towards a scaled identity, ``||W - mean(diag W) I||_F^2``.

    Parameters
    ----------
    W : tensor of shape (p, p)

    Returns
    -------
    0-d tensor

    References
    ----------
    Muttenthaler et al. (2023). Improving neural network representations using
    human similarity judgments. NeurIPS.
    """
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"glocal_penalty: W must be a square matrix; got shape {tuple(W.shape)}")
    scale = torch.mean(torch.diagonal(W))
    return torch.sum((W - scale * torch.eye(W.shape[0], dtype=W.dtype, device=W.device)) ** 2)


class OddOneOutLoss(nn.Module):
    """Negative log-likelihood of odd-one-out choices, with gLocal's local-structure term.

    For a triplet ``(a, b, c)`` the probability that position ``k`` is the odd
    one out is the softmax over the three pair similarities of the pair that
    leaves ``k`` out (SPoSE, Hebart et al. 2020; gLocal's global term):

    .. math::

        p(\\text{odd} = c) = \\frac{\\exp(s_{ab} / T)}
            {\\exp(s_{ab} / T) + \\exp(s_{ac} / T) + \\exp(s_{bc} / T)},
        \\qquad
        \\mathcal{L} = -\\frac1m \\sum \\log p(\\text{chosen})
            + \\alpha \\, \\mathcal{L}_{\\mathrm{local}}

    Parameters
    ----------
    similarity : {"dot", "cosine"}, default="dot"
        ``s_ij = e_i . e_j`` (SPoSE, gLocal) or the cosine.
    temperature : float, default=1.0
        ``T`` above.
    local_weight : float, default=0.0
        ``alpha``: weight of :func:`local_structure_loss` between the
        embedding and the ``original`` given to :meth:`forward`.
    local_temperature : float, default=0.1
        Temperature of the local term.
    reduction : {"mean", "sum", "none"}, default="mean"
        Over triplets (the local term is added to the mean or sum; with
        ``"none"`` it is refused).

    Notes
    -----
    The global term is a mean over triplets: a minibatch of triplets gives an
    unbiased estimate of the mean over all triplets. The local term is
    computed over the rows given as ``original`` (gLocal uses a batch of
    images); its batch value is a biased estimate of the full-data term (the
    softmax normalises over the batch). Add :func:`glocal_penalty` of the
    transform's matrix for gLocal's full objective.

    References
    ----------
    Hebart, Zheng, Pereira & Baker (2020). Revealing the multidimensional
    mental representations of natural objects underlying human similarity
    judgements. Nature Human Behaviour 4, 1173-1185.

    Muttenthaler et al. (2023). Improving neural network representations using
    human similarity judgments. NeurIPS.
    """

    def __init__(self, similarity: str = "dot", *, temperature: float = 1.0,
                 local_weight: float = 0.0, local_temperature: float = 0.1,
                 reduction: str = "mean"):
        super().__init__()
        Options("dot", "cosine").check("OddOneOutLoss", "similarity", similarity)
        _REDUCTION.check("OddOneOutLoss", "reduction", reduction)
        for name, value, low in (("temperature", temperature, "> 0"),
                                 ("local_temperature", local_temperature, "> 0"),
                                 ("local_weight", local_weight, ">= 0")):
            if not (value > 0 if low == "> 0" else value >= 0):
                raise ValueError(f"OddOneOutLoss: {name} must be {low}; got {value}")
        if local_weight and reduction == "none":
            raise ValueError("OddOneOutLoss: reduction='none' gives one loss per triplet, to "
                             "which the local term (one per batch) cannot be added; use "
                             "'mean' or 'sum', or local_weight=0")
        self.similarity, self.temperature = similarity, temperature
        self.local_weight, self.local_temperature = local_weight, local_temperature
        self.reduction = reduction

    def log_probabilities(self, embedding, triplets):
        """``log p(odd = k)`` for each triplet and position, shape (m, 3)."""
        T = torch.as_tensor(triplets, device=embedding.device)
        sims = _pair_similarities(embedding, T, self.similarity)
        return torch.log_softmax(sims / self.temperature, dim=1)

    def forward(self, embedding, triplets, choices, original=None):
        """The loss of a batch of trials.

        Parameters
        ----------
        embedding : tensor of shape (n_items, d)
            One row per item (e.g. a transform of a model's features).
        triplets : array of int, shape (m, 3)
            0-based item indices.
        choices : array of int, shape (m,)
            Position (0, 1 or 2) of the item chosen as the odd one out.
        original : tensor of shape (n_items, d0), optional
            Needed when ``local_weight > 0``: the same items before the
            transform, row for row with ``embedding`` (no gradient is taken
            into it).

        Returns
        -------
        tensor
        """
        if not isinstance(embedding, torch.Tensor) or embedding.ndim != 2:
            got = (f"shape {tuple(embedding.shape)}" if isinstance(embedding, torch.Tensor)
                   else type(embedding).__name__)
            raise TypeError("OddOneOutLoss: embedding must be a 2-D tensor (items x "
                            f"features); got {got}")
        T, c = check_trials(triplets, choices, n_items=embedding.shape[0])
        logp = self.log_probabilities(embedding, T)
        nll = -logp[torch.arange(len(c)), torch.as_tensor(c, device=embedding.device)]
        loss = _reduce(nll, self.reduction)
        if self.local_weight:
            if original is None:
                raise ValueError("OddOneOutLoss: local_weight > 0 needs original (the items "
                                 "before the transform)")
            loss = loss + self.local_weight * local_structure_loss(
                embedding, original, self.local_temperature)
        return loss
