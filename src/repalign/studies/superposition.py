"""Sparse autoencoders and the alignment of toy models in superposition.

Elhage et al. (2022) showed that a network asked to carry more sparse features
than it has neurons stores them *in superposition*: as nearly orthogonal
directions of its hidden space, so that each neuron responds to a mixture of
features. Longon, Klindt & Khosla (2025) argue that two models storing the same
features in different arrangements look less aligned than they are under
mapping metrics (semi-matching, soft-matching, regression), and that replacing
each model's neurons by the latents of a sparse autoencoder (SAE; Bricken et al.
2023, Cunningham et al. 2023) trained on its activations disentangles the
features and raises the alignment. The claims tested here, in their toy setting:
across models trained from different seeds, SAE latents align better than raw
neurons; the gain grows with the degree of superposition ``n / m``; a model
without superposition (``m = n``) gains nothing; and the gain comes from the
SAE having found the model's own features, so that it holds only where the
trained SAE beats a random dictionary of the same size and an SAE trained on
another model.

What is run. Toy models (Elhage et al. 2022): ``n`` features ``x_i``, each
zero with probability ``S`` (the sparsity) and uniform on [0, 1] otherwise,
with importances ``I_i = 0.9^i``, are compressed to ``m`` hidden neurons and
reconstructed,

.. math::

    h = \\phi(W x), \\qquad x' = \\mathrm{ReLU}(W^T h + b), \\qquad
    L = \\mathbb{E}_x \\sum_i I_i (x_i - x'_i)^2 ,

with ``W`` of shape ``m x n``, trained by Adam from several seeds, for several
neuron counts ``m <= n`` (``m = n``: no superposition). ``phi`` is the identity
(the paper's model: its hidden layer is linear, so the loss is invariant to
rotations ``W -> R W`` and the neuron basis is *not privileged*) or a ReLU (the
"privileged basis" variant, whose neurons are singled out by the
nonlinearity).

On each model's hidden activations an SAE is trained,

.. math::

    f = \\sigma(W_e (h - b_d) + b_e), \\qquad \\hat h = W_d f + b_d,
    \\qquad L = \\mathbb{E}\\, \\|h - \\hat h\\|^2 + \\lambda \\|f\\|_1 ,

with ``2 n`` latents and the decoder columns renormalised to unit norm after
every Adam step. The default (``sae="topk"``, the SAE of Longon et al.; Gao et
al. 2024) keeps the ``TOP_K`` largest ReLU activations ``sigma`` of each input,
with ``lambda = 0``; ``sae="l1"`` has ``sigma = ReLU`` and ``lambda = L1``
(Bricken et al. 2023). TopK is the default because it finds the features where
L1 does not: on three ReLU-hidden models with ``m = 5`` (6000 steps each), the
L1 SAE recovered 9/11, 7/13 and 3/12 of the represented features, the TopK SAE
11/11, 12/13 and 12/12.

The controls, each with the same number of latents:

- a *random dictionary*, the SAE before training (random unit-norm decoder
  columns, the encoder their transpose, zero biases). Any overcomplete ReLU
  readout of ``h`` lifts its units into more, sparser ones, which can match
  across seeds better than the neurons do for that reason alone;
- an *SAE trained on another model*: model ``s`` read through the SAE of model
  ``s + 1`` (mod the number of models) of the same condition, a trained,
  sparse dictionary that fits another model's arrangement of the features;
- the *no-superposition models* ``m = n``.

Mapping metrics are fitted and scored on different stimuli: two independent sets
of inputs, one to fit the map between two models' units (the partner of each
unit, the transport plan, the ridge weights) and one to score it. For every
pair of seeds, ``semi_match`` (each unit of A paired with the unit of B it
correlates with most on the fitting inputs, then their correlation on the
scoring inputs), ``soft_match`` (the optimal transport plan between the units
on the fitting inputs, applied to the scoring inputs' correlations) and
``ridge`` (:meth:`repalign.Measure.held_out`: ridge from A's units to B's
fitted on one set, Pearson r of its predictions on the other) are computed
between the raw neurons ``h``, the SAE latents, the other model's SAE latents
and the random dictionary's latents. Units active on fewer than ``MIN_ACTIVE``
inputs of either set are dropped first: their correlations are undefined
(dead) or noise.

Intervals: each toy model enters several seed pairs, so the pairs are not
independent; the 95% interval of a statistic of the pairs is a jackknife over
models (each model left out in turn with all its pairs), with Student's t on
``n_models - 1`` degrees of freedom. The growth of the gain with superposition
is the least-squares slope of the mean gain on ``log2(n / m)``, jackknifed over
the replicate index (model ``s`` left out at every ``m``).

Independent sanity check: feature ``i`` lives in hidden space along
``d_i = phi(W e_i)`` (``W_{:,i}`` for the linear model). It is *represented*
when ``||d_i|| >= 0.5`` (a trained model either keeps a feature at norm about 1
or drops it) and *recovered* when some decoder column has cosine at least
``RECOVERY_COSINE`` with ``d_i``.

What the default run found is in :class:`Superposition`.

References
----------
Longon, Klindt & Khosla (2025). Superposition disentanglement of neural
representations reveals hidden alignment. arXiv:2510.03186 (UniReps 2025).

Elhage, Hume, Olsson, Schiefer, Henighan, Kravec, Hatfield-Dodds, Lasenby,
Drain, Chen, Grosse, McCandlish, Kaplan, Amodei, Wattenberg & Olah (2022).
Toy models of superposition. Transformer Circuits Thread.

Bricken, Templeton, Batson, Chen, Jermyn, Conerly, Turner, Anil, Denison,
Askell, Lasenby, Wu, Kravec, Schiefer, Maxwell, Joseph, Hatfield-Dodds, Tamkin,
Nguyen, McLean, Burke, Hume, Carter, Henighan & Olah (2023). Towards
monosemanticity: decomposing language models with dictionary learning.
Transformer Circuits Thread.

Cunningham, Ewart, Riggs, Huben & Sharkey (2023). Sparse autoencoders find
highly interpretable features in language models. arXiv:2309.08600 (ICLR 2024).

Gao, Dupré la Tour, Tillman, Goh, Troll, Radford, Sutskever, Leike & Wu (2024).
Scaling and evaluating sparse autoencoders. arXiv:2406.04093.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from ._frame import Check, Outcome, Study, StudyConfig, register
from ._stats import jackknife_over_models

__all__ = ["Superposition"]

#: Number of sparse features of every toy model.
N_FEATURES = 20
#: Probability that a feature is zero.
SPARSITY = 0.95
#: Feature importances ``IMPORTANCE_DECAY ** i``.
IMPORTANCE_DECAY = 0.9
#: SAE latents per feature.
DICTIONARY_RATIO = 2
#: The SAE variants (``"topk"`` is the default), and the active latents per input of ``"topk"``.
SAES = ("topk", "l1")
TOP_K = 2
#: The compared measures, and those that match units one to one.
METRICS = ("semi_match", "soft_match", "ridge")
MATCHING = ("semi_match", "soft_match")
#: The unit sets compared: the neurons, the model's own SAE latents, the latents of the SAE
#: trained on another model, a random dictionary's latents.
KINDS = ("raw", "sae", "other", "random")
#: Hidden activations: the paper's linear layer (the one the per-m checks read) and a ReLU.
HIDDEN = ("linear", "relu")
#: Units active on fewer evaluation inputs are dropped before comparing.
MIN_ACTIVE = 10
#: A feature counts as recovered at this decoder cosine.
RECOVERY_COSINE = 0.9
#: A feature counts as represented at this hidden-space norm.
REPRESENTED_NORM = 0.5
#: Adam: inputs per step, learning rates, and the L1 SAE's coefficient.
BATCH_SIZE = 256
LR_TOY = 3e-3
LR_SAE = 3e-3
L1 = 0.3


@dataclass(frozen=True)
class Config(StudyConfig):
    """Settings of the superposition study.

    Attributes
    ----------
    n_models : int
        Toy models (and SAEs) per condition, each from its own seed; at least 3
        (the jackknife over models).
    toy_steps, sae_steps : int
        Adam steps of each toy model and of each SAE.
    n_eval : int
        Inputs of each of the two sets: one fits the maps between units, the
        other scores them.
    n_hidden : tuple of int
        The neuron counts ``m``, each between 1 and ``N_FEATURES``; they must
        include ``N_FEATURES`` (no superposition) and one count below it.
        Stored sorted, without repeats.
    sae : {"topk", "l1"}
        The SAE variant: the ``TOP_K`` largest ReLU latents of each input, or
        ReLU latents with an L1 penalty.

    Raises
    ------
    ValueError
        If ``n_models`` is below 3, a count in ``n_hidden`` is not an integer
        between 1 and ``N_FEATURES``, ``n_hidden`` lacks ``N_FEATURES`` or a
        count below it, or ``sae`` is not one of ``SAES``.
    """

    n_models: int = 5
    toy_steps: int = 6000
    sae_steps: int = 6000
    n_eval: int = 4000
    n_hidden: tuple = (4, 5, 8, 12, 20)
    sae: str = "topk"

    def __post_init__(self) -> None:
        if self.n_models < 3:
            raise ValueError(f"n_models must be at least 3 (the jackknife over models); "
                             f"got {self.n_models}")
        bad = [m for m in self.n_hidden if isinstance(m, bool)
               or not isinstance(m, numbers.Integral) or not 1 <= m <= N_FEATURES]
        if bad:
            raise ValueError(f"n_hidden must hold neuron counts m with 1 <= m <= n = "
                             f"{N_FEATURES}; got {bad} in {self.n_hidden!r}")
        if N_FEATURES not in self.n_hidden or min(self.n_hidden) == N_FEATURES:
            raise ValueError(f"n_hidden must include m = n = {N_FEATURES} (no superposition) "
                             f"and a count below it; got {self.n_hidden!r}")
        object.__setattr__(self, "n_hidden", tuple(sorted({int(m) for m in self.n_hidden})))
        if self.sae not in SAES:
            raise ValueError(f"sae must be one of {SAES}; got {self.sae!r}")


def _child_seed(seed: int, *keys: int) -> int:
    """A distinct 32-bit seed per (hidden layer, neuron count, replicate, role)."""
    return int(np.random.SeedSequence([seed, *keys]).generate_state(1)[0])


def _sample(shape, generator):
    """Sparse inputs: each entry zero with probability ``SPARSITY``, else uniform on [0, 1]."""
    import torch

    values = torch.rand(shape, generator=generator)
    return values * (torch.rand(shape, generator=generator) >= SPARSITY)


def _hidden(W, x, activation: str):
    """``phi(W x)`` for a stack of models: W (k, m, n), x (k, b, n) -> (k, b, m)."""
    h = x @ W.transpose(1, 2)
    return h.relu() if activation == "relu" else h


def _train_toys(n_hidden: int, activation: str, *, n_models: int, steps: int, seed: int,
                key: tuple):
    """Train ``n_models`` toy models side by side; return W (k, m, n) and b (k, n).

    Each model has its own initialisation (Xavier normal, seeded per model) and
    its own input stream; the loss is the sum of the models' losses, so Adam
    updates each model as if it were trained alone. ``key`` identifies the
    condition in the seeds.
    """
    import torch

    W = torch.stack([torch.nn.init.xavier_normal_(
        torch.empty(n_hidden, N_FEATURES),
        generator=torch.Generator().manual_seed(_child_seed(seed, *key, s, 0)))
        for s in range(n_models)]).requires_grad_()
    b = torch.zeros(n_models, N_FEATURES, requires_grad=True)
    importance = IMPORTANCE_DECAY ** torch.arange(N_FEATURES, dtype=torch.float32)
    data = torch.Generator().manual_seed(_child_seed(seed, *key, n_models, 1))
    optimizer = torch.optim.Adam([W, b], lr=LR_TOY)
    for _ in range(steps):
        x = _sample((n_models, BATCH_SIZE, N_FEATURES), data)
        x_hat = (_hidden(W, x, activation) @ W + b[:, None]).relu()
        loss = (importance * (x - x_hat) ** 2).sum(-1).mean(-1).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return W.detach(), b.detach()


def _train_saes(W, activation: str, *, top_k, steps: int, seed: int, key: tuple):
    """Train one SAE per toy model on its hidden activations (fresh inputs each step).

    Returns the tensors ``(W_e, b_e, W_d, b_d)`` stacked over models, with
    ``W_d`` of shape (k, m, d) holding unit-norm decoder columns. The encoder
    starts as the transposed decoder (Bricken et al. 2023), the biases at zero;
    ``steps=0`` returns this random dictionary. ``top_k`` None: ReLU latents
    with the L1 penalty; an int: TopK latents and no penalty.
    """
    import torch

    n_models, n_hidden, _ = W.shape
    size = DICTIONARY_RATIO * N_FEATURES
    decoder = torch.stack([torch.randn(
        n_hidden, size, generator=torch.Generator().manual_seed(_child_seed(seed, *key, s, 2)))
        for s in range(n_models)])
    decoder /= decoder.norm(dim=1, keepdim=True)
    W_d = decoder.clone().requires_grad_()
    W_e = decoder.transpose(1, 2).clone().requires_grad_()
    b_e = torch.zeros(n_models, size, requires_grad=True)
    b_d = torch.zeros(n_models, n_hidden, requires_grad=True)
    l1 = 0.0 if top_k else L1
    data = torch.Generator().manual_seed(_child_seed(seed, *key, n_models, 3))
    optimizer = torch.optim.Adam([W_e, b_e, W_d, b_d], lr=LR_SAE)
    for _ in range(steps):
        h = _hidden(W, _sample((n_models, BATCH_SIZE, N_FEATURES), data), activation)
        f = _encode((W_e, b_e, W_d, b_d), h, top_k)
        h_hat = f @ W_d.transpose(1, 2) + b_d[:, None]
        loss = (((h - h_hat) ** 2).sum(-1) + l1 * f.sum(-1)).mean(-1).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            W_d /= W_d.norm(dim=1, keepdim=True)
    return tuple(t.detach() for t in (W_e, b_e, W_d, b_d))


def _encode(sae, h, top_k=None):
    """SAE latents ``ReLU(W_e (h - b_d) + b_e)``, only the ``top_k`` largest kept if given.

    h (k, b, m) -> (k, b, d).
    """
    import torch

    W_e, b_e, _, b_d = sae
    f = ((h - b_d[:, None]) @ W_e.transpose(1, 2) + b_e[:, None]).relu()
    if top_k is None:
        return f
    values, index = f.topk(top_k, dim=-1)
    return torch.zeros_like(f).scatter(-1, index, values)


def _active_units(fit: np.ndarray, test: np.ndarray):
    """The columns nonzero on at least ``MIN_ACTIVE`` rows of both sets (others dropped)."""
    keep = ((np.count_nonzero(fit, axis=0) >= MIN_ACTIVE)
            & (np.count_nonzero(test, axis=0) >= MIN_ACTIVE))
    return fit[:, keep], test[:, keep]


def _correlations(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Pearson correlations between the columns of A and those of B."""
    A, B = A - A.mean(axis=0), B - B.mean(axis=0)
    A, B = A / np.linalg.norm(A, axis=0), B / np.linalg.norm(B, axis=0)
    return A.T @ B


