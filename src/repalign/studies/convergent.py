"""Convergent learning: do networks from different seeds learn the same units?

Li, Yosinski, Clune, Lipson & Hopcroft (2016) trained several AlexNets from
different random initialisations and asked whether each unit of one network
has a counterpart in another. Units are compared by their tuning: the Pearson
correlation of their activations over images (and, in convolutional layers,
spatial positions). They pair units

- one-to-one, by the maximum-weight bipartite matching of the correlation
  matrix (``linear_match``, the Hungarian algorithm), and
- by semi-matching, each unit of network a with whichever unit of network b
  it correlates with most (``semi_match``; several units may share a partner),

and plot each unit's matched correlation against its rank. Their finding: many
units, most of all in the first layer, have a near-perfect (r close to 1)
counterpart in the other network, while others have none; semi-matching is
above one-to-one matching, and the gap shows units that several units of the
other network imitate.

What is run. Small convolutional networks (``conv1 -> conv2 -> fc -> out``,
ReLU after each hidden layer, from :func:`repalign.studies._nets.build_network`)
are trained (Adam, cross-entropy) on scikit-learn's 8x8 digits, each from its
own seed, and as many are kept untrained (same architecture, their own random
initialisation). On the held-out images, each hidden layer (after its ReLU) is
read with :func:`repalign.extract`; a convolutional channel is one unit whose
stimuli are all (image, position) pairs, as in Li et al. Units constant over
every stimulus (dead ReLUs) are dropped, since their correlation is undefined.
For every pair of networks and layer,

.. math::

    C_{ij} = \\mathrm{corr}(x_i, y_j), \\qquad
    \\text{one-to-one: } C_{i \\pi(i)} \\text{ with }
        \\pi = \\arg\\max_\\pi \\textstyle\\sum_i C_{i \\pi(i)}, \\qquad
    \\text{semi: } \\max_j C_{ij},

each sorted from the best unit (rank 1) down. Their means are
``repalign.measure("linear_match" | "semi_match", X, Y)``, and the study
checks that the per-unit values it plots average to them. Conditions:

- ``trained``: two trained networks from different seeds;
- ``permuted``: the same pairs with the images of network b shuffled (each
  image keeps its positions, so what is left is the tuning shared by every
  image, such as position preferences): the chance level of matching;
- ``untrained``: two untrained networks from different seeds;
- ``rotated``: a trained network against itself with its units mixed by a
  random orthogonal matrix ``Q`` (``Y = X Q``). Linear CKA depends on ``X``
  only through ``X X^T = (X Q)(X Q)^T``, so ``CKA(X, X Q) = 1`` exactly, while
  no unit of ``X Q`` need equal a unit of ``X``: matching drops.

Linear CKA (``repalign.measure("cka", ...)``) of each pair is reported beside
the matchings.

Checks, on this run's numbers, each a finding of Li et al. that could fail
(identities, such as semi-matching being at or above one-to-one matching unit by
unit, or ``CKA(X, X Q) = 1``, are tested in the tests, not claimed here):
trained matching is far above the permutation baseline in every layer; training,
not the shared architecture, makes units converge: trained one-to-one matching
is above untrained in every layer, with a 95% interval of the difference above
0; the first layer of trained networks has more units with near-1 counterparts
than untrained networks; and the depth trend: the share of units with a
near-perfect one-to-one counterpart falls with depth (the slope on the layer's
depth has its interval below 0). Intervals are jackknifes over the networks
(:func:`repalign.studies._stats.jackknife_over_models`: each network left out
with every pair it enters).

References
----------
Li, Yosinski, Clune, Lipson & Hopcroft (2016). Convergent learning: Do
different neural networks learn the same representations? ICLR (also Feature
Extraction workshop at NIPS 2015, PMLR 44).

Kornblith, Norouzi, Lee & Hinton (2019). Similarity of neural network
representations revisited. ICML.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from ._frame import Check, Outcome, Study, StudyConfig, register
from ._stats import jackknife_over_models

__all__ = ["Convergent"]

#: The compared layers: name in the table -> the module read by ``extract``
#: (each hidden layer after its ReLU).
LAYERS = {"conv1": "relu1", "conv2": "relu2", "fc": "relu3"}
#: The matchings: name in the table -> repalign measure.
METHODS = {"one-to-one": "linear_match", "semi": "semi_match"}
#: A counterpart is "near-perfect" above this correlation.
NEAR_ONE = 0.9
#: Tolerance of ``CKA(X, X Q) == 1``.
CKA_TOL = 1e-10


def _network_seed(seed: int, trained: bool, replicate: int) -> int:
    """A distinct seed per network."""
    return int(np.random.SeedSequence([seed, int(trained), replicate]).generate_state(1)[0])


def _network(split, *, width: int, trained: bool, replicate: int, seed: int, epochs: int):
    """One network (trained or not): its layers as ``(stimuli, units)`` float64, and its
    held-out accuracy.

    A convolutional layer's output ``(images, channels * positions)`` (flattened in
    channel-major order) becomes ``(images * positions, channels)``: rows
    ``i * positions`` to ``(i + 1) * positions - 1`` are image ``i``.
    """
    import torch

    import repalign

    from ._nets import build_network, train

    X_train, X_test, y_train, y_test = split
    net_seed = _network_seed(seed, trained, replicate)
    torch.manual_seed(net_seed)
    net = build_network("cnn", width)
    if trained:
        train(net, X_train, y_train, seed=net_seed, epochs=epochs)
    acts = repalign.extract(net.eval(), torch.as_tensor(X_test),
                            layers=[*LAYERS.values(), "out"], pool="flatten", progress=False)
    channels = {"conv1": width // 4, "conv2": width // 2, "fc": width}
    units = {layer: acts[module].astype(np.float64).reshape(len(X_test), channels[layer], -1)
             .transpose(0, 2, 1).reshape(-1, channels[layer])
             for layer, module in LAYERS.items()}
    return units, float(np.mean(acts["out"].argmax(1) == y_test))


def _live(X: np.ndarray) -> np.ndarray:
    """Which units vary across stimuli (dead ReLUs do not)."""
    return X.std(axis=0) > 1e-12 * max(float(np.abs(X).max()), 1.0)


def _correlations(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """The ``d_x x d_y`` Pearson correlations between the units of X and of Y."""
    Zx = (X - X.mean(0)) / np.linalg.norm(X - X.mean(0), axis=0)
    Zy = (Y - Y.mean(0)) / np.linalg.norm(Y - Y.mean(0), axis=0)
    return Zx.T @ Zy


def _matched(C: np.ndarray) -> dict:
    """Per-unit matched correlations, sorted best first, for each method."""
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(C, maximize=True)
    return {"one-to-one": np.sort(C[rows, cols])[::-1], "semi": np.sort(C.max(axis=1))[::-1]}


def _pair_rows(X, Y, *, condition: str, layer: str, seed_pair: str) -> list:
    """The tidy rows of one compared pair: one per method and unit rank."""
    import repalign

    cka = repalign.measure("cka", X, Y)
    rows = []
    for method, values in _matched(_correlations(X, Y)).items():
        value = repalign.measure(METHODS[method], X, Y)
        rows += [{"condition": condition, "layer": layer, "seed_pair": seed_pair,
                  "method": method, "rank": rank, "correlation": float(r),
                  "mean_match": value, "cka": cka, "units_a": X.shape[1],
                  "units_b": Y.shape[1], "n_stimuli": len(X)}
                 for rank, r in enumerate(values, start=1)]
    return rows


def _rotation(d: int, rng) -> np.ndarray:
    """A random orthogonal ``d x d`` matrix (Haar: QR of a Gaussian, signs fixed)."""
    Q, R = np.linalg.qr(rng.standard_normal((d, d)))
    return Q * np.sign(np.diag(R))


def _shuffle_images(Y: np.ndarray, n_images: int, rng) -> np.ndarray:
    """``Y`` with its images (blocks of positions) in a random order."""
    blocks = Y.reshape(n_images, -1, Y.shape[1])
    return blocks[rng.permutation(n_images)].reshape(Y.shape)


def _compare(nets, config, *, n_images: int) -> list:
    """The rows of the table: every pair of networks of a kind, its permuted baseline and
    each trained network against itself rotated, layer by layer."""
    rng = np.random.default_rng(config.seed)
    rows = []
    for layer in LAYERS:
        for trained in (True, False):
            for a, b in combinations(range(config.n_nets), 2):
                X, Y = nets[trained, a][0][layer], nets[trained, b][0][layer]
                live_x, live_y = _live(X), _live(Y)
                X, Y = X[:, live_x], Y[:, live_y]
                pair = f"{a}-{b}"
                rows += _pair_rows(X, Y, condition="trained" if trained else "untrained",
                                   layer=layer, seed_pair=pair)
                if trained:
                    rows += _pair_rows(X, _shuffle_images(Y, n_images, rng),
                                       condition="permuted", layer=layer, seed_pair=pair)
        for a in range(config.n_nets):
            X = nets[True, a][0][layer]
            X = X[:, _live(X)]
            rows += _pair_rows(X, X @ _rotation(X.shape[1], rng), condition="rotated",
                               layer=layer, seed_pair=f"{a}-{a}Q")
    return rows


def _summary(table):
    """Mean matched correlation (and CKA) per condition, layer and method."""
    return table.groupby(["condition", "layer", "method"], sort=False).agg(
        correlation=("correlation", "mean"), cka=("cka", "mean"),
        near_one=("correlation", lambda r: float(np.mean(r > NEAR_ONE))))


def _per_pair(table):
    """Per pair of networks, layer and method: the mean matched correlation and the share of
    units above :data:`NEAR_ONE`, with the two networks in ``seed_a`` and ``seed_b``."""
    pairs = table.groupby(["condition", "layer", "method", "seed_pair"], sort=False).agg(
        correlation=("correlation", "mean"),
        near_one=("correlation", lambda r: float(np.mean(r > NEAR_ONE)))).reset_index()
    seeds = pairs["seed_pair"].str.split("-", expand=True)
    return pairs.assign(seed_a=seeds[0], seed_b=seeds[1],
                        depth=pairs["layer"].map({layer: i for i, layer in enumerate(LAYERS)}))


def _trained_minus_untrained(rows) -> float:
    """Mean one-to-one correlation of trained pairs minus that of untrained pairs."""
    means = rows.groupby("condition")["correlation"].mean()
    return float(means["trained"] - means["untrained"])


def _depth_slope(column: str):
    """The least-squares slope of ``column`` on the layer's depth (0, 1, 2, ...)."""
    return lambda rows: float(np.polyfit(rows["depth"], rows[column], 1)[0])


