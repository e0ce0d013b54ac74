"""Mutual k-NN alignment rises with capacity: the Platonic Representation Hypothesis in miniature.

Huh et al. (2024) argue that representations learned by different models
converge as the models grow: the mutual k-nearest-neighbour alignment of their
embeddings of the same stimuli rises with capacity, within one modality
(vision models of increasing size) and across modalities (a vision and a
language model seeing paired images and captions).

What is run. Two-hidden-layer ReLU MLPs ``d_in -> w -> w -> 10`` of widths
``w`` are trained (Adam, cross-entropy) on scikit-learn's 8x8 digits, several
networks per width, each from its own seed. Three *views* of every image are
learned by separate families: the whole image (64 pixels), its left half and
its right half (columns 0-3 and 4-7 of the 8x8 grid, 32 pixels each): two
"modalities" in miniature, which share the digit but no pixel. On the held-out
images, the penultimate layer (``fc2``, before its ReLU: after the ReLU a narrow
network can map a stimulus to the zero vector, whose cosine neighbours are
undefined) of every network is compared with

.. math::

    \\mathrm{mKNN}(X, Y) = \\frac{1}{n} \\sum_{i=1}^{n}
        \\frac{|N_k^X(i) \\cap N_k^Y(i)|}{k}, \\qquad k = 10,

where :math:`N_k^X(i)` are the ``k`` nearest other stimuli of stimulus ``i``
under cosine similarity in ``X`` (``repalign.compare(..., "mutual_knn")``).
Pairs are (a) two whole-image networks from different seeds, for every pair of
widths (``view="full/full"``), and (b) a left-half and a right-half network
from different seeds, for every pair of widths (``view="left/right"``).

Control: untrained networks. Every network is also read out *before* training,
at its initialisation, on the same test images: an untrained network of the same
architecture, width and seed. Random networks of growing width converge to one
kernel of the input (the infinite-width limit of a random ReLU network), so their
alignment rises with width too, with no competence at all. The claim that
alignment rises with competence holds only where the trained networks' alignment
rises faster than the untrained ones': the *excess* ``trained - untrained`` of
each same-width pair (the same two seeds, before and after training) must rise
with width. It is summarised by the slope of the excess on ``log2(width)`` over
the same-width pairs, with a 95% interval from a jackknife over the seeds
(:func:`repalign.studies._stats.jackknife_over_models`; each seed is left out
with every pair it enters).

Chance. For unrelated representations each of the ``k`` neighbours of ``i`` in
``X`` is among its ``k`` neighbours in ``Y`` with probability ``k / (n - 1)``,
so the expected alignment is ``k / (n - 1)`` (0.022 for ``k = 10`` and the 450
test images). A permutation null (the test stimuli of ``Y`` shuffled,
``null_mean``), computed for one seed pair per width pair, measures it, and the
analytic value is checked against it.

Checks, on this run's numbers: alignment between same-width networks rises with
width (Spearman's rho over pairs > 0), alignment with the widest networks rises
with the width of the other network, the cross-view alignment of same-width
left/right networks rises with width too, each of the two same-width rises
exceeds the untrained networks' (the slope of the excess has its interval above
0), every pair lies far above the permutation chance level, and that level
matches ``k / (n - 1)``.

References
----------
Huh, Cheung, Wang & Isola (2024). The platonic representation hypothesis.
ICML, PMLR 235.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations, product

import numpy as np

from ._frame import Check, Outcome, Study, StudyConfig, register
from ._stats import jackknife_over_models

__all__ = ["Platonic"]

#: Neighbours of the mutual k-NN measure (Huh et al. 2024 use k = 10).
K = 10
#: Mini-batch size of the training.
BATCH = 128
#: The views of the 8x8 images: columns of the pixel grid each family sees.
VIEWS = {"full": slice(0, 8), "left": slice(0, 4), "right": slice(4, 8)}
#: The compared families: (view of network a, view of network b).
PAIRINGS = (("full", "full"), ("left", "right"))


def _view(X, view: str):
    """The pixels of ``view`` (columns of the 8x8 grid), flattened."""
    return np.ascontiguousarray(X.reshape(-1, 8, 8)[:, :, VIEWS[view]].reshape(len(X), -1))


def _network_seed(seed: int, view: str, width: int, replicate: int) -> int:
    """A distinct seed per network, so that no two networks share an initialisation."""
    entropy = [seed, list(VIEWS).index(view), width, replicate]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def _train_family(split, view: str, width: int, replicate: int, *, seed: int, epochs: int):
    """Train one network on ``view``.

    Returns its held-out penultimate layer after training, its held-out
    accuracy, and the same layer read out at its initialisation (the untrained
    control).
    """
    import torch

    import repalign

    from ._nets import mlp, train

    X_train, X_test, y_train, y_test = split
    net_seed = _network_seed(seed, view, width, replicate)
    torch.manual_seed(net_seed)
    X_view = _view(X_train, view)
    net = mlp([X_view.shape[1], width, width, 10])
    X_held_out = torch.as_tensor(_view(X_test, view))
    untrained = repalign.extract(net, X_held_out, layers=["fc2"], progress=False)["fc2"]
    train(net, X_view, y_train, seed=net_seed, epochs=epochs, batch_size=BATCH)
    acts = repalign.extract(net, X_held_out, layers=["fc2", "out"], progress=False)
    accuracy = float(np.mean(acts["out"].argmax(axis=1) == y_test))
    return acts["fc2"].astype(np.float64), accuracy, untrained.astype(np.float64)


def _pairs(view_a: str, view_b: str, widths, n_seeds: int):
    """The compared (width_a, seed_a, width_b, seed_b): different seeds; each unordered
    pair once when both networks see the same view."""
    if view_a == view_b:
        nets = list(product(widths, range(n_seeds)))
        return [(wa, sa, wb, sb) for (wa, sa), (wb, sb) in combinations(nets, 2) if sa != sb]
    return [(wa, sa, wb, sb) for wa, wb in product(widths, widths)
            for sa, sb in product(range(n_seeds), range(n_seeds)) if sa != sb]


def _spearman(x, y) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(x, y).statistic)


def _compare(nets, config, *, n: int) -> list:
    """The rows of the table: every compared pair, with the permutation null of the first
    seed pair of each width pair and view."""
    import repalign

    chance = K / (n - 1)
    measure = repalign.get("mutual_knn", k=K)
    states = {key: measure.prepare(X) for key, (X, _, _) in nets.items()}
    untrained = {key: measure.prepare(X0) for key, (_, _, X0) in nets.items()}
    rows = []
    rng = np.random.default_rng(config.seed)
    for view_a, view_b in PAIRINGS:
        tested = set()
        for wa, sa, wb, sb in _pairs(view_a, view_b, config.widths, config.n_seeds):
            a, b = (view_a, wa, sa), (view_b, wb, sb)
            row = {"view": f"{view_a}/{view_b}", "width_a": wa, "width_b": wb,
                   "seed_a": sa, "seed_b": sb, "seed_pair": f"{sa}-{sb}",
                   "mutual_knn": measure.pair(states[a], states[b]),
                   "untrained": measure.pair(untrained[a], untrained[b]),
                   "null_mean": np.nan, "p_value": np.nan, "chance": chance,
                   "accuracy_a": nets[a][1], "accuracy_b": nets[b][1], "k": K, "n_stimuli": n}
            if (wa, wb) not in tested:  # the permutation null of one seed pair per width pair
                tested.add((wa, wb))
                result = repalign.compare(nets[a][0], nets[b][0], "mutual_knn",
                                          n_permutations=config.n_permutations,
                                          interval=None, seed=rng, k=K)
                row.update(null_mean=result.null_mean, p_value=result.p_value)
            rows.append(row)
    return rows


def _excess_slope(rows) -> float:
    """Least-squares slope of ``mutual_knn - untrained`` on ``log2(width_a)``."""
    return float(np.polyfit(np.log2(rows["width_a"]), rows["mutual_knn"] - rows["untrained"],
                            1)[0])


def _beyond_untrained(frame, label: str):
    """The check that a same-width rise with width exceeds the untrained networks'."""
    slope, low, high = jackknife_over_models(frame, _excess_slope)
    trained = frame.groupby("width_a")["mutual_knn"].mean()
    untrained = frame.groupby("width_a")["untrained"].mean()
    rho = _spearman(frame["width_a"], frame["untrained"])
    return Check(
        f"{label}: alignment rises with competence beyond what untrained networks of the same "
        "architectures show (the slope of trained - untrained mutual k-NN on log2 width has "
        "its 95% interval above 0)", low > 0,
        f"slope {slope:+.4f} per doubling [{low:+.4f}, {high:+.4f}] (jackknife over seeds); "
        f"untrained networks rise with width too (Spearman rho {rho:+.2f}); by width, trained "
        "/ untrained: " + ", ".join(f"{w}: {trained[w]:.3f} / {untrained[w]:.3f}"
                                    for w in trained.index))