def _transport_plan(C: np.ndarray) -> np.ndarray:
    """The plan ``T`` maximising ``sum(T * C)`` with marginals ``1/d_a`` and ``1/d_b``.

    The soft matching of Khosla & Williams (2024), as a linear program over the
    ``d_a d_b`` entries of the plan (HiGHS).
    """
    from scipy import sparse
    from scipy.optimize import linprog

    da, db = C.shape
    sums = sparse.vstack([sparse.kron(sparse.eye(da), np.ones((1, db))),
                          sparse.kron(np.ones((1, da)), sparse.eye(db))], format="csr")
    result = linprog(-C.ravel(), A_eq=sums, b_eq=np.r_[np.full(da, 1 / da), np.full(db, 1 / db)],
                     bounds=(0, None), method="highs")
    return result.x.reshape(da, db)


def _held_out(metric: str, ridge, A_fit, B_fit, A_test, B_test) -> float:
    """``metric`` between A's and B's units, its map fitted on one set and scored on the other.

    ``semi_match``: each unit of A takes the unit of B it correlates with most
    on the fitting set; the score is the mean of their correlations on the
    scoring set. ``soft_match``: the optimal transport plan between the units
    on the fitting set, summed against the scoring set's correlations.
    ``ridge``: :meth:`repalign.Measure.held_out` of the ridge measure. With the
    same set twice, the first two equal the library's ``semi_match`` and
    ``soft_match``.
    """
    if metric == "ridge":
        return float(ridge.held_out(A_fit, B_fit, A_test, B_test))
    C_fit, C_test = _correlations(A_fit, B_fit), _correlations(A_test, B_test)
    if metric == "semi_match":
        return float(np.mean(C_test[np.arange(len(C_fit)), C_fit.argmax(axis=1)]))
    return float(np.sum(_transport_plan(C_fit) * C_test))


