"""Which measure finds the corresponding layer? Kornblith et al.'s (2019) sanity test.

Kornblith, Norouzi, Lee & Hinton (2019, section 6.1, Table 2) trained 10
architecturally identical 10-layer CNNs (Tiny-10, their Table E.1: eight
conv-BN-ReLU layers, global average pooling, logits; Table E.1 names it the
network of Figure 2, of which Table 2 is the numerical summary) on CIFAR-10
from different initialisations and asked, for each layer of one network, whether a similarity
index ranks the layer at the same depth of another network as the most similar,
logits excluded. Their Table 2 (accuracy, %): CCA (mean rho) 1.4, CCA (R^2_CCA)
10.6, SVCCA (mean rho) 9.9, SVCCA (R^2_CCA) 15.1, PWCCA 11.1, linear regression
45.4, linear HSIC 22.2, linear CKA 99.3, RBF CKA 0.2 / 0.4 / 0.8 80.6 / 99.1 /
99.3; SVCCA keeps 0.99 of the variance; the asymmetric indexes (PWCCA, linear
regression) are symmetrised as ``S + S^T``; representations are computed on
the CIFAR-10 training set (their Figure 2, of which Table 2 is the summary;
Figure F.8: CCA-based indexes are sensitive to the number of examples).

What is run. No CIFAR-10 offline: scikit-learn's 8x8 digits (1797 images)
instead, stratified split, the networks trained on the training part. The
network is Tiny-10 cut to 8x8 inputs (:func:`tiny10`): conv 3x3 ``w1`` x2,
conv 3x3 ``w2`` stride 2, conv 3x3 ``w2`` x2, conv 3x3 ``w3`` (stride 1: a second
stride-2 layer would leave a 2x2 map that the valid-padding layer cannot take),
conv 3x3 ``w3`` valid padding, conv 1x1 ``w3``, each conv-BatchNorm-ReLU, then
global average pooling and the logits; spatial sizes 8, 8, 4, 4, 4, 4, 2, 2, 1.
Each of ``n_nets`` networks has its own seed (initialisation and batch order).
The 9 non-logit layers are the representations, on the training images as in
the paper, conv maps flattened (all positions and channels of a layer form the
feature vector of an image). The paper keeps more examples than features
(50,000 images; Tiny-10's widest layer has 32 x 32 x 16 = 16,384 features, a
ratio of 0.33); here the widths are chosen so that every layer has fewer features
than there are training images (``w1 = 8``: 512 features for 1437 images, a
ratio of 0.36), which :class:`LayerId` enforces, so no CCA-based index is 1 by
construction. (The paper does not spell out how conv maps enter; flattening is
what its examples-over-features argument and its 50,000 examples imply.)
For an ordered pair of networks (A, B) and layer ``i`` of A, the
measure's pick is ``argmax_j s(A_i, B_j)`` (``argmin`` for Procrustes, a
distance), asymmetric measures symmetrised as ``s(A_i, B_j) + s(B_j, A_i)``;

.. math::

    \\text{accuracy} = \\frac{1}{L} \\sum_{i=1}^{L} [\\text{pick}(A_i) = i],

with chance ``1 / L`` (``L = 9``). The interval of a measure's accuracy is the
jackknife over networks (:func:`~repalign.studies._stats.jackknife_over_models`;
ordered pairs share networks, so they are not independent). SVCCA (R^2) is CCA
(R^2) of the principal components that keep 0.99 of the variance, the
components SVCCA keeps. Procrustes is not in Table 2 (an extension); linear
HSIC is not run (no registered measure).

Full run (default settings: 10 networks of widths 8/16/32, 30 epochs, held-out
digit accuracy 0.978-0.994; 1437 training images, the stimuli, and 360 test
images; 14 minutes on the shared 2-core CPU), accuracy % with the jackknife 95%
interval over networks, beside Table 2:

================== ================== =========
measure            here               Table 2
================== ================== =========
cka (rbf 0.8)      57.7 (51.7-63.6)   99.3
cka (rbf 0.4)      56.5 (47.9-65.2)   99.1
cka (linear)       53.5 (45.5-61.5)   99.3
cka (rbf 0.2)      51.4 (44.6-58.1)   80.6
procrustes         49.6 (45.4-53.9)   -
linear regression  40.2 (36.9-43.6)   45.4
svcca (mean rho)   1.1 (-1.4-3.6)     9.9
svcca (R^2)        1.1 (-1.4-3.6)     15.1
pwcca              0.9 (-0.6-2.4)     11.1
cca (mean rho)     0.0                1.4
cca (R^2)          0.0                10.6
linear HSIC        not run            22.2
================== ================== =========

Partly reproduced. The paper's ordering holds: CKA (every kernel) > linear
regression > the CCA family, CKA's lead over the best CCA-based index +52.3
points (95% CI +44.3 to +60.4); linear regression (40.2%) is near the paper's
45.4%, and the CCA family fails as in the paper, picking by size rather than
depth (mostly the 32-unit average pool, whose few canonical correlations with
any layer are all high, or a 512-feature layer). CKA's near-perfect
identification is not reproduced (53.5% against 99.3%), and the summary measures
why: within a network neighbouring layers have linear CKA 0.92-0.96, and across
seeds a layer is about as similar to the neighbour of its counterpart as to the
counterpart itself (layer 2 of A: 0.911 with layer 2 of B, 0.920 with layer 1),
so the argmax falls on a neighbour in about half of the pairs (layer 2 picks
layer 1 in 71%, layer 5 picks layer 6 in 39%); the last conv layer (a 2x2 map)
and its global average are indistinguishable (within-network CKA 1.00, each
picks layer 8 in 79%). While designing the study, twice the widths (16/32/64,
47%) and 16x16 upsampled digits with the full Tiny-10 layout (53%; 4 networks
each, linear CKA only) did no better: on 8x8 digits the layers of these
networks are not distinct enough for any index to tell neighbours apart across
seeds. The CCA-based indexes fall below the paper's (0-1% against 1.4-15.1%).

References
----------
Kornblith, Norouzi, Lee & Hinton (2019). Similarity of neural network
representations revisited. ICML, PMLR 97.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from dataclasses import dataclass
from itertools import permutations

import numpy as np

from ._frame import Check, Outcome, Study, StudyConfig, register

__all__ = ["LayerId", "tiny10"]

#: The compared measures: label -> (registered name, parameters, variance kept by a
#: principal-component truncation of every representation first, or None).
MEASURES = {
    "cca (mean rho)": ("cca", {}, None),
    "cca (R^2)": ("cca", {"statistic": "mean_r2"}, None),
    "svcca (mean rho)": ("svcca", {"variance": 0.99}, None),
    "svcca (R^2)": ("cca", {"statistic": "mean_r2"}, 0.99),
    "pwcca": ("pwcca", {}, None),
    "linear regression": ("linear_regression", {}, None),
    "cka (linear)": ("cka", {}, None),
    "cka (rbf 0.2)": ("cka", {"kernel": "rbf", "sigma_frac": 0.2}, None),
    "cka (rbf 0.4)": ("cka", {"kernel": "rbf", "sigma_frac": 0.4}, None),
    "cka (rbf 0.8)": ("cka", {"kernel": "rbf", "sigma_frac": 0.8}, None),
    "procrustes": ("procrustes", {}, None),
}
#: The CCA-based measures, compared with linear CKA in the checks.
CCA_FAMILY = ("cca (mean rho)", "cca (R^2)", "svcca (mean rho)", "svcca (R^2)", "pwcca")
#: Kornblith et al.'s (2019) Table 2 accuracies (%), for the measures it has.
PAPER = {"cca (mean rho)": 1.4, "cca (R^2)": 10.6, "svcca (mean rho)": 9.9,
         "svcca (R^2)": 15.1, "pwcca": 11.1, "linear regression": 45.4,
         "cka (linear)": 99.3, "cka (rbf 0.2)": 80.6, "cka (rbf 0.4)": 99.1,
         "cka (rbf 0.8)": 99.3}
#: Spatial side of each representation of :func:`tiny10` on 8x8 inputs, and the
#: width (``w1``, ``w2`` or ``w3``, as 0, 1, 2) of its channels.
_SIDES = (8, 8, 4, 4, 4, 4, 2, 2, 1)
_WIDTH_OF = (0, 0, 1, 1, 1, 2, 2, 2, 2)
#: The representations' layer names in :func:`tiny10`.
LAYERS = tuple(f"relu{i}" for i in range(1, 9)) + ("gap",)


def tiny10(widths=(8, 16, 32)):
    """Kornblith et al.'s Tiny-10 (Table E.1) cut to 8x8 one-channel inputs.

    ``64 -> unflatten (1, 8, 8) -> [conv -> BatchNorm2d -> ReLU] x 8 -> global
    average pool -> 10``, the convs 3x3 ``w1`` x2, 3x3 ``w2`` stride 2, 3x3 ``w2``
    x2, 3x3 ``w3``, 3x3 ``w3`` valid padding, 1x1 ``w3`` (padding 1 elsewhere).

    Parameters
    ----------
    widths : tuple of int, default=(8, 16, 32)
        ``(w1, w2, w3)``; Tiny-10 has (16, 32, 64) on 32x32 images.

    Returns
    -------
    torch.nn.Sequential
        Layers ``conv{i}, bn{i}, relu{i}`` (i = 1..8), ``gap``, ``out``.
    """
    from torch import nn

    w1, w2, w3 = widths
    # (in, out, kernel, stride, padding) of the eight convs
    convs = [(1, w1, 3, 1, 1), (w1, w1, 3, 1, 1), (w1, w2, 3, 2, 1), (w2, w2, 3, 1, 1),
             (w2, w2, 3, 1, 1), (w2, w3, 3, 1, 1), (w3, w3, 3, 1, 0), (w3, w3, 1, 1, 0)]
    layers = OrderedDict(unflatten=nn.Unflatten(1, (1, 8, 8)))
    for i, (a, b, k, stride, pad) in enumerate(convs, start=1):
        layers[f"conv{i}"] = nn.Conv2d(a, b, k, stride=stride, padding=pad)
        layers[f"bn{i}"] = nn.BatchNorm2d(b)
        layers[f"relu{i}"] = nn.ReLU()
    layers["gap"] = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
    layers["out"] = nn.Linear(w3, 10)
    return nn.Sequential(layers)


def feature_counts(widths) -> list:
    """Features of each flattened representation of :func:`tiny10` (side^2 x channels)."""
    return [side * side * widths[w] for side, w in zip(_SIDES, _WIDTH_OF)]


def _representations(split, *, seed: int, n_nets: int, widths, epochs: int):
    """Train ``n_nets`` networks; ``{"net{s}/L{i}": activations on the training
    images}`` and each network's held-out accuracy."""
    import torch

    import repalign

    from ._nets import train

    X_train, X_test, y_train, y_test = split
    reps, accuracy = {}, {}
    for s in range(n_nets):
        net_seed = int(np.random.SeedSequence([seed, s]).generate_state(1)[0])
        torch.manual_seed(net_seed)
        net = train(tiny10(widths), X_train, y_train, seed=net_seed, epochs=epochs)
        logits = repalign.extract(net, torch.as_tensor(X_test), layers=["out"],
                                  progress=False)["out"]
        accuracy[s] = float(np.mean(logits.argmax(axis=1) == y_test))
        acts = repalign.extract(net, torch.as_tensor(X_train), layers=list(LAYERS),
                                pool="flatten", progress=False)
        for i, name in enumerate(LAYERS, start=1):
            reps[f"net{s}/L{i}"] = acts[name].astype(np.float64)
    return reps, accuracy