def _checks(table):
    """The paper's claims, tested on the table."""
    means = table.groupby(["condition", "layer", "method", "seed_pair"])["correlation"].mean()
    layers = list(LAYERS)
    gaps, lines = [], []
    for layer in layers:
        for method in METHODS:
            trained = means["trained", layer, method]
            permuted = means["permuted", layer, method]
            gaps.append((trained.min() - permuted.max(), layer, method))
            lines.append(f"{layer} {method}: trained {trained.mean():.3f} vs permuted "
                         f"{permuted.mean():.3f}")
    worst = min(gaps)

    pairs = _per_pair(table)
    one = pairs[pairs["method"] == "one-to-one"]
    training = {layer: jackknife_over_models(
        one[(one["layer"] == layer) & one["condition"].isin(["trained", "untrained"])],
        _trained_minus_untrained) for layer in layers}

    summary = _summary(table)
    first = layers[0]
    near_t = summary.loc[("trained", first, "one-to-one"), "near_one"]
    near_u = summary.loc[("untrained", first, "one-to-one"), "near_one"]

    trained = one[one["condition"] == "trained"]
    near_slope = jackknife_over_models(trained, _depth_slope("near_one"))
    mean_slope = jackknife_over_models(trained, _depth_slope("correlation"))
    by_layer = trained.groupby("layer", sort=False)[["near_one", "correlation"]].mean()
    return [
        Check("trained networks' matching is far above the permutation baseline "
              "(every trained pair above every permuted pair by > 0.1, in every layer "
              "and method)", bool(worst[0] > 0.1),
              f"smallest gap {worst[0]:.3f} ({worst[1]}, {worst[2]}); mean matched "
              f"correlation: {'; '.join(lines)}"),
        Check("training, not the shared architecture, makes units converge: trained "
              "networks' one-to-one matching is above untrained networks' in every layer "
              "(95% interval of the difference above 0)",
              all(low > 0 for _, low, _ in training.values()),
              "trained - untrained mean one-to-one correlation: " + "; ".join(
                  f"{layer} {d:+.3f} [{low:+.3f}, {high:+.3f}]"
                  for layer, (d, low, high) in training.items())
              + " (jackknife over networks)"),
        Check(f"in the first layer, trained networks have more units with a near-perfect "
              f"counterpart (one-to-one r > {NEAR_ONE}) than untrained networks",
              bool(near_t > near_u),
              f"{first}: {near_t:.0%} of trained units vs {near_u:.0%} of untrained"),
        Check(f"depth trend (Li et al. 2016: the first layer converges most): the share of "
              f"trained units with a near-perfect one-to-one counterpart (r > {NEAR_ONE}) "
              "falls with depth (slope on depth, 95% interval below 0)",
              near_slope[2] < 0,
              "share by layer: " + ", ".join(f"{layer} {v:.0%}" for layer, v in
                                              by_layer["near_one"].items())
              + f"; slope {near_slope[0]:+.3f} per layer [{near_slope[1]:+.3f}, "
              f"{near_slope[2]:+.3f}]; the mean one-to-one correlation by layer: "
              + ", ".join(f"{layer} {v:.3f}" for layer, v in by_layer["correlation"].items())
              + f", slope {mean_slope[0]:+.3f} [{mean_slope[1]:+.3f}, {mean_slope[2]:+.3f}] "
              "(jackknife over networks)"),
    ]


