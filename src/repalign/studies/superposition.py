"""Sparse autoencoders recover the features that toy models store in superposition.

Elhage et al. (2022) showed that a network asked to carry more sparse features
than it has neurons stores them *in superposition*: as nearly orthogonal
directions of its hidden space, so that each neuron responds to a mixture of
features (polysemanticity). Bricken et al. (2023) and Cunningham et al. (2023)
proposed to undo this with a sparse autoencoder (SAE) trained on the hidden
activations, whose latents should recover the features one by one. The claim
tested here: across models trained from different seeds, SAE latents align much
better than raw neurons under measures that match units one to one (the
neurons are seed-dependent mixtures, the features are shared), while a model
without superposition gains nothing from the SAE.

What is run. Toy models (Elhage et al. 2022): ``n`` features ``x_i``, each
zero with probability ``S`` (the sparsity) and uniform on [0, 1] otherwise,
with importances ``I_i = 0.9^i``, are compressed to ``m`` hidden neurons and
reconstructed,

.. math::

    h = \\phi(W x), \\qquad x' = \\mathrm{ReLU}(W^T h + b), \\qquad
    L = \\mathbb{E}_x \\sum_i I_i (x_i - x'_i)^2 ,

with ``W`` of shape ``m x n``, trained by Adam from several seeds. ``phi`` is
the identity (the paper's model: its hidden layer is linear, so the loss is
invariant to rotations ``W -> R W`` and the neuron basis is *not privileged*)
or a ReLU (the paper's "privileged basis" variant, whose neurons are
singled out by the nonlinearity). Four conditions cross the two: with ``m < n``
(superposition) and with ``m = n`` (the control: as many neurons as features).

On each model's hidden activations an SAE (Bricken et al. 2023; Cunningham et
al. 2023) is trained,

.. math::

    f = \\mathrm{ReLU}(W_e (h - b_d) + b_e), \\qquad \\hat h = W_d f + b_d,
    \\qquad L = \\mathbb{E}\\, \\|h - \\hat h\\|^2 + \\lambda \\|f\\|_1 ,

with ``2 n`` latents and the decoder columns renormalised to unit norm after
every Adam step.

The control the claim needs: a *random dictionary of the same size*, the same
SAE before training (``2 n`` random unit-norm decoder columns, the encoder their
transpose, zero biases). Any overcomplete ReLU readout of ``h`` lifts its units
into more, sparser ones, which can match across seeds better than the neurons do
for that reason alone; the SAE's claim holds only where the trained dictionary
beats the random one.

Mapping metrics are fitted and scored on different stimuli: two independent sets
of inputs, one to fit the map between two models' units (the partner of each
unit, the transport plan, the ridge weights) and one to score it. For every
pair of seeds, ``semi_match`` (each unit of A paired with the unit of B it
correlates with most on the fitting inputs, then their correlation on the
scoring inputs), ``soft_match`` (the optimal transport plan between the units
on the fitting inputs, applied to the scoring inputs' correlations) and
``ridge`` (:meth:`repalign.Measure.held_out`: ridge from A's units to B's
fitted on one set, Pearson r of its predictions on the other) are computed
between the raw neurons ``h``, between the SAE latents ``f`` and between the
random dictionary's latents. Units (neurons or latents) active on fewer than
``MIN_ACTIVE`` inputs of either set are dropped first: their correlations are
undefined (dead) or noise.

Intervals: each toy model enters several seed pairs, so the pairs are not
independent; the 95% interval of a mean over pairs is a jackknife over models
(each model left out in turn with all its pairs), with Student's t on
``n_models - 1`` degrees of freedom.

Independent sanity check: feature ``i`` lives in hidden space along
``d_i = h(e_i)`` (the hidden response to the one-hot input; ``W_{:,i}`` for the
linear model). It is *represented* when ``||d_i|| >= 0.5`` (a trained model
either keeps a feature at norm about 1 or drops it) and *recovered* when some
decoder column has cosine at least ``RECOVERY_COSINE`` with ``d_i``.

References
----------
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
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from ._frame import Check, Outcome, Study, StudyConfig, register
from ._stats import jackknife_over_models

__all__ = ["Superposition"]

#: Number of sparse features of every toy model.
N_FEATURES = 20
#: Hidden neurons in superposition (the control has ``N_FEATURES``).
N_HIDDEN_SUPERPOSITION = 5
#: Probability that a feature is zero.
SPARSITY = 0.95
#: Feature importances ``IMPORTANCE_DECAY ** i``.
IMPORTANCE_DECAY = 0.9
#: SAE latents per feature.
DICTIONARY_RATIO = 2
#: The compared measures, and those that match units one to one.
METRICS = ("semi_match", "soft_match", "ridge")
MATCHING = ("semi_match", "soft_match")
#: The unit sets compared: the neurons, the trained SAE's latents, a random dictionary's.
KINDS = ("raw", "sae", "random")
#: (condition, hidden activation), in the order of the figure.
CONDITIONS = (("superposition", "linear"), ("superposition", "relu"),
              ("control", "linear"), ("control", "relu"))
#: Units active on fewer evaluation inputs are dropped before comparing.
MIN_ACTIVE = 10
#: A feature counts as recovered at this decoder cosine.
RECOVERY_COSINE = 0.9
#: A feature counts as represented at this hidden-space norm.
REPRESENTED_NORM = 0.5
#: Adam: inputs per step, learning rates, and the SAE's L1 coefficient.
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
        Toy models (and SAEs) per condition, each from its own seed.
    toy_steps, sae_steps : int
        Adam steps of each toy model and of each SAE.
    n_eval : int
        Inputs of each of the two sets: one fits the maps between units, the
        other scores them.
    """

    n_models: int = 5
    toy_steps: int = 6000
    sae_steps: int = 6000
    n_eval: int = 4000


