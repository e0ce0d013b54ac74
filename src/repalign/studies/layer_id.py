"""Which measure finds the corresponding layer? Kornblith et al.'s (2019) sanity test.

Kornblith et al. (2019, section 6.1, Table 2) trained architecturally identical
deep networks from different initialisations and asked, for each layer of one
network, whether a similarity index ranks the layer at the same depth of another
network as the most similar. Linear and RBF CKA identified it almost always
(about 99%); CCA-based indices (mean CCA, SVCCA, PWCCA) rarely (about 1-15%),
and linear regression in between (about 45%).

What is run. Deep ReLU MLPs ``64 -> [w -> BatchNorm -> ReLU] x L -> 10`` are
trained (Adam, cross-entropy) on scikit-learn's digits from several seeds. On
the held-out images the post-ReLU output of every hidden layer is a
representation; :func:`repalign.grid` compares every layer of every network with
every layer of every other network, for each measure. For an ordered pair of
networks (A, B) and a layer ``i`` of A, the measure's pick is
``argmax_j s(A_i, B_j)`` (``argmin`` for distances; for an asymmetric measure
``s(A_i, B_j)`` predicts or weights B_j from A_i as the measure defines it), and

.. math::

    \\text{accuracy} = \\frac{1}{L} \\sum_{i=1}^{L} [\\text{pick}(A_i) = i],

with chance ``1 / L``. One row per measure and ordered pair of networks.
Asymmetric measures (``pwcca``, ``linear_regression``, ``ridge``) are
symmetrised as for Table 2, ``S + S^T``: ``s(A_i, B_j) + s(B_j, A_i)``.

Caveats. The layers keep ``w < n`` units (n held-out images), so CCA is not
trivially 1, as it would be for ``d >= n`` (every direction of one representation
is then perfectly predicted by the other). A plain MLP on 8x8 digits is not the
CIFAR-10 CNN of the paper: consecutive fully connected layers are near-linear
images of one another and the deeper ones all approach the class structure, so
neighbouring layers are hard to tell apart for any measure.

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

__all__ = ["LayerId"]

#: The compared measures: label -> (registered name, parameters).
MEASURES = {
    "cka (linear)": ("cka", {}),
    "cka (rbf 0.8)": ("cka", {"kernel": "rbf", "sigma_frac": 0.8}),
    "rsa": ("rsa", {}),
    "cca (mean r)": ("cca", {}),
    "cca (mean r^2)": ("cca", {"statistic": "mean_r2"}),
    "svcca": ("svcca", {}),
    "pwcca": ("pwcca", {}),
    "procrustes": ("procrustes", {}),
    "linear_match": ("linear_match", {}),
    "linear_regression": ("linear_regression", {}),
    "ridge": ("ridge", {}),
    "mutual_knn": ("mutual_knn", {}),
}
#: Measures left out of the quick run (cross-validated fits over 25 penalties).
SLOW = ("ridge",)
#: The CCA-based measures, compared with linear CKA in the checks.
CCA_FAMILY = ("cca (mean r)", "cca (mean r^2)", "svcca", "pwcca")
#: Kornblith et al.'s (2019) Table 2 accuracies (%), for the measures it has.
PAPER = {"cka (linear)": "99.3", "cka (rbf 0.8)": "99.3", "cca (mean r)": "1.4",
         "cca (mean r^2)": "10.6", "svcca": "9.9 (mean r) / 15.1 (mean r^2)",
         "pwcca": "11.1", "linear_regression": "45.4"}


def _network(width: int, depth: int):
    """``64 -> [Linear -> BatchNorm1d -> ReLU] x depth -> 10``; layers ``act1..act{depth}``."""
    from torch import nn

    layers = OrderedDict()
    previous = 64
    for i in range(1, depth + 1):
        layers[f"fc{i}"] = nn.Linear(previous, width)
        layers[f"bn{i}"] = nn.BatchNorm1d(width)
        layers[f"act{i}"] = nn.ReLU()
        previous = width
    layers["out"] = nn.Linear(width, 10)
    return nn.Sequential(layers)


def _representations(split, *, seed: int, n_nets: int, width: int, depth: int, epochs: int):
    """Train ``n_nets`` networks; return ``{"net{s}/L{i}": activations}`` and accuracies."""
    import torch

    import repalign

    from ._nets import train

    X_train, X_test, y_train, y_test = split
    reps, accuracy = {}, {}
    for s in range(n_nets):
        net_seed = int(np.random.SeedSequence([seed, s]).generate_state(1)[0])
        torch.manual_seed(net_seed)
        net = train(_network(width, depth), X_train, y_train, seed=net_seed, epochs=epochs)
        names = [f"act{i}" for i in range(1, depth + 1)]
        acts = repalign.extract(net, torch.as_tensor(X_test), layers=[*names, "out"],
                                progress=False)
        accuracy[s] = float(np.mean(acts["out"].argmax(axis=1) == y_test))
        for i, name in enumerate(names, start=1):
            reps[f"net{s}/L{i}"] = acts[name].astype(np.float64)
    return reps, accuracy


def _picks(reps, name, params, n_nets, depth):
    """For each ordered pair (A, B) and layer i of A, the layer of B the measure picks,
    and the measure's mean layer x layer matrix over the pairs."""
    import repalign

    measure = repalign.get(name, **params)
    kind = measure.kind
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", repalign.DegenerateWarning)
        frame = repalign.grid(reps, [(name, params)], pairs="across_models").to_dataframe()
    value = {}
    for a, b, v in zip(frame["a"], frame["b"], frame["value"]):
        value[a, b] = v
        value.setdefault((b, a), v)  # a symmetric measure has each unordered pair once
    picks, mean = {}, np.zeros((depth, depth))
    for A, B in permutations(range(n_nets), 2):
        matrix = np.array([[value[f"net{A}/L{i}", f"net{B}/L{j}"] for j in range(1, depth + 1)]
                           for i in range(1, depth + 1)])
        if not measure.symmetric:  # Kornblith et al.'s S + S^T
            matrix = matrix + np.array([[value[f"net{B}/L{j}", f"net{A}/L{i}"]
                                         for j in range(1, depth + 1)]
                                        for i in range(1, depth + 1)])
        if kind == "distance":
            matrix = -matrix
        picks[A, B] = np.nanargmax(np.where(np.isnan(matrix), -np.inf, matrix), axis=1) + 1
        mean += matrix / (n_nets * (n_nets - 1))
    return picks, (mean if kind == "similarity" else -mean)