def _checks(table, widths, chance):
    """The paper's claims, tested on the table."""
    full = table[table["view"] == "full/full"]
    cross = table[table["view"] == "left/right"]
    same = full[full["width_a"] == full["width_b"]]
    same_cross = cross[cross["width_a"] == cross["width_b"]]
    widest = max(widths)
    vs_widest = full[full["width_b"] == widest]
    rho_same = _spearman(same["width_a"], same["mutual_knn"])
    rho_widest = _spearman(vs_widest["width_a"], vs_widest["mutual_knn"])
    rho_cross = _spearman(same_cross["width_a"], same_cross["mutual_knn"])

    def means(frame):
        return ", ".join(f"{w}: {v:.3f}" for w, v in
                         frame.groupby("width_a")["mutual_knn"].mean().items())

    ratio = table["mutual_knn"] / chance
    null = table["null_mean"].mean()
    return [
        Check("mutual k-NN between same-width networks (different seeds) rises with width",
              rho_same > 0, f"Spearman rho(width, mutual_knn) = {rho_same:.2f} over "
              f"{len(same)} pairs; means by width: {means(same)}"),
        Check(f"mutual k-NN with the widest networks (w = {widest}) rises with the other "
              "network's width", rho_widest > 0,
              f"Spearman rho = {rho_widest:.2f} over {len(vs_widest)} pairs; means: "
              f"{means(vs_widest)}"),
        Check("cross-view mutual k-NN (left-half vs right-half networks, same width) rises "
              "with width", rho_cross > 0,
              f"Spearman rho = {rho_cross:.2f} over {len(same_cross)} pairs; means: "
              f"{means(same_cross)}"),
        _beyond_untrained(same, "whole images, same width"),
        _beyond_untrained(same_cross, "left half vs right half, same width"),
        Check("every pair is far above chance (at least 3 times k / (n - 1))",
              bool(ratio.min() >= 3),
              f"smallest mutual_knn = {table['mutual_knn'].min():.3f} = "
              f"{ratio.min():.1f} x chance ({chance:.4f})"),
        Check("the permutation chance level equals k / (n - 1)",
              bool(abs(null - chance) <= 0.1 * chance),
              f"mean null_mean = {null:.4f} over {table['null_mean'].count()} tested pairs, "
              f"k/(n-1) = {chance:.4f}"),
    ]