def _child_seed(seed: int, *keys: int) -> int:
    """A distinct 32-bit seed per (condition, replicate, role)."""
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
                condition: int):
    """Train ``n_models`` toy models side by side; return W (k, m, n) and b (k, n).

    Each model has its own initialisation (Xavier normal, seeded per model) and
    its own input stream; the loss is the sum of the models' losses, so Adam
    updates each model as if it were trained alone.
    """
    import torch

    W = torch.stack([torch.nn.init.xavier_normal_(
        torch.empty(n_hidden, N_FEATURES),
        generator=torch.Generator().manual_seed(_child_seed(seed, condition, s, 0)))
        for s in range(n_models)]).requires_grad_()
    b = torch.zeros(n_models, N_FEATURES, requires_grad=True)
    importance = IMPORTANCE_DECAY ** torch.arange(N_FEATURES, dtype=torch.float32)
    data = torch.Generator().manual_seed(_child_seed(seed, condition, n_models, 1))
    optimizer = torch.optim.Adam([W, b], lr=LR_TOY)
    for _ in range(steps):
        x = _sample((n_models, BATCH_SIZE, N_FEATURES), data)
        x_hat = (_hidden(W, x, activation) @ W + b[:, None]).relu()
        loss = (importance * (x - x_hat) ** 2).sum(-1).mean(-1).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return W.detach(), b.detach()


def _train_saes(W, activation: str, *, l1: float, steps: int, seed: int, condition: int):
    """Train one SAE per toy model on its hidden activations (fresh inputs each step).

    Returns the tensors ``(W_e, b_e, W_d, b_d)`` stacked over models, with
    ``W_d`` of shape (k, m, d) holding unit-norm decoder columns. The encoder
    starts as the transposed decoder (Bricken et al. 2023), the biases at zero.
    """
    import torch

    n_models, n_hidden, _ = W.shape
    size = DICTIONARY_RATIO * N_FEATURES
    decoder = torch.stack([torch.randn(
        n_hidden, size, generator=torch.Generator().manual_seed(_child_seed(seed, condition, s, 2)))
        for s in range(n_models)])
    decoder /= decoder.norm(dim=1, keepdim=True)
    W_d = decoder.clone().requires_grad_()
    W_e = decoder.transpose(1, 2).clone().requires_grad_()
    b_e = torch.zeros(n_models, size, requires_grad=True)
    b_d = torch.zeros(n_models, n_hidden, requires_grad=True)
    data = torch.Generator().manual_seed(_child_seed(seed, condition, n_models, 3))
    optimizer = torch.optim.Adam([W_e, b_e, W_d, b_d], lr=LR_SAE)
    for _ in range(steps):
        h = _hidden(W, _sample((n_models, BATCH_SIZE, N_FEATURES), data), activation)
        f = _encode((W_e, b_e, W_d, b_d), h)
        h_hat = f @ W_d.transpose(1, 2) + b_d[:, None]
        loss = (((h - h_hat) ** 2).sum(-1) + l1 * f.sum(-1)).mean(-1).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            W_d /= W_d.norm(dim=1, keepdim=True)
    return tuple(t.detach() for t in (W_e, b_e, W_d, b_d))