def _feature_recovery(W, sae, activation: str):
    """Per model: how many features are represented, and how many of those are recovered.

    Feature ``i`` lies along ``d_i = phi(W e_i)`` in hidden space; its best
    cosine is ``max_j cos(d_i, W_d[:, j])`` over the unit-norm decoder columns.
    """
    import torch

    eye = torch.eye(N_FEATURES).expand(W.shape[0], -1, -1)
    directions = _hidden(W, eye, activation)                    # (k, n, m)
    norms = directions.norm(dim=-1)
    unit = directions / norms.clamp_min(1e-12)[..., None]
    best = (unit @ sae[2]).amax(dim=-1)                         # (k, n)
    represented = norms >= REPRESENTED_NORM
    recovered = represented & (best >= RECOVERY_COSINE)
    return represented.sum(1).numpy(), recovered.sum(1).numpy()


def _monosemanticity(W):
    """Per model: mean over neurons of ``max_i |W_ji| / ||W_j||`` (1: each neuron reads one
    feature; ``1/sqrt(q)`` for q features read equally)."""
    rows = W.abs()
    return (rows.amax(dim=2) / rows.norm(dim=2).clamp_min(1e-12)).mean(dim=1).numpy()


def _sae_fit(h, f, sae):
    """Per model: fraction of the hidden variance the SAE reconstructs, and mean L0."""
    h_hat = f @ sae[2].transpose(1, 2) + sae[3][:, None]
    residual = ((h - h_hat) ** 2).sum((1, 2))
    total = ((h - h.mean(1, keepdim=True)) ** 2).sum((1, 2))
    return (1 - residual / total).numpy(), (f > 0).float().sum(-1).mean(-1).numpy()