@dataclass(frozen=True)
class Config(StudyConfig):
    """Settings of the platonic study (defaults: the full run).

    Attributes
    ----------
    widths : tuple of int
        Hidden widths of the networks (quick: 8 to 128; full: 8 to 512).
    n_seeds : int
        Networks per width and view (quick 3, full 5).
    epochs : int
        Training epochs of every network (quick 20, full 40).
    n_permutations : int
        Stimulus permutations of each tested pair's chance level (quick 20,
        full 200). The quick run takes about 30 s.
    """

    widths: tuple = (8, 16, 32, 64, 128, 256, 512)
    n_seeds: int = 5
    epochs: int = 40
    n_permutations: int = 200


@register
class Platonic(Study):
    """Mutual k-NN alignment between digit classifiers of increasing width.

    The seed of a run seeds the train/test split, every network's
    initialisation and batch order, and the permutations.

    ``results.csv`` has one row per compared pair of networks: ``view``
    (``"full/full"`` or ``"left/right"``), ``width_a``, ``width_b``,
    ``seed_a``, ``seed_b``, ``seed_pair``, ``mutual_knn``, ``null_mean`` and
    ``p_value`` (permutation chance level and one-sided p-value, from
    :func:`repalign.compare` for the first seed pair of each width pair and
    view; empty elsewhere), ``chance`` (``k / (n - 1)``), ``accuracy_a``,
    ``accuracy_b`` (held-out accuracy of each network on its view), ``untrained``
    (``mutual_knn`` between the same two networks at their initialisation: the
    control), ``k`` and ``n_stimuli``.
    """

    name = "platonic"
    title = "Platonic representations: mutual k-NN alignment rises with width"
    reference = ("Huh, Cheung, Wang & Isola (2024). The platonic representation "
                 "hypothesis. ICML, PMLR 235.")
    Config = Config
    quick_settings = {"widths": (8, 16, 32, 64, 128), "n_seeds": 3, "epochs": 20,
                      "n_permutations": 20}

    def measure(self, config):
        import pandas as pd
        import torch

        from ._nets import digits_split

        torch.set_num_threads(1)
        split = digits_split(seed=config.seed)
        n = len(split[1])
        nets = {(view, width, s): _train_family(split, view, width, s, seed=config.seed,
                                                epochs=config.epochs)
                for view in VIEWS for width in config.widths for s in range(config.n_seeds)}
        table = pd.DataFrame(_compare(nets, config, n=n))
        accuracy = pd.DataFrame([(view, w, acc) for (view, w, _), (_, acc, _) in nets.items()],
                                columns=["view", "width", "accuracy"])
        return Outcome(table, {"chance": K / (n - 1), "n": n, "n_train": len(split[0]),
                               "accuracy": accuracy.pivot_table(
                                   index="width", columns="view", values="accuracy")})

    def checks(self, outcome, config):
        return _checks(outcome.table, config.widths, outcome.details["chance"])

    def figure(self, outcome, config):
        return _figure(outcome.table, config.widths, outcome.details["chance"])

    def numbers(self, outcome, config):
        table, acc = outcome.table, outcome.details["accuracy"]
        chance, n = outcome.details["chance"], outcome.details["n"]
        full, cross = (table[(table["view"] == v) & (table["width_a"] == table["width_b"])]
                       for v in ("full/full", "left/right"))
        lines = ["| width | mKNN whole/whole | untrained | mKNN left/right | untrained | "
                 "acc. whole | acc. left | acc. right |", "|---|---|---|---|---|---|---|---|"]
        for w in config.widths:
            lines.append(
                f"| {w} | {full[full['width_a'] == w]['mutual_knn'].mean():.3f} | "
                f"{full[full['width_a'] == w]['untrained'].mean():.3f} | "
                f"{cross[cross['width_a'] == w]['mutual_knn'].mean():.3f} | "
                f"{cross[cross['width_a'] == w]['untrained'].mean():.3f} | "
                f"{acc.loc[w, 'full']:.3f} | {acc.loc[w, 'left']:.3f} | "
                f"{acc.loc[w, 'right']:.3f} |")
        return "\n".join([
            f"Mean mutual {K}-NN of same-width pairs (different seeds), trained and untrained "
            "(the same networks at initialisation), and mean held-out accuracy:", "", *lines,
            "", _verdict(full, cross), "",
            f"Chance: k/(n-1) = {chance:.4f} (n = {n}); mean permutation null "
            f"{table['null_mean'].mean():.4f} ({config.n_permutations} permutations, first "
            "seed pair of each width pair).",
        ])

    def description(self, outcome, config):
        n_train, n, seed = outcome.details["n_train"], outcome.details["n"], config.seed
        widths, n_seeds, epochs = config.widths, config.n_seeds, config.epochs
        n_permutations = config.n_permutations
        return f"""
scikit-learn digits (8x8), split {n_train} train / {n} test (stratified, seed
{seed}). ReLU MLPs `d_in -> w -> w -> 10`, widths {", ".join(map(str, widths))}, {n_seeds}
networks per width for each view (whole image, d_in = 64; left half and right half of
the pixel grid, d_in = 32), each from its own seed, trained with Adam (lr 3e-3,
batch {BATCH}, {epochs} epochs). Representation: the penultimate layer `fc2` (before its
ReLU) on the {n} test images. Measure: `mutual_knn` (k = {K}, cosine neighbours) via
`repalign.get("mutual_knn")` (each network prepared once); the chance level from
`repalign.compare` with {n_permutations} stimulus permutations for the first seed pair of
each width pair. Control: every pair also compared at initialisation (untrained networks of
the same architectures and seeds); the slope of trained - untrained on log2 width with a
jackknife-over-seeds 95% interval. Pairs: every two whole-image networks from different
seeds (all width pairs), and every left-half network with every right-half network from a
different seed.
"""