def _encode(sae, h):
    """SAE latents ``ReLU(W_e (h - b_d) + b_e)``: h (k, b, m) -> (k, b, d)."""
    W_e, b_e, _, b_d = sae
    return ((h - b_d[:, None]) @ W_e.transpose(1, 2) + b_e[:, None]).relu()


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


def _run_condition(index: int, condition: str, activation: str, x_fit, x_test, *,
                   n_models: int, toy_steps: int, sae_steps: int, l1: float, seed: int,
                   ridge):
    """Train the models and SAEs of one condition; one table row per (metric, seed pair)."""
    n_hidden = N_HIDDEN_SUPERPOSITION if condition == "superposition" else N_FEATURES
    W, _ = _train_toys(n_hidden, activation, n_models=n_models, steps=toy_steps, seed=seed,
                       condition=index)
    dictionaries = {kind: _train_saes(W, activation, l1=l1, steps=steps, seed=seed,
                                      condition=index)
                    for kind, steps in (("sae", sae_steps), ("random", 0))}
    h = {name: _hidden(W, x.expand(n_models, -1, -1), activation)
         for name, x in (("fit", x_fit), ("test", x_test))}
    latents = {name: {"raw": hn, **{kind: _encode(d, hn) for kind, d in dictionaries.items()}}
               for name, hn in h.items()}
    represented, recovered = _feature_recovery(W, dictionaries["sae"], activation)
    _, recovered_random = _feature_recovery(W, dictionaries["random"], activation)
    r2, l0 = _sae_fit(h["test"], latents["test"]["sae"], dictionaries["sae"])
    mono = _monosemanticity(W)
    units = {kind: [_active_units(fit, test) for fit, test in
                    zip(latents["fit"][kind].double().numpy(),
                        latents["test"][kind].double().numpy())] for kind in KINDS}
    rows = []
    for metric in METRICS:
        for a, b in combinations(range(n_models), 2):
            values = {kind: _held_out(metric, ridge, units[kind][a][0], units[kind][b][0],
                                      units[kind][a][1], units[kind][b][1])
                      for kind in KINDS}
            rows.append({
                "condition": condition, "hidden": activation, "metric": metric,
                "seed_pair": f"{a}-{b}", "seed_a": a, "seed_b": b, **values,
                "gain": values["sae"] - values["raw"],
                "gain_random": values["random"] - values["raw"],
                "sae_minus_random": values["sae"] - values["random"],
                "n_features": N_FEATURES, "n_hidden": n_hidden,
                "dictionary_size": DICTIONARY_RATIO * N_FEATURES, "sparsity": SPARSITY,
                "units_a": units["raw"][a][0].shape[1], "units_b": units["raw"][b][0].shape[1],
                "latents_a": units["sae"][a][0].shape[1],
                "latents_b": units["sae"][b][0].shape[1],
                "random_latents_a": units["random"][a][0].shape[1],
                "random_latents_b": units["random"][b][0].shape[1],
                "represented_a": int(represented[a]), "represented_b": int(represented[b]),
                "recovered_a": int(recovered[a]), "recovered_b": int(recovered[b]),
                "recovered_random_a": int(recovered_random[a]),
                "recovered_random_b": int(recovered_random[b]),
                "sae_r2_a": float(r2[a]), "sae_r2_b": float(r2[b]),
                "sae_l0_a": float(l0[a]), "sae_l0_b": float(l0[b]),
                "monosemanticity_a": float(mono[a]), "monosemanticity_b": float(mono[b]),
            })
    return rows