def _identify(reps, net_accuracy, config) -> tuple:
    """One row per measure and ordered pair of networks, and each measure's mean
    layer x layer matrix."""
    import json

    rows, matrices = [], {}
    depth = config.depth
    for label in config.measures:
        name, params = MEASURES[label]
        picks, matrices[label] = _picks(reps, name, params, config.n_nets, depth)
        for (A, B), picked in picks.items():
            rows.append({
                "measure": label, "name": name, "params": json.dumps(params, sort_keys=True),
                "net_a": A, "net_b": B, "seed_pair": f"{A}-{B}",
                "accuracy": float(np.mean(picked == np.arange(1, depth + 1))),
                "picks": ";".join(map(str, picked)), "n_layers": depth, "chance": 1 / depth,
                "accuracy_a": net_accuracy[A], "accuracy_b": net_accuracy[B],
            })
    return rows, matrices


@dataclass(frozen=True)
class Config(StudyConfig):
    """Settings of the layer_id study (defaults: the full run).

    Attributes
    ----------
    n_nets : int
        Networks, each from its own seed (quick 3, full 5).
    depth : int
        Hidden layers of every network (quick 6, full 8).
    width : int
        Units of every hidden layer (128 in both).
    epochs : int
        Training epochs of every network (quick 15, full 30).
    test_size : float
        Held-out share of the digits (quick 0.25: 450 test images; full 0.5:
        899).
    measures : tuple of str
        Labels of :data:`MEASURES` compared (quick: all but ``ridge``; full:
        every measure).
    """

    n_nets: int = 5
    depth: int = 8
    width: int = 128
    epochs: int = 30
    test_size: float = 0.5
    measures: tuple = tuple(MEASURES)