def _run_condition(activation: str, n_hidden: int, x_fit, x_test, config, ridge):
    """Train the models and SAEs of one (hidden layer, m); one row per (metric, seed pair)."""
    key = (HIDDEN.index(activation), n_hidden)
    top_k = TOP_K if config.sae == "topk" else None
    n_models = config.n_models
    W, _ = _train_toys(n_hidden, activation, n_models=n_models, steps=config.toy_steps,
                       seed=config.seed, key=key)
    own, random = (_train_saes(W, activation, top_k=top_k, steps=steps, seed=config.seed,
                               key=key) for steps in (config.sae_steps, 0))
    # model s read through the SAE of model s + 1 (mod n_models)
    dictionaries = {"sae": own, "other": tuple(t.roll(-1, dims=0) for t in own),
                    "random": random}
    h = {name: _hidden(W, x.expand(n_models, -1, -1), activation)
         for name, x in (("fit", x_fit), ("test", x_test))}
    latents = {name: {"raw": hn, **{kind: _encode(d, hn, top_k)
                                    for kind, d in dictionaries.items()}}
               for name, hn in h.items()}
    units = {kind: [_active_units(fit, test) for fit, test in
                    zip(latents["fit"][kind].double().numpy(),
                        latents["test"][kind].double().numpy())] for kind in KINDS}
    represented, recovered = _feature_recovery(W, own, activation)
    r2, l0 = _sae_fit(h["test"], latents["test"]["sae"], own)
    per_model = {"represented": represented, "recovered": recovered,
                 "recovered_random": _feature_recovery(W, random, activation)[1],
                 "sae_r2": r2, "sae_l0": l0, "monosemanticity": _monosemanticity(W),
                 **{f"units_{kind}": np.array([fit.shape[1] for fit, _ in units[kind]])
                    for kind in KINDS}}
    rows = []
    for metric in METRICS:
        for a, b in combinations(range(n_models), 2):
            values = {kind: _held_out(metric, ridge, units[kind][a][0], units[kind][b][0],
                                      units[kind][a][1], units[kind][b][1])
                      for kind in KINDS}
            rows.append({
                "hidden": activation, "n_hidden": n_hidden,
                "superposition": N_FEATURES / n_hidden, "metric": metric,
                "seed_pair": f"{a}-{b}", "seed_a": a, "seed_b": b, **values,
                "gain": values["sae"] - values["raw"],
                "gain_random": values["random"] - values["raw"],
                "sae_minus_random": values["sae"] - values["random"],
                "sae_minus_other": values["sae"] - values["other"],
                "n_features": N_FEATURES, "dictionary_size": DICTIONARY_RATIO * N_FEATURES,
                "sae_kind": config.sae, "sparsity": SPARSITY,
                **{f"{name}_{side}": per_model[name][s].item()
                   for name in per_model for side, s in (("a", a), ("b", b))},
            })
    return rows