def _label(condition: str, hidden: str) -> str:
    return f"{condition}\n{hidden} hidden"


def _mean_gain(table, condition: str, hidden: str, metric: str) -> float:
    rows = table[(table["condition"] == condition) & (table["hidden"] == hidden)
                 & (table["metric"] == metric)]
    return float(rows["gain"].mean())


def _recovery(table, condition: str, hidden: str):
    """Per model of a condition: (represented, recovered), read from the pair rows."""
    rows = table[(table["condition"] == condition) & (table["hidden"] == hidden)]
    models = {}
    for side in ("a", "b"):
        for s, rep, rec in zip(rows[f"seed_{side}"], rows[f"represented_{side}"],
                               rows[f"recovered_{side}"]):
            models[s] = (int(rep), int(rec))
    return [models[s] for s in sorted(models)]


def _checks(table):
    """The claims, tested on the table."""
    def rows(condition, hidden, metric):
        return table[(table["condition"] == condition) & (table["hidden"] == hidden)
                     & (table["metric"] == metric)]

    def describe(frame):
        return (f"held out: raw {frame['raw'].mean():.3f} -> SAE {frame['sae'].mean():.3f} "
                f"(gain {frame['gain'].mean():+.3f}, positive in {int((frame['gain'] > 0).sum())}"
                f"/{len(frame)} seed pairs); random dictionary {frame['random'].mean():.3f}")

    checks = []
    models = _recovery(table, "superposition", "linear")
    fewest = min(rep for rep, _ in models)
    checks.append(Check(
        f"the toy models (linear hidden layer, m = {N_HIDDEN_SUPERPOSITION} neurons) store more "
        "features than they have neurons (superposition)", fewest > N_HIDDEN_SUPERPOSITION,
        f"represented features per model (||W_i|| >= {REPRESENTED_NORM}): "
        f"{[rep for rep, _ in models]} of {N_FEATURES}"))
    for metric in MATCHING:
        frame = rows("superposition", "linear", metric)
        checks.append(Check(
            f"in superposition, SAE latents align across seeds better than raw neurons under "
            f"{metric}, in every seed pair", bool((frame["gain"] > 0).all()), describe(frame)))
    for metric in METRICS:
        frame = rows("superposition", "linear", metric)
        mean, low, high = _interval(frame, "sae_minus_random")
        share = frame["gain_random"].mean() / frame["gain"].mean()
        n_models = len(set(frame["seed_a"]) | set(frame["seed_b"]))
        checks.append(Check(
            f"in superposition, SAE latents align across seeds better than a random dictionary "
            f"of the same size ({DICTIONARY_RATIO * N_FEATURES} latents) under {metric}: the 95% "
            "interval of the mean SAE - random difference lies above 0",
            low > 0,
            f"held out: SAE {frame['sae'].mean():.3f}, random {frame['random'].mean():.3f}, raw "
            f"{frame['raw'].mean():.3f}; SAE - random {mean:+.3f} [{low:+.3f}, {high:+.3f}] "
            f"(jackknife over {n_models} models); the random dictionary "
            f"reproduces {share:.0%} of the SAE's gain over the neurons"))
    for metric in MATCHING:
        frame = rows("control", "relu", metric)
        reference = _mean_gain(table, "superposition", "linear", metric)
        checks.append(Check(
            f"without superposition, in a privileged basis (ReLU hidden layer, m = n), the SAE "
            f"gains at most a quarter of its superposition gain under {metric}",
            bool(frame["gain"].mean() <= 0.25 * reference),
            f"{describe(frame)}; superposition gain {reference:+.3f}"))
    for metric in MATCHING:
        frame = rows("control", "linear", metric)
        checks.append(Check(
            f"without superposition but with a linear hidden layer (no privileged basis: the "
            f"loss is invariant to rotations of h), raw neurons are a seed-dependent rotation, so "
            f"the SAE gains under {metric} too, in every seed pair",
            bool((frame["gain"] > 0).all()), describe(frame)))
    frame = rows("control", "linear", "ridge")
    checks.append(Check(
        "ridge, invariant to rotations of the predicting units, already aligns the raw neurons "
        "of the linear control (mean raw >= 0.95): there the matching measures' gain is a "
        "rotation, not missing information", bool(frame["raw"].mean() >= 0.95), describe(frame)))
    fraction = np.mean([rec / rep for rep, rec in models])
    checks.append(Check(
        f"the SAE decoders recover most represented features in superposition (mean fraction "
        f">= 0.75 at cosine >= {RECOVERY_COSINE})", bool(fraction >= 0.75),
        f"recovered/represented per model: {[f'{rec}/{rep}' for rep, rec in models]} "
        f"(mean fraction {fraction:.2f})"))
    return checks