@register
class LayerId(Study):
    """How often each measure picks the corresponding layer of a network from another seed.

    The seed of a run seeds the train/test split and every network's
    initialisation and batch order.

    ``results.csv`` has one row per measure and ordered pair of networks:
    ``measure`` (label), ``name`` and ``params`` (the registered measure),
    ``net_a``, ``net_b``, ``seed_pair``, ``accuracy``, ``picks`` (the layer of
    B picked for each layer of A, ``;``-separated), ``n_layers``, ``chance``
    (``1 / n_layers``), ``accuracy_a`` and ``accuracy_b`` (held-out digit
    accuracy of the two networks).
    """

    name = "layer_id"
    title = "Layer identification across seeds: which measure finds the corresponding layer?"
    reference = ("Kornblith, Norouzi, Lee & Hinton (2019). Similarity of neural network "
                 "representations revisited. ICML, PMLR 97 (section 6.1, Table 2).")
    Config = Config
    quick_settings = {"n_nets": 3, "depth": 6, "epochs": 15, "test_size": 0.25,
                      "measures": tuple(m for m in MEASURES if m not in SLOW)}

    def measure(self, config):
        import pandas as pd
        import torch

        from ._nets import digits_split

        torch.set_num_threads(1)
        split = digits_split(test_size=config.test_size, seed=config.seed)
        reps, net_accuracy = _representations(split, seed=config.seed, n_nets=config.n_nets,
                                              width=config.width, depth=config.depth,
                                              epochs=config.epochs)
        rows, matrices = _identify(reps, net_accuracy, config)
        return Outcome(pd.DataFrame(rows), {"matrices": matrices, "net_accuracy": net_accuracy,
                                            "n_train": len(split[0]), "n": len(split[1])})

    def checks(self, outcome, config):
        mean = outcome.table.groupby("measure", sort=False)["accuracy"].mean()
        best_cca = max(CCA_FAMILY, key=lambda m: mean[m])
        return [
            Check("linear CKA identifies the corresponding layer almost always (Kornblith et "
                  f"al. 2019, Table 2: {PAPER['cka (linear)']}%; here at least 90%)",
                  bool(mean["cka (linear)"] >= 0.9),
                  f"linear CKA {mean['cka (linear)']:.1%} against chance {1 / config.depth:.0%}"
                  " (fully connected layers on digits, not the paper's CIFAR-10 CNNs)"),
            Check("linear CKA is at least as accurate as every CCA-based measure",
                  bool(mean["cka (linear)"] >= mean[best_cca]),
                  f"linear CKA {mean['cka (linear)']:.0%}; "
                  + ", ".join(f"{m} {mean[m]:.0%}" for m in CCA_FAMILY)),
        ]

    def figure(self, outcome, config):
        return _figure(outcome.table, outcome.details["matrices"], config.depth)

    def numbers(self, outcome, config):
        depth, n_nets, details = config.depth, config.n_nets, outcome.details
        stats = outcome.table.groupby("measure", sort=False)["accuracy"].agg(["mean", "std"])
        lines = ["| measure | accuracy (%) | sd over pairs | Kornblith et al. Table 2 (%) |",
                 "|---|---|---|---|"]
        lines += [f"| {m} | {s['mean']:.1%} | {s['std']:.1%} | {PAPER.get(m, '-')} |"
                  for m, s in stats.sort_values("mean", ascending=False).iterrows()]
        return "\n".join([
            f"Chance = 1/{depth} = {1 / depth:.1%}; {n_nets * (n_nets - 1)} ordered pairs of "
            f"networks x {depth} layers per measure. Held-out digit accuracy of the networks: "
            + ", ".join(f"{a:.3f}" for a in details["net_accuracy"].values()) + ".", "",
            *lines, "",
            "The paper's values are for 10-layer CNNs on CIFAR-10 (logits excluded). Here the "
            "layers are fully connected: consecutive layers are close to linear images of one "
            "another, so measures invariant to invertible linear maps (CCA family, linear "
            f"regression) see them as nearly equal; layers have {config.width} units for "
            f"{details['n']} stimuli, so CCA is not trivially 1 (it would be for d >= n).",
        ])

    def description(self, outcome, config):
        n_train, n, seed = outcome.details["n_train"], outcome.details["n"], config.seed
        n_nets, width, depth, epochs = config.n_nets, config.width, config.depth, config.epochs
        measures = config.measures
        return f"""
scikit-learn digits, split {n_train} train / {n} test (stratified, seed {seed}).
{n_nets} ReLU MLPs `64 -> [Linear({width}) -> BatchNorm -> ReLU] x {depth} -> 10`, each from
its own seed, trained with Adam (lr 3e-3, batch 64, {epochs} epochs). Representations: the
post-ReLU output of each hidden layer on the {n} test images. `repalign.grid` (pairs
across networks) with each of: {", ".join(f"`{m}`" for m in measures)}. For each ordered
pair of networks (A, B) and layer i of A, the layer of B most similar to A's layer i
(smallest distance for `procrustes`) is the measure's pick, asymmetric measures symmetrised
as `s(A_i, B_j) + s(B_j, A_i)` (Kornblith et al.'s S + S^T); accuracy is the fraction of
layers picked at the right depth.
"""


def _figure(table, matrices, depth):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(13.0, 4.2), layout="constrained")
    bars, *heat = figure.subplots(1, 3)
    stats = table.groupby("measure", sort=False)["accuracy"].agg(["mean", "std"])
    stats = stats.sort_values("mean")
    bars.barh(stats.index, stats["mean"], xerr=stats["std"], color="tab:blue", capsize=2)
    bars.axvline(1 / depth, color="grey", linestyle="--", label=f"chance 1/{depth}")
    bars.set_xlim(0, 1)
    bars.set_xlabel("accuracy of identifying the same layer (mean ± sd over pairs)")
    bars.legend(fontsize="small", loc="lower right")
    ticks = [f"L{i}" for i in range(1, depth + 1)]
    for ax, label in zip(heat, ("cka (linear)", "cca (mean r)")):
        image = ax.imshow(matrices[label], cmap="viridis", origin="upper")
        ax.set_xticks(range(depth), ticks)
        ax.set_yticks(range(depth), ticks)
        ax.set_xlabel("layer of network B")
        ax.set_ylabel("layer of network A")
        ax.set_title(f"{label}, mean over network pairs")
        figure.colorbar(image, ax=ax)
    return figure