@dataclass(frozen=True)
class Config(StudyConfig):
    """Settings of the convergent study (defaults: the full run).

    Attributes
    ----------
    width : int
        Network width: conv1 has ``width // 4`` channels, conv2 ``width // 2``,
        fc ``width`` units (quick 64, full 128).
    n_nets : int
        Trained networks, and as many untrained ones (quick 3, full 5).
    epochs : int
        Training epochs of every network (quick 20, full 40). The quick run
        takes about 30 s.
    """

    width: int = 128
    n_nets: int = 5
    epochs: int = 40


@register
class Convergent(Study):
    """Unit matching across networks from different seeds (Li et al. 2016).

    The seed of a run seeds the train/test split, every network, the image
    shuffles and the rotations.

    ``results.csv`` has one row per compared pair, layer, method and unit
    rank: ``condition`` (``trained``, ``permuted``, ``untrained``,
    ``rotated``), ``layer`` (``conv1``, ``conv2``, ``fc``), ``seed_pair``,
    ``method`` (``one-to-one``, ``semi``), ``rank`` (1 = best matched unit),
    ``correlation`` (that unit's matched correlation), ``mean_match`` (the
    pair's ``linear_match`` or ``semi_match``, the mean of its
    ``correlation`` column), ``cka`` (the pair's linear CKA), ``units_a``,
    ``units_b`` (live units compared) and ``n_stimuli`` (images x positions).
    """

    name = "convergent"
    title = "Convergent learning: matching units across seeds"
    reference = ("Li, Yosinski, Clune, Lipson & Hopcroft (2016). Convergent learning: Do "
                 "different neural networks learn the same representations? ICLR.")
    Config = Config
    quick_settings = {"width": 64, "n_nets": 3, "epochs": 20}

    def measure(self, config):
        import pandas as pd
        import torch

        from ._nets import digits_split

        torch.set_num_threads(1)
        split = digits_split(seed=config.seed)
        nets = {(trained, r): _network(split, width=config.width, trained=trained,
                                       replicate=r, seed=config.seed, epochs=config.epochs)
                for trained in (True, False) for r in range(config.n_nets)}
        table = pd.DataFrame(_compare(nets, config, n_images=len(split[1])))
        accuracy = np.mean([acc for (trained, _), (_, acc) in nets.items() if trained])
        return Outcome(table, {"accuracy": accuracy, "n_train": len(split[0]),
                               "n_images": len(split[1])})

    def checks(self, outcome, config):
        return _checks(outcome.table)

    def figure(self, outcome, config):
        return _figure(outcome.table)

    def numbers(self, outcome, config):
        table, summary = outcome.table, _summary(outcome.table)
        lines = ["| condition | layer | one-to-one | semi | share r > 0.9 (one-to-one) | "
                 "linear CKA |", "|---|---|---|---|---|---|"]
        for condition in ("trained", "untrained", "permuted", "rotated"):
            for layer in LAYERS:
                o, s = (summary.loc[(condition, layer, m)] for m in METHODS)
                lines.append(f"| {condition} | {layer} | {o['correlation']:.3f} | "
                             f"{s['correlation']:.3f} | {o['near_one']:.0%} | "
                             f"{o['cka']:.3f} |")
        units = table[table["condition"] == "trained"].groupby("layer", sort=False)["units_a"]
        return "\n".join([
            "Mean matched correlation over units and pairs, the share of units whose "
            f"one-to-one partner has r > {NEAR_ONE}, and mean linear CKA:", "", *lines, "",
            f"Held-out accuracy of the trained networks: {outcome.details['accuracy']:.3f} "
            f"(mean of {config.n_nets}). Live units per layer (trained, mean): "
            + ", ".join(f"{layer} {v:.1f}" for layer, v in units.mean().items()) + ".",
        ])

    def description(self, outcome, config):
        n_train, n_images = outcome.details["n_train"], outcome.details["n_images"]
        seed = config.seed
        width, n_nets, epochs = config.width, config.n_nets, config.epochs
        return f"""
scikit-learn digits (8x8), split {n_train} train / {n_images} test (stratified,
seed {seed}). Convolutional networks `conv1 (3x3, {width // 4} channels) -> conv2 (3x3,
stride 2, {width // 2} channels) -> fc ({width}) -> 10`, ReLU after each hidden layer:
{n_nets} trained (Adam, lr 3e-3, batch 64, {epochs} epochs) and {n_nets} untrained, each
from its own seed. Units: the channels of conv1 and conv2 (stimuli: the {n_images} test
images x 64 or 16 positions) and the fc units (stimuli: the images), after the ReLU;
units constant over all stimuli (dead) dropped. For every pair of networks of a kind,
per layer: one-to-one (`linear_match`, Hungarian) and semi (`semi_match`) matching of
units by Pearson correlation, each unit's matched correlation sorted by rank, and
linear `cka`. Baselines: the trained pairs with network b's test images shuffled
(`permuted`); untrained pairs; each trained network against itself rotated by a
random orthogonal matrix (`rotated`).
"""