def _verdict(table) -> str:
    """Markdown: where the SAE beats the random dictionary in superposition, and why."""
    sup = table[(table["condition"] == "superposition") & (table["hidden"] == "linear")]
    beats, not_beats = [], []
    for metric, frame in sup.groupby("metric", sort=False):
        mean, low, high = _interval(frame, "sae_minus_random")
        share = frame["gain_random"].mean() / frame["gain"].mean()
        text = (f"{metric} (SAE - random {mean:+.3f} [{low:+.3f}, {high:+.3f}], the random "
                f"dictionary giving {share:.0%} of the SAE's gain)")
        (beats if low > 0 else not_beats).append(text)
    models = _recovery(table, "superposition", "linear")
    random = sup[["recovered_random_a", "recovered_random_b"]].to_numpy().mean()
    return (f"In superposition (linear hidden layer), the trained SAE beats a random dictionary "
            f"of the same size under: {'; '.join(beats) or 'no metric'}. It does not under: "
            f"{'; '.join(not_beats) or 'no metric'}. The random dictionary recovers "
            f"{random:.1f} features (decoder cosine >= {RECOVERY_COSINE}) against the SAE's "
            f"{np.mean([rec for _, rec in models]):.1f}, so what it reproduces of the gain comes "
            "from an overcomplete ReLU readout as such, not from finding the features.")


def _interval(frame, column: str) -> tuple:
    """Mean of ``column`` over the seed pairs of ``frame`` and its jackknife 95% interval."""
    return jackknife_over_models(frame, lambda rows: rows[column].mean())


def _figure(table):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(15.0, 4.2), layout="constrained")
    axes = figure.subplots(1, len(METRICS) + 1)
    labels = [_label(*c) for c in CONDITIONS]
    for ax, metric in zip(axes, METRICS):
        for i, (condition, hidden) in enumerate(CONDITIONS):
            rows = table[(table["condition"] == condition) & (table["hidden"] == hidden)
                         & (table["metric"] == metric)]
            for raw, sae in zip(rows["raw"], rows["sae"]):
                ax.plot([i - 0.15, i + 0.15], [raw, sae], color="grey", alpha=0.5, lw=0.8)
            ax.scatter(np.full(len(rows), i - 0.15), rows["raw"], color="tab:blue", s=14,
                       label="raw neurons" if i == 0 else None, zorder=3)
            ax.scatter(np.full(len(rows), i + 0.15), rows["sae"], color="tab:orange", s=14,
                       label="SAE latents" if i == 0 else None, zorder=3)
            ax.scatter(np.full(len(rows), i + 0.3), rows["random"], color="tab:green", s=14,
                       marker="x", label="random dictionary" if i == 0 else None, zorder=3)
        ax.set_xticks(range(len(CONDITIONS)), labels, fontsize="small")
        ax.set_ylabel(f"{metric}, held out (seed pairs)")
        ax.set_title(metric)
        ax.set_ylim(min(0.0, float(table.loc[table["metric"] == metric, list(KINDS)]
                                   .to_numpy().min()) - 0.05), 1.02)
    axes[0].legend(fontsize="small", loc="lower left")
    ax = axes[-1]
    for i, (condition, hidden) in enumerate(CONDITIONS):
        models = _recovery(table, condition, hidden)
        ax.scatter(np.full(len(models), i), [rec / rep for rep, rec in models], color="k", s=14)
        ax.text(i, 1.04, f"{np.mean([rep for rep, _ in models]):.1f}", ha="center",
                fontsize="small")
    ax.set_xticks(range(len(CONDITIONS)), labels, fontsize="small")
    ax.set_ylim(0, 1.1)
    ax.set_ylabel(f"fraction of represented features\nrecovered (cosine >= {RECOVERY_COSINE})")
    ax.set_title("SAE feature recovery (mean represented above)", fontsize="medium")
    return figure