def _verdict(full, cross) -> str:
    """Markdown: where the rise with width exceeds the untrained networks', measured."""
    parts = []
    for label, frame in (("whole images", full), ("left/right halves", cross)):
        trained = _spearman(frame["width_a"], frame["mutual_knn"])
        untrained = _spearman(frame["width_a"], frame["untrained"])
        slope, low, high = jackknife_over_models(frame, _excess_slope)
        verdict = "reproduced" if low > 0 else "not shown"
        parts.append(f"{label}: trained alignment rises with width (rho {trained:+.2f}), "
                     f"untrained alignment too (rho {untrained:+.2f}); the excess rises by "
                     f"{slope:+.4f} per doubling [{low:+.4f}, {high:+.4f}]: rise with "
                     f"competence beyond untrained networks {verdict}")
    return ("Against the untrained control (same architectures and seeds, before training): "
            + "; ".join(parts) + ".")


def _figure(table, widths, chance):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11.0, 4.4), layout="constrained")
    left, right = figure.subplots(1, 2)
    full = table[table["view"] == "full/full"]
    index = {w: i for i, w in enumerate(widths)}
    matrix = np.full((len(widths), len(widths)), np.nan)
    for (wa, wb), value in full.groupby(["width_a", "width_b"])["mutual_knn"].mean().items():
        matrix[index[wa], index[wb]] = matrix[index[wb], index[wa]] = value
    image = left.imshow(matrix, cmap="viridis", origin="lower")
    for i, j in product(range(len(widths)), repeat=2):
        left.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize="x-small",
                  color="white" if matrix[i, j] < np.nanmean(matrix) else "black")
    left.set_xticks(range(len(widths)), widths)
    left.set_yticks(range(len(widths)), widths)
    left.set_xlabel("width of network b")
    left.set_ylabel("width of network a")
    left.set_title(f"whole images: mean mutual {K}-NN (different seeds)")
    figure.colorbar(image, ax=left, label=f"mutual {K}-NN")

    cross = table[table["view"] == "left/right"]
    curves = {
        "whole images, same width": full[full["width_a"] == full["width_b"]],
        f"whole images, vs width {max(widths)}": full[full["width_b"] == max(widths)],
        "left half vs right half, same width": cross[cross["width_a"] == cross["width_b"]],
    }
    for (label, frame), colour in zip(curves.items(), ("C0", "C1", "C2")):
        stats = frame.groupby("width_a")["mutual_knn"].agg(["mean", "std"])
        right.errorbar(stats.index, stats["mean"], yerr=stats["std"], marker="o", capsize=3,
                       label=label, color=colour)
        if "same width" in label:
            right.plot(stats.index, frame.groupby("width_a")["untrained"].mean(), ls=":",
                       marker="x", color=colour, label=f"{label}, untrained")
    right.axhline(chance, color="grey", linestyle="--", label=f"chance k/(n-1) = {chance:.3f}")
    right.set_xscale("log", base=2)
    right.set_xticks(widths, widths)
    right.set_xlabel("width (hidden units per layer)")
    right.set_ylabel(f"mutual {K}-NN (mean ± sd over seed pairs)")
    right.set_ylim(0, 1)
    right.set_title("alignment rises with capacity")
    right.legend(fontsize="small", loc="upper left")
    return figure