def _figure(table):
    from matplotlib.figure import Figure

    layers = list(LAYERS)
    figure = Figure(figsize=(4.0 * len(layers), 7.6), layout="constrained")
    axes = figure.subplots(2, len(layers))
    colours = {"trained": "C0", "untrained": "C2", "permuted": "C7", "rotated": "C3"}
    styles = {"one-to-one": "-", "semi": "--"}
    grid = np.linspace(0, 1, 101)
    for ax, layer in zip(axes[0], layers):
        frame = table[table["layer"] == layer]
        for (condition, method), group in frame.groupby(["condition", "method"], sort=False):
            # pairs differ in their number of live units: average at equal rank / units
            curves = [np.interp(grid, (pair["rank"] - 0.5) / len(pair), pair["correlation"])
                      for _, pair in group.groupby("seed_pair")]
            ax.plot(grid, np.mean(curves, axis=0), styles[method], color=colours[condition],
                    label=f"{condition}, {method}")
        ax.axhline(NEAR_ONE, color="grey", linewidth=0.6, linestyle=":")
        ax.set_ylim(-0.1, 1.02)
        ax.set_xlabel("unit rank / number of units (best match first)")
        ax.set_ylabel("matched correlation (mean over pairs)")
        ax.set_title(f"{layer}")
    axes[0][0].legend(fontsize="x-small", loc="lower left")

    summary = table.groupby(["condition", "layer", "method", "seed_pair"], sort=False).agg(
        correlation=("correlation", "mean"), cka=("cka", "first")).reset_index()
    conditions = list(colours)
    bars = [(method, "correlation") for method in METHODS] + [("one-to-one", "cka")]
    labels = [f"{m} match" for m in METHODS] + ["linear CKA"]
    width = 0.8 / len(conditions)
    for ax, layer in zip(axes[1], layers):
        frame = summary[summary["layer"] == layer]
        for i, condition in enumerate(conditions):
            sub = frame[frame["condition"] == condition]
            stats = [sub[sub["method"] == m][col].agg(["mean", "std"]) for m, col in bars]
            ax.bar(np.arange(len(bars)) + (i - (len(conditions) - 1) / 2) * width,
                   [s["mean"] for s in stats], width, yerr=[s["std"] for s in stats],
                   capsize=2, color=colours[condition], label=condition)
        ax.set_xticks(range(len(bars)), labels)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("mean over units, then pairs (± sd)")
        ax.set_title(f"{layer}: baselines")
    axes[1][0].legend(fontsize="x-small", loc="upper right")
    return figure