def _gain_lines(table):
    """Markdown: mean raw, SAE, random and the differences with intervals, per condition."""
    lines = ["| condition | hidden | m | metric | raw | random | SAE | SAE - raw [95%] | "
             "SAE - random [95%] |", "|---|---|---|---|---|---|---|---|---|"]
    for (condition, hidden, metric), frame in table.groupby(["condition", "hidden", "metric"],
                                                            sort=False):
        gain, random = _interval(frame, "gain"), _interval(frame, "sae_minus_random")
        lines.append(f"| {condition} | {hidden} | {frame['n_hidden'].iloc[0]} | {metric} | "
                     f"{frame['raw'].mean():.3f} | {frame['random'].mean():.3f} | "
                     f"{frame['sae'].mean():.3f} | " + " | ".join(
                         f"{m:+.3f} [{lo:+.3f}, {hi:+.3f}]" for m, lo, hi in (gain, random))
                     + " |")
    return lines


def _recovery_lines(table):
    """Markdown: per condition, the mean features represented and recovered, and the SAE fit."""
    lines = ["| condition | hidden | represented | recovered | recovered by random | SAE R^2 | "
             "SAE L0 | neuron monosemanticity |", "|---|---|---|---|---|---|---|---|"]
    for condition, hidden in CONDITIONS:
        models = _recovery(table, condition, hidden)
        frame = table[(table["condition"] == condition) & (table["hidden"] == hidden)]
        lines.append(
            f"| {condition} | {hidden} | {np.mean([rep for rep, _ in models]):.1f} | "
            f"{np.mean([rec for _, rec in models]):.1f} | "
            f"{frame[['recovered_random_a', 'recovered_random_b']].to_numpy().mean():.1f} | "
            f"{frame[['sae_r2_a', 'sae_r2_b']].to_numpy().mean():.3f} | "
            f"{frame[['sae_l0_a', 'sae_l0_b']].to_numpy().mean():.2f} | "
            f"{frame[['monosemanticity_a', 'monosemanticity_b']].to_numpy().mean():.2f} |")
    return lines