def _rows(table, hidden: str, n_hidden=None, metric=None):
    """The rows of one hidden layer, optionally of one neuron count and one metric."""
    keep = table["hidden"] == hidden
    if n_hidden is not None:
        keep &= table["n_hidden"] == n_hidden
    if metric is not None:
        keep &= table["metric"] == metric
    return table[keep]


def _per_model(frame, column: str) -> np.ndarray:
    """Per model of ``frame`` (sorted by seed), ``column`` read from its pair rows."""
    values = {}
    for side in ("a", "b"):
        values.update(zip(frame[f"seed_{side}"], frame[f"{column}_{side}"]))
    return np.array([values[s] for s in sorted(values)])


def _interval(frame, column: str) -> tuple:
    """Mean of ``column`` over the seed pairs of ``frame`` and its jackknife 95% interval."""
    return jackknife_over_models(frame, lambda rows: rows[column].mean())


def _slope(rows) -> float:
    """Least-squares slope of the mean SAE - raw gain per neuron count on ``log2(n / m)``."""
    means = rows.groupby("n_hidden")["gain"].mean()
    return float(np.polyfit(np.log2(N_FEATURES / means.index.to_numpy()), means.to_numpy(),
                            1)[0])


def _ci(stats: tuple) -> str:
    return f"{stats[0]:+.3f} [{stats[1]:+.3f}, {stats[2]:+.3f}]"


def _values(frame) -> str:
    return ", ".join(f"{kind} {frame[kind].mean():.3f}" for kind in KINDS)


def _checks(table, config):
    """The claims, tested on the table."""
    superposed = config.n_hidden[:-1]
    n_models = config.n_models
    checks = []
    represented = {m: _per_model(_rows(table, "linear", m), "represented") for m in superposed}
    checks.append(Check(
        "the toy models with a linear hidden layer store more features than they have "
        "neurons at every m < n (superposition)",
        all(counts.min() > m for m, counts in represented.items()),
        f"represented features per model (||W_i|| >= {REPRESENTED_NORM}, of {N_FEATURES}): "
        + "; ".join(f"m = {m}: {counts.tolist()}" for m, counts in represented.items())))
    for m in superposed:
        for metric in METRICS:
            frame = _rows(table, "linear", m, metric)
            stats = _interval(frame, "sae_minus_random")
            checks.append(Check(
                f"at m = {m} (n/m = {N_FEATURES / m:.1f}, linear hidden layer), the trained "
                f"SAE's latents align across seeds better than a random dictionary of the same "
                f"size under {metric}: the 95% interval of SAE - random lies above 0",
                stats[1] > 0,
                f"held out: {_values(frame)}; SAE - random {_ci(stats)}, random - raw "
                f"{frame['gain_random'].mean():+.3f} (jackknife over {n_models} models)"))
    for metric in METRICS:
        frame = _rows(table, "linear", metric=metric)
        frame = frame[frame["n_hidden"] < N_FEATURES]
        stats = _interval(frame, "sae_minus_other")
        per_m = frame.groupby("n_hidden")["sae_minus_other"].mean()
        checks.append(Check(
            f"in superposition (linear hidden layer, all m < n pooled), a model's own SAE "
            f"aligns it better than the SAE trained on another model under {metric}: the 95% "
            "interval of SAE - other lies above 0", stats[1] > 0,
            f"SAE - other {_ci(stats)}; per m: "
            + ", ".join(f"{m}: {v:+.3f}" for m, v in per_m.items())))
    for hidden in HIDDEN:
        for metric in METRICS:
            frame = _rows(table, hidden, metric=metric)
            slope = jackknife_over_models(frame, _slope)
            per_m = frame.groupby("n_hidden")["gain"].mean()
            checks.append(Check(
                f"{hidden} hidden layer, {metric}: the SAE's gain over the neurons grows with "
                "superposition (the 95% interval of the slope of SAE - raw on log2(n/m) lies "
                "above 0)", slope[1] > 0,
                f"slope {_ci(slope)} per doubling of n/m; SAE - raw per m: "
                + ", ".join(f"{m}: {v:+.3f}" for m, v in per_m.items())))
            frame = _rows(table, hidden, N_FEATURES, metric)
            gain = _interval(frame, "gain")
            checks.append(Check(
                f"{hidden} hidden layer, {metric}: without superposition (m = n = "
                f"{N_FEATURES}) the SAE gains nothing (the 95% interval of SAE - raw reaches 0 "
                "or lies below it)", gain[1] <= 0,
                f"held out: {_values(frame)}; SAE - raw {_ci(gain)}"))
    fractions = {m: _per_model(_rows(table, "linear", m), "recovered")
                 / _per_model(_rows(table, "linear", m), "represented") for m in superposed}
    mean_fraction = float(np.mean(np.concatenate(list(fractions.values()))))
    checks.append(Check(
        f"the SAE decoders recover most represented features in superposition (linear hidden "
        f"layer, all m < n: mean fraction >= 0.75 at cosine >= {RECOVERY_COSINE})",
        mean_fraction >= 0.75,
        f"mean fraction {mean_fraction:.2f}; per m: "
        + ", ".join(f"{m}: {f.mean():.2f}" for m, f in fractions.items())))
    return checks