def principal_scores(X, variance: float):
    """The leading principal-component scores of ``X`` that SVCCA keeps.

    The fewest leading components of the centred ``X`` whose variance is at
    least ``variance`` of the total, as :class:`repalign.measures.cca.SVCCA`
    keeps them (components above the rank tolerance ``S_max max(n, d) eps``,
    cumulative ``S_k^2`` up to ``variance`` of their sum); CCA of these scores
    is SVCCA.
    """
    Xc = X - X.mean(axis=0)
    U, S, _ = np.linalg.svd(Xc, full_matrices=False)
    S = S[S > S[0] * max(Xc.shape) * np.finfo(Xc.dtype).eps]
    explained = np.cumsum(S**2)
    k = int(np.searchsorted(explained, variance * explained[-1] * (1 - 1e-12))) + 1
    return U[:, :k] * S[:k]


def _matrices(reps, name, params, n_nets, depth):
    """The measure's ``depth x depth`` matrix ``s(A_i, B_j)`` for each ordered pair
    (A, B) of networks, symmetrised for an asymmetric measure and negated for a
    distance, so that the pick is always the row's argmax."""
    import repalign

    measure = repalign.get(name, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", repalign.DegenerateWarning)
        frame = repalign.grid(reps, [(name, params)], pairs="across_models").to_dataframe()
    value = {}
    for a, b, v in zip(frame["a"], frame["b"], frame["value"]):
        value[a, b] = v
        value.setdefault((b, a), v)  # a symmetric measure has each unordered pair once
    layers = range(1, depth + 1)
    matrices = {}
    for A, B in permutations(range(n_nets), 2):
        matrix = np.array([[value[f"net{A}/L{i}", f"net{B}/L{j}"] for j in layers]
                           for i in layers])
        if not measure.symmetric:  # Kornblith et al.'s S + S^T
            matrix = matrix + np.array([[value[f"net{B}/L{j}", f"net{A}/L{i}"] for j in layers]
                                        for i in layers])
        matrices[A, B] = -matrix if measure.kind == "distance" else matrix
    return matrices


def _picks(matrices):
    """The layer of B (1-based) picked for each layer of A, per ordered pair."""
    return {pair: np.nanargmax(np.where(np.isnan(m), -np.inf, m), axis=1) + 1
            for pair, m in matrices.items()}


def _identify(reps, net_accuracy, config) -> tuple:
    """One row per measure and ordered pair of networks; each measure's mean
    across-network matrix (in the measure's own sign) and confusion counts."""
    import json

    rows, mean, confusion = [], {}, {}
    depth, n_nets = len(LAYERS), config.n_nets
    truncated = {}
    for label in config.measures:
        name, params, variance = MEASURES[label]
        if variance is not None and variance not in truncated:
            truncated[variance] = {k: principal_scores(X, variance) for k, X in reps.items()}
        matrices = _matrices(truncated[variance] if variance is not None else reps, name,
                             params, n_nets, depth)
        sign = -1.0 if label == "procrustes" else 1.0
        mean[label] = sign * np.mean(list(matrices.values()), axis=0)
        confusion[label] = np.zeros((depth, depth), dtype=int)
        for (A, B), picked in _picks(matrices).items():
            confusion[label][np.arange(depth), picked - 1] += 1
            rows.append({
                "measure": label, "name": name, "params": json.dumps(params, sort_keys=True),
                "pc_variance": variance, "net_a": A, "net_b": B, "seed_pair": f"{A}-{B}",
                "accuracy": float(np.mean(picked == np.arange(1, depth + 1))),
                "picks": ";".join(map(str, picked)), "n_layers": depth, "chance": 1 / depth,
                "accuracy_a": net_accuracy[A], "accuracy_b": net_accuracy[B],
            })
    return rows, mean, confusion


def _within_network_cka(reps, n_nets):
    """Linear CKA between the layers of each network, averaged over the networks."""
    import repalign

    depth = len(LAYERS)
    frame = repalign.grid(reps, ["cka"], pairs="within_model").to_dataframe()
    value = {(a, b): v for a, b, v in zip(frame["a"], frame["b"], frame["value"])}
    total = np.zeros((depth, depth))
    for s in range(n_nets):
        for i in range(1, depth + 1):
            for j in range(1, depth + 1):
                a, b = f"net{s}/L{i}", f"net{s}/L{j}"
                total[i - 1, j - 1] += 1.0 if i == j else value.get((a, b), value.get((b, a)))
    return total / n_nets


def _intervals(table, measures):
    """Each measure's mean accuracy and its jackknife 95% interval over networks."""
    from ._stats import jackknife_over_models

    return {m: jackknife_over_models(table[table["measure"] == m],
                                     lambda rows: rows["accuracy"].mean(),
                                     columns=("net_a", "net_b"))
            for m in measures}


def _difference(table, first, second):
    """Mean accuracy of ``first`` minus ``second`` over the ordered pairs, with its
    jackknife 95% interval over networks."""
    from ._stats import jackknife_over_models

    wide = table.pivot_table(index=["net_a", "net_b"], columns="measure",
                             values="accuracy").reset_index()
    return jackknife_over_models(wide, lambda rows: (rows[first] - rows[second]).mean(),
                                 columns=("net_a", "net_b"))


@dataclass(frozen=True)
class Config(StudyConfig):
    """Settings of the layer_id study (defaults: the full run).

    Attributes
    ----------
    n_nets : int
        Networks, each from its own seed (quick 4, full 10 as in the paper).
    widths : tuple of int
        Channels ``(w1, w2, w3)`` of :func:`tiny10` ((8, 16, 32) in both); every
        layer must have fewer features than training images.
    epochs : int
        Training epochs of every network (quick 10, full 30).
    test_size : float
        Held-out share of the digits (0.2: 1437 training images, the stimuli,
        and 360 test images, for the networks' accuracy).
    measures : tuple of str
        Labels of :data:`MEASURES` compared (every one in both runs).
    """

    n_nets: int = 10
    widths: tuple = (8, 16, 32)
    epochs: int = 30
    test_size: float = 0.2
    measures: tuple = tuple(MEASURES)


@register
class LayerId(Study):
    """How often each measure picks the corresponding layer of a network from another seed.

    The seed of a run seeds the train/test split and every network's
    initialisation and batch order.

    ``results.csv`` has one row per measure and ordered pair of networks:
    ``measure`` (label), ``name`` and ``params`` (the registered measure),
    ``pc_variance`` (variance kept by the principal-component truncation the
    representations get first, empty if none), ``net_a``, ``net_b``,
    ``seed_pair``, ``accuracy``, ``picks`` (the layer of B picked for each layer
    of A, ``;``-separated), ``n_layers``, ``chance`` (``1 / n_layers``),
    ``accuracy_a`` and ``accuracy_b`` (held-out digit accuracy of the two
    networks).
    """

    name = "layer_id"
    title = "Layer identification across seeds: which measure finds the corresponding layer?"
    reference = ("Kornblith, Norouzi, Lee & Hinton (2019). Similarity of neural network "
                 "representations revisited. ICML, PMLR 97 (section 6.1, Table 2).")
    Config = Config
    quick_settings = {"n_nets": 4, "epochs": 10}

    def measure(self, config):
        import torch
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(1)
        # one BLAS thread: on a busy machine, threaded BLAS is many times slower here
        with threadpool_limits(limits=1, user_api="blas"):
            return self._measure(config)

    def _measure(self, config):
        import pandas as pd

        from ._nets import digits_split

        split = digits_split(test_size=config.test_size, seed=config.seed)
        n, features = len(split[0]), feature_counts(config.widths)
        if max(features) >= n:
            raise ValueError(f"every layer needs fewer features than stimuli ({n} training "
                             f"images); widths {config.widths} give {max(features)}")
        reps, net_accuracy = _representations(split, seed=config.seed, n_nets=config.n_nets,
                                              widths=config.widths, epochs=config.epochs)
        rows, mean, confusion = _identify(reps, net_accuracy, config)
        table = pd.DataFrame(rows)
        return Outcome(table, {
            "mean": mean, "confusion": confusion, "net_accuracy": net_accuracy,
            "within": _within_network_cka(reps, config.n_nets),
            "intervals": _intervals(table, config.measures), "features": features,
            "n": n, "n_test": len(split[1])})

    def checks(self, outcome, config):
        table, intervals = outcome.table, outcome.details["intervals"]
        mean = {m: interval[0] for m, interval in intervals.items()}
        best_cca = max(CCA_FAMILY, key=lambda m: mean[m])
        gap, low, high = _difference(table, "cka (linear)", best_cca)
        rbf = ("cka (rbf 0.4)", "cka (rbf 0.8)")
        cka = mean["cka (linear)"]
        return [
            Check("linear CKA identifies the corresponding layer almost always (Kornblith et "
                  f"al. 2019, Table 2: {PAPER['cka (linear)']}%; here at least 90%)",
                  cka >= 0.9,
                  f"linear CKA {cka:.1%} (95% CI {intervals['cka (linear)'][1]:.1%} to "
                  f"{intervals['cka (linear)'][2]:.1%}) against chance {1 / len(LAYERS):.1%}"),
            Check("RBF CKA (sigma 0.4 and 0.8 of the median distance) identifies it almost "
                  "always (Table 2: 99.1% and 99.3%; here at least 90%)",
                  min(mean[m] for m in rbf) >= 0.9,
                  ", ".join(f"{m} {mean[m]:.1%}" for m in rbf)),
            Check("linear CKA beats every CCA-based measure (Table 2: 99.3% against at most "
                  "15.1%): the jackknife 95% interval of its lead over the best of them is "
                  "above 0",
                  low > 0,
                  f"linear CKA - {best_cca} = {gap:+.1%} (95% CI {low:+.1%} to {high:+.1%}); "
                  + ", ".join(f"{m} {mean[m]:.1%}" for m in CCA_FAMILY)),
            Check("linear regression lies between the CCA family and linear CKA (Table 2: "
                  "at most 15.1% < 45.4% < 99.3%)",
                  mean[best_cca] < mean["linear regression"] < cka,
                  f"{best_cca} {mean[best_cca]:.1%}, linear regression "
                  f"{mean['linear regression']:.1%}, linear CKA {cka:.1%}"),
        ]

    def figure(self, outcome, config):
        return _figure(outcome.details)

    def numbers(self, outcome, config):
        details = outcome.details
        depth, n_nets, n = len(LAYERS), config.n_nets, details["n"]
        intervals = details["intervals"]
        lines = ["| measure | accuracy (%) | jackknife 95% CI over networks | "
                 "Kornblith et al. 2019, Table 2 (%) |", "|---|---|---|---|"]
        for m, (theta, low, high) in sorted(intervals.items(), key=lambda kv: -kv[1][0]):
            paper = PAPER.get(m, "not in Table 2 (extension)")
            lines.append(f"| {m} | {theta:.1%} | {low:.1%} to {high:.1%} | {paper} |")
        lines.append("| linear HSIC | not run | | 22.2 |")
        cka, within = details["mean"]["cka (linear)"], details["within"]
        diagnosis = ["| layer | features | CKA(A_i, B_i) | best other layer of B | "
                     "within-network CKA with neighbours | picked by linear CKA (% of pairs) |",
                     "|---|---|---|---|---|---|"]
        confusion = details["confusion"]["cka (linear)"]
        for i in range(depth):
            others = [j for j in range(depth) if j != i]
            j = max(others, key=lambda k: cka[i, k])
            neighbours = ", ".join(f"L{k + 1} {within[i, k]:.2f}" for k in (i - 1, i + 1)
                                   if 0 <= k < depth)
            picked = ", ".join(f"L{k + 1} {c / confusion[i].sum():.0%}"
                               for k, c in enumerate(confusion[i]) if c)
            diagnosis.append(f"| L{i + 1} | {details['features'][i]} | {cka[i, i]:.3f} | "
                             f"L{j + 1} {cka[i, j]:.3f} | {neighbours} | {picked} |")
        return "\n".join([
            f"Chance = 1/{depth} = {1 / depth:.1%}; {n_nets * (n_nets - 1)} ordered pairs of "
            f"{n_nets} networks x {depth} layers per measure; {n} stimuli (training images), "
            f"at most {max(details['features'])} features per layer (ratio "
            f"{max(details['features']) / n:.2f}; the paper's Tiny-10 on 50,000 CIFAR-10 "
            "images: 16,384, 0.33). Held-out digit accuracy of the networks: "
            + ", ".join(f"{a:.3f}" for a in details["net_accuracy"].values()) + ".", "",
            *lines, "",
            "Why linear CKA misses (means over the ordered pairs of networks): the same layer "
            "of the other network against its most similar other layer, the layer's "
            "within-network similarity to its neighbours, and where the picks fall.", "",
            *diagnosis,
        ])

    def description(self, outcome, config):
        details, seed = outcome.details, config.seed
        return f"""
scikit-learn digits (8x8, no CIFAR-10 offline), split {details['n']} train / {details['n_test']}
test (stratified, seed {seed}). {config.n_nets} networks, Kornblith et al.'s Tiny-10 cut to 8x8
inputs (`layer_id.tiny10`, widths {config.widths}: eight conv-BatchNorm-ReLU layers, global
average pooling, logits), each from its own seed, trained with Adam (lr 3e-3, batch 64,
{config.epochs} epochs). Representations: the 9 non-logit layers on the {details['n']}
training images (the paper uses the CIFAR-10 training set), conv maps flattened; features per
layer {details['features']}, all fewer than the stimuli. `repalign.grid` (pairs across
networks) with each of: {", ".join(f"`{m}`" for m in config.measures)}; SVCCA keeps 0.99 of
the variance, and SVCCA (R^2) is CCA (R^2) of those principal components. For each ordered
pair of networks (A, B) and layer i of A, the layer of B most similar to A's layer i (smallest
distance for `procrustes`) is the measure's pick, asymmetric measures symmetrised as
`s(A_i, B_j) + s(B_j, A_i)` (Kornblith et al.'s S + S^T); accuracy is the fraction of layers
picked at the right depth, its interval the jackknife over networks.
"""


def _figure(details):
    from matplotlib.figure import Figure

    depth = len(LAYERS)
    figure = Figure(figsize=(14.0, 4.4), layout="constrained")
    bars, *heat = figure.subplots(1, 3)
    intervals = sorted(details["intervals"].items(), key=lambda kv: kv[1][0])
    labels = [m for m, _ in intervals]
    theta = np.array([v[0] for _, v in intervals])
    errors = np.array([[v[0] - v[1], v[2] - v[0]] for _, v in intervals]).T
    bars.barh(labels, theta, xerr=errors, color="tab:blue", capsize=2, label="here")
    paper = [(k, PAPER[m] / 100) for k, m in enumerate(labels) if m in PAPER]
    bars.scatter([p for _, p in paper], [k for k, _ in paper], marker="D", color="tab:red",
                 zorder=3, label="Kornblith et al. 2019, Table 2")
    bars.axvline(1 / depth, color="grey", linestyle="--", label=f"chance 1/{depth}")
    bars.set_xlim(0, 1.02)
    bars.set_xlabel("accuracy of identifying the same layer (jackknife 95% CI)")
    bars.legend(fontsize="small", loc="lower right")
    ticks = [f"L{i}" for i in range(1, depth + 1)]
    for ax, label in zip(heat, ("cka (linear)", "cca (mean rho)")):
        image = ax.imshow(details["mean"][label], cmap="viridis", origin="upper")
        ax.set_xticks(range(depth), ticks)
        ax.set_yticks(range(depth), ticks)
        ax.set_xlabel("layer of network B")
        ax.set_ylabel("layer of network A")
        ax.set_title(f"{label}, mean over network pairs")
        figure.colorbar(image, ax=ax)
    return figure