@register
class Superposition(Study):
    """Raw neurons against SAE latents across seeds, in and out of superposition.

    ``results.csv`` has one row per condition, metric and pair of seeds:
    ``condition`` (``"superposition"``: m < n; ``"control"``: m = n),
    ``hidden`` (``"linear"`` or ``"relu"``), ``metric``, ``seed_pair``,
    ``seed_a``, ``seed_b``, ``raw`` and ``sae`` (the measure between the two
    models' raw neurons and between their SAE latents), ``gain`` (``sae -
    raw``), ``n_features``, ``n_hidden``, ``dictionary_size``, ``sparsity``,
    the units compared after dropping inactive ones (``units_a/b``,
    ``latents_a/b``), each model's represented and recovered features
    (``represented_a/b``, ``recovered_a/b``), and its SAE's fraction of
    variance explained and mean number of active latents (``sae_r2_a/b``,
    ``sae_l0_a/b``), and its neurons' monosemanticity (mean over neurons of
    ``max_i |W_ji| / ||W_j||``, ``monosemanticity_a/b``).
    """

    name = "superposition"
    title = "Superposition: SAE latents align across seeds where raw neurons do not"
    reference = ("Elhage et al. (2022). Toy models of superposition. Transformer "
                 "Circuits Thread; Bricken et al. (2023). Towards monosemanticity. "
                 "Transformer Circuits Thread; Cunningham et al. (2023). Sparse "
                 "autoencoders find highly interpretable features in language models. "
                 "arXiv:2309.08600.")
    Config = Config
    quick_settings = {"n_models": 3, "toy_steps": 1500, "sae_steps": 1500, "n_eval": 2000}

    def measure(self, config):
        import pandas as pd
        import torch

        import repalign

        torch.set_num_threads(1)
        x_fit, x_test = (_sample((config.n_eval, N_FEATURES),
                                 torch.Generator().manual_seed(_child_seed(config.seed, 99, i)))
                         for i in range(2))
        ridge = repalign.get("ridge")
        rows = []
        for index, (condition, hidden) in enumerate(CONDITIONS):
            rows += _run_condition(index, condition, hidden, x_fit, x_test,
                                   n_models=config.n_models, toy_steps=config.toy_steps,
                                   sae_steps=config.sae_steps, l1=L1, seed=config.seed,
                                   ridge=ridge)
        return Outcome(pd.DataFrame(rows))

    def checks(self, outcome, config):
        return _checks(outcome.table)

    def figure(self, outcome, config):
        return _figure(outcome.table)

    def numbers(self, outcome, config):
        n_models = config.n_models
        return "\n".join([
            f"Held-out values (maps fitted on one set of {config.n_eval} inputs, scored on "
            f"another), mean over {n_models * (n_models - 1) // 2} seed pairs per condition, "
            f"with 95% intervals from a jackknife over the {n_models} models:", "",
            *_gain_lines(outcome.table), "",
            f"Per model (mean over {n_models}): features represented (of {N_FEATURES}) and "
            f"recovered by an SAE decoder column (cosine >= {RECOVERY_COSINE}), the SAE's "
            "fraction of hidden variance explained on the evaluation inputs, and its mean number "
            "of active latents (the inputs have "
            f"{N_FEATURES * (1 - SPARSITY):.1f} active features on average), and the neurons' "
            "monosemanticity, the mean over neurons of max_i |W_ji| / ||W_j|| (1: one feature "
            "per neuron; 0.71: two features read equally):", "", *_recovery_lines(outcome.table),
            "", _verdict(outcome.table), "",
            "The control's premise is that with m = n a ReLU hidden layer makes its neurons "
            "monosemantic, so that the raw neurons already match across seeds. Where its "
            "monosemanticity (table above) stays well below 1, its neurons read several "
            "features each and the SAE gains there as well: the control check then fails "
            "because the control is not monosemantic, not because the SAE misbehaves.",
        ])

    def description(self, outcome, config):
        n_models, toy_steps, sae_steps, n_eval = (config.n_models, config.toy_steps,
                                                  config.sae_steps, config.n_eval)
        return f"""
Toy models of superposition (Elhage et al. 2022): n = {N_FEATURES} features, each zero with
probability S = {SPARSITY} and uniform on [0, 1] otherwise, importances {IMPORTANCE_DECAY}^i;
`h = phi(W x)`, `x' = ReLU(W^T h + b)`, importance-weighted squared error, Adam (lr {LR_TOY},
batch {BATCH_SIZE}, {toy_steps} steps), {n_models} models per condition from their own seeds.
Conditions: superposition (m = {N_HIDDEN_SUPERPOSITION} neurons) and control (m = n =
{N_FEATURES}), each with a linear hidden layer (`phi` = identity, the paper's model, whose loss
is invariant to rotations of h) and with a ReLU hidden layer (the paper's privileged-basis
variant). Per model, a sparse autoencoder with {DICTIONARY_RATIO * N_FEATURES} latents (ReLU
encoder, unit-norm decoder columns, L1 coefficient {L1}; Adam lr {LR_SAE}, {sae_steps} steps of
{BATCH_SIZE} fresh inputs). Control: a random dictionary of the same size, the same SAE
before training (random unit-norm decoder, encoder its transpose, zero biases). Two sets of
{n_eval} inputs each, one to fit the maps between two models' units and one to score them:
for every pair of models of a condition, `semi_match` (each unit of A's partner chosen on the
fitting set), `soft_match` (the transport plan fitted on the fitting set) and `ridge`
(`Measure.held_out`, Pearson r) between the raw neurons, between the SAE latents and between
the random dictionary's latents, after dropping units active on fewer than {MIN_ACTIVE} inputs
of either set. Intervals: jackknife over the {n_models} models (each left out with its pairs).
"""