def _verdict(table, config) -> str:
    """Markdown: where the trained SAE beats the random dictionary and the other model's SAE."""
    lines = []
    for hidden in HIDDEN:
        for column, control in (("sae_minus_random", "a random dictionary"),
                                ("sae_minus_other", "the SAE of another model")):
            beats = [f"m = {m} {metric}"
                     for m in config.n_hidden[:-1] for metric in METRICS
                     if _interval(_rows(table, hidden, m, metric), column)[1] > 0]
            lines.append(f"- {hidden} hidden layer, m < n: the trained SAE beats {control} "
                         f"(95% interval above 0) in {len(beats)} of "
                         f"{len(METRICS) * (len(config.n_hidden) - 1)} (m, metric) cells"
                         + (f": {', '.join(beats)}." if beats else "."))
    return "\n".join(lines)


def _figure(table, config):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(17.0, 4.4), layout="constrained")
    axes = figure.subplots(1, len(METRICS) + 1)
    styles = {"linear": ("-", "o"), "relu": ("--", "s")}
    gains = (("gain", "SAE - raw", "tab:blue"), ("sae_minus_random", "SAE - random", "tab:green"),
             ("sae_minus_other", "SAE - other's SAE", "tab:red"))
    ratios = N_FEATURES / np.array(config.n_hidden)

    def axis(ax):
        ax.set_xscale("log", base=2)
        ax.set_xticks(ratios, [f"{r:.3g}" for r in ratios], minor=False)
        ax.minorticks_off()
        ax.set_xlabel("superposition n / m")

    for ax, metric in zip(axes, METRICS):
        for hidden in HIDDEN:
            line, marker = styles[hidden]
            by_m = [rows for _, rows in _rows(table, hidden, metric=metric).groupby("n_hidden")]
            for column, label, color in gains:
                stats = np.array([_interval(rows, column) for rows in by_m])
                ax.errorbar(ratios, stats[:, 0], yerr=[stats[:, 0] - stats[:, 1],
                                                       stats[:, 2] - stats[:, 0]],
                            ls=line, marker=marker, color=color, capsize=2, ms=4,
                            label=f"{label}, {hidden}")
        ax.axhline(0, color="k", lw=0.6)
        axis(ax)
        ax.set_ylabel(f"{metric} gain, held out (95% CI)")
        ax.set_title(metric)
    axes[0].legend(fontsize="x-small")
    ax = axes[-1]
    for hidden in HIDDEN:
        line, marker = styles[hidden]
        for column, label, color in (("recovered", "SAE", "tab:orange"),
                                     ("recovered_random", "random", "tab:green")):
            fractions = [np.mean(_per_model(rows, column) / _per_model(rows, "represented"))
                         for _, rows in _rows(table, hidden).groupby("n_hidden")]
            ax.plot(ratios, fractions, ls=line, marker=marker, color=color, ms=4,
                    label=f"{label}, {hidden}")
    axis(ax)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel(f"represented features recovered\n(decoder cosine >= {RECOVERY_COSINE})")
    ax.set_title("feature recovery", fontsize="medium")
    ax.legend(fontsize="x-small")
    return figure


def _gain_lines(table):
    """Markdown: mean values of every unit set and the gains with intervals, per condition."""
    lines = ["| hidden | m | metric | raw | SAE | other's SAE | random | SAE - raw [95%] | "
             "SAE - random [95%] | SAE - other [95%] |", "|---" * 10 + "|"]
    for (hidden, m, metric), frame in table.groupby(["hidden", "n_hidden", "metric"],
                                                    sort=False):
        lines.append(f"| {hidden} | {m} | {metric} | "
                     + " | ".join(f"{frame[kind].mean():.3f}" for kind in KINDS) + " | "
                     + " | ".join(_ci(_interval(frame, column)) for column in
                                  ("gain", "sae_minus_random", "sae_minus_other")) + " |")
    return lines


def _recovery_lines(table):
    """Markdown: per condition, features represented and recovered, the SAE's fit, the units."""
    lines = ["| hidden | m | represented | recovered | recovered by random | SAE R^2 | SAE L0 | "
             "neuron monosemanticity | active units raw / SAE / other / random |",
             "|---|---|---|---|---|---|---|---|---|"]
    for (hidden, m), frame in table.groupby(["hidden", "n_hidden"], sort=False):
        means = [_per_model(frame, column).mean() for column in
                 ("represented", "recovered", "recovered_random", "sae_r2", "sae_l0",
                  "monosemanticity")]
        units = " / ".join(f"{_per_model(frame, f'units_{kind}').mean():.1f}" for kind in KINDS)
        lines.append(f"| {hidden} | {m} | {means[0]:.1f} | {means[1]:.1f} | {means[2]:.1f} | "
                     f"{means[3]:.3f} | {means[4]:.2f} | {means[5]:.2f} | {units} |")
    return lines


@register
class Superposition(Study):
    """Raw neurons against SAE latents across seeds, at several degrees of superposition.

    ``results.csv`` has one row per hidden layer, neuron count, metric and pair
    of seeds: ``hidden`` (``"linear"`` or ``"relu"``), ``n_hidden`` (m),
    ``superposition`` (n / m), ``metric``, ``seed_pair``, ``seed_a``,
    ``seed_b``; the held-out measure between the two models' raw neurons
    (``raw``), own SAE latents (``sae``), latents of the SAE of another model
    (``other``) and random dictionary latents (``random``); the differences
    ``gain`` (``sae - raw``), ``gain_random`` (``random - raw``),
    ``sae_minus_random`` and ``sae_minus_other``; ``n_features``,
    ``dictionary_size``, ``sae_kind`` and ``sparsity``; and per model
    (``_a``, ``_b``): features represented and recovered by the SAE and by the
    random dictionary (``represented``, ``recovered``, ``recovered_random``),
    the SAE's fraction of variance explained and mean number of active latents
    (``sae_r2``, ``sae_l0``), the neurons' monosemanticity (mean over neurons of
    ``max_i |W_ji| / ||W_j||``) and the units compared after dropping inactive
    ones (``units_raw``, ``units_sae``, ``units_other``, ``units_random``).

    Measured, the default run (``Superposition().run()``: m in (4, 5, 8, 12,
    20), 5 models per condition, 6000 Adam steps for toys and SAEs, TopK SAE,
    2 x 4000 inputs; 1200 s wall, 4.7 min CPU, on a 2-core box at load 18;
    21 of 29 checks pass). Linear hidden layer, held out, mean over 10 seed
    pairs with jackknife 95% intervals, semi_match:

    ====  =====  ========================  ========================  ========================
    m     n/m    SAE - raw                 SAE - random              SAE - other model's SAE
    ====  =====  ========================  ========================  ========================
    4     5      +0.453 [+0.315, +0.592]   +0.283 [+0.218, +0.349]   +0.245 [+0.113, +0.376]
    5     4      +0.399 [+0.269, +0.530]   +0.175 [+0.104, +0.245]   +0.198 [+0.104, +0.292]
    8     2.5    +0.477 [+0.384, +0.570]   +0.337 [+0.250, +0.423]   +0.388 [+0.286, +0.489]
    12    1.7    +0.591 [+0.545, +0.637]   +0.466 [+0.446, +0.486]   +0.522 [+0.438, +0.607]
    20    1      +0.572 [+0.533, +0.610]   +0.498 [+0.431, +0.566]   +0.590 [+0.559, +0.621]
    ====  =====  ========================  ========================  ========================

    and SAE - raw under ridge, m = 4 to 20: +0.184 [+0.008, +0.359], +0.173
    [+0.039, +0.307], +0.241 [+0.183, +0.298], +0.196 [+0.161, +0.231], -0.001
    [-0.001, -0.000].

    Reproduced: at every m < n SAE latents align better than raw neurons
    under all three metrics, and the trained SAE beats the random dictionary
    in 12 of 12 (m, metric) cells and the other model's SAE in 11 of 12 (not
    m = 4 ridge, +0.061 [-0.021, +0.143]): the gain needs the model's own
    features (the SAE recovers every represented feature; the random
    dictionary 5.4 of 11.8 at m = 4 and none from m = 8 on). Partly: the gain
    grows with superposition and is nil at m = n only under ridge (slope
    +0.063 [+0.008, +0.118] per doubling of n/m). Not: under the matching
    metrics the gain *shrinks* with superposition (slope semi_match -0.074
    [-0.115, -0.034], soft_match -0.111 [-0.172, -0.050]) and is largest at
    m = n. With a linear hidden layer the m = n neurons are a seed-dependent
    rotation of the features (raw semi_match 0.428, ridge 1.000), so the
    one-to-one metrics are deflated by the arbitrary basis with or without
    superposition, and the SAE undoes the rotation; in superposition its
    latents align less (semi_match 0.803 at m = 4, 0.999 at m = n) because
    fewer features are represented (11.8 of 20 at m = 4) and they interfere.
    The ReLU hidden layer does not make the m = n control monosemantic
    (monosemanticity 0.58, raw semi_match 0.588): the SAE gains there too
    (+0.303 [+0.269, +0.336]; slope -0.094 [-0.124, -0.064]), and at m = 4,
    where its models represent 8.8 features, the SAE does not beat the random
    dictionary (semi_match -0.009 [-0.122, +0.104]). With the L1 SAE (quick
    settings, m = 5, linear) the trained SAE loses to the random dictionary
    under ridge (-0.063 [-0.090, -0.036]; TopK +0.171 [+0.106, +0.236]).
    """

    name = "superposition"
    title = "Superposition: do SAE latents reveal alignment that raw neurons hide?"
    reference = ("Longon, Klindt & Khosla (2025). Superposition disentanglement of neural "
                 "representations reveals hidden alignment. arXiv:2510.03186; Elhage et al. "
                 "(2022). Toy models of superposition. Transformer Circuits Thread; Bricken et "
                 "al. (2023). Towards monosemanticity. Transformer Circuits Thread.")
    Config = Config
    quick_settings = {"n_models": 3, "toy_steps": 1500, "sae_steps": 1500, "n_eval": 2000,
                      "n_hidden": (5, N_FEATURES)}

    def measure(self, config):
        import pandas as pd
        import torch

        import repalign

        torch.set_num_threads(1)
        x_fit, x_test = (_sample((config.n_eval, N_FEATURES),
                                 torch.Generator().manual_seed(_child_seed(config.seed, 99, i)))
                         for i in range(2))
        ridge = repalign.get("ridge")
        rows = [row for hidden in HIDDEN for m in config.n_hidden
                for row in _run_condition(hidden, m, x_fit, x_test, config, ridge)]
        return Outcome(pd.DataFrame(rows))

    def checks(self, outcome, config):
        return _checks(outcome.table, config)

    def figure(self, outcome, config):
        return _figure(outcome.table, config)

    def numbers(self, outcome, config):
        n_models = config.n_models
        return "\n".join([
            f"Held-out values (maps fitted on one set of {config.n_eval} inputs, scored on "
            f"another), mean over {n_models * (n_models - 1) // 2} seed pairs per condition, "
            f"with 95% intervals from a jackknife over the {n_models} models:", "",
            *_gain_lines(outcome.table), "",
            f"Per model (mean over {n_models}): features represented (of {N_FEATURES}) and "
            f"recovered by an SAE decoder column (cosine >= {RECOVERY_COSINE}), the SAE's "
            "fraction of hidden variance explained on the evaluation inputs, its mean number "
            "of active latents (the inputs have "
            f"{N_FEATURES * (1 - SPARSITY):.1f} active features on average), the neurons' "
            "monosemanticity, the mean over neurons of max_i |W_ji| / ||W_j|| (1: one feature "
            "per neuron; 0.71: two features read equally), and the units left after dropping "
            f"those active on fewer than {MIN_ACTIVE} inputs:", "",
            *_recovery_lines(outcome.table), "", _verdict(outcome.table, config), "",
            "With a linear hidden layer the loss is invariant to rotations of h, so even at "
            "m = n the neurons are a seed-dependent rotation of the features: the matching "
            "measures gain from any dictionary that undoes it, while ridge, invariant to "
            "rotations of its predictors, already aligns the raw neurons there. The ReLU "
            "hidden layer is the control whose m = n neurons can be monosemantic; where its "
            "monosemanticity (table above) stays well below 1 its neurons still mix features "
            "and the SAE gains there too.",
        ])

    def description(self, outcome, config):
        n_models, n_eval = config.n_models, config.n_eval
        sae = (f"L1 coefficient {L1}" if config.sae == "l1" else
               f"TopK, the {TOP_K} largest ReLU latents of each input kept, no penalty")
        return f"""
Toy models of superposition (Elhage et al. 2022): n = {N_FEATURES} features, each zero with
probability S = {SPARSITY} and uniform on [0, 1] otherwise, importances {IMPORTANCE_DECAY}^i;
`h = phi(W x)`, `x' = ReLU(W^T h + b)`, importance-weighted squared error, Adam (lr {LR_TOY},
batch {BATCH_SIZE}, {config.toy_steps} steps), {n_models} models per condition from their own
seeds. Conditions: m in {list(config.n_hidden)} hidden neurons (n/m from
{N_FEATURES / config.n_hidden[0]:.1f} to 1; m = n is the no-superposition control), each with a
linear hidden layer (`phi` = identity, the paper's model, whose loss is invariant to rotations
of h) and with a ReLU hidden layer (the privileged-basis variant). Per model, a sparse
autoencoder with {DICTIONARY_RATIO * N_FEATURES} latents (ReLU encoder, unit-norm decoder
columns, {sae}; Adam lr {LR_SAE}, {config.sae_steps} steps of {BATCH_SIZE} fresh inputs).
Controls with as many latents: a random dictionary (the same SAE before training: random
unit-norm decoder, encoder its transpose, zero biases) and the SAE trained on another model
(model s read through the SAE of model s + 1 mod {n_models}). Two sets of {n_eval} inputs
each, one to fit the maps between two models' units and one to score them: for every pair of
models of a condition, `semi_match` (each unit of A's partner chosen on the fitting set),
`soft_match` (the transport plan fitted on the fitting set) and `ridge` (`Measure.held_out`,
Pearson r) between the raw neurons, the own SAE latents, the other model's SAE latents and the
random dictionary's latents, after dropping units active on fewer than {MIN_ACTIVE} inputs of
either set. Intervals: jackknife over the {n_models} models (each left out with its pairs);
the growth with superposition is the slope of the mean SAE - raw gain on log2(n/m),
jackknifed over the replicate index.
"""
