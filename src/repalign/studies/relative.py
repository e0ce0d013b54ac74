"""Relative representations: zero-shot stitching of encoders through shared anchors.

Moschella et al. (2023) observe that networks trained from different seeds
learn latent spaces that differ mostly by an angle-preserving map (a rotation,
a reflection, a rescaling), which breaks any module trained on one of them when
it is fed the other. Their remedy is to describe each stimulus not by its
coordinates but by its similarities to a fixed set of *anchor* stimuli,

.. math::

    r(x) = \\big(\\cos(e(x), e(a_1)), \\dots, \\cos(e(x), e(a_k))\\big),
    \\qquad \\cos(u, v) = \\frac{u^\\top v}{\\|u\\| \\, \\|v\\|},

with ``e`` the encoder and ``a_1..a_k`` the anchors, embedded by the same
encoder. ``r`` is unchanged when every latent vector is rotated or reflected
(``e -> e Q``, ``Q`` orthogonal) or scaled (``e -> s e``, ``s > 0``), and, if
the latents are first centred on the anchors' mean, translated. A decoder
trained on the relative representation of encoder A then works, zero-shot, on
the relative representation of encoder B ("latent space communication").

What is run. Two-layer MLP encoders ``64 -> w -> d`` (``d`` = 32 latent
dimensions, ``w`` varied) are trained end to end with a classifier head on
scikit-learn's 8x8 digits (Adam, cross-entropy), each from its own seed, in two
modes: ``absolute`` (head on the latent ``e(x)``) and ``relative`` (head on
``r(x)``, anchors a fixed random sample of training images shared by every
model, embedded by the model's own encoder at every step). The head is a
parameter-free layer normalisation (each stimulus's vector standardised across
its entries) followed by a linear map, in both modes. The normalisation is a
design choice of this study, tuned: without it, relative stitching reached only
about 0.5 accuracy in the quick setting (0.9 with it), because the heads then
depend on the overall level of the cosine similarities, which differs between
encoders; the authors' reference code offers such an output normalisation of
the relative block. Then for every
ordered pair of different encoders (different seeds, and widths), encoder B is
*stitched* to the head of model A without any training, and its held-out
accuracy is measured: ``head_A(e_B(x))`` in the absolute mode,
``head_A(r_B(x))`` in the relative mode. Each model's own (non-stitched)
accuracy is the reference; chance is 1/10.

Exact invariance: on one trained encoder's held-out latents (float64),
``r`` is recomputed after a random orthogonal map, an isotropic scaling, both
together, and (with ``center=True``) a translation, and compared with the
original, elementwise; ``r`` is also compared with its closed form
(scikit-learn's cosine similarity).

Checks, on this run's numbers: with at least as many anchors as latent
dimensions, relative stitching is far above absolute stitching, far above
chance, and close to the non-stitched accuracy; absolute stitching is near
chance; with several anchor counts (the full run), relative stitching improves
with more anchors; ``r`` is invariant to 1e-12 under rotation, scaling and
(centred) translation, and equal to the closed form. With fewer anchors than
latent dimensions (16 < 32 in the full run) the relative representation cannot
pin down a latent direction, and stitching is much weaker: reported, not hidden.

References
----------
Moschella, Maiorca, Fumero, Norelli, Locatello & Rodolà (2023). Relative
representations enable zero-shot latent space communication. ICLR.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np

from ._frame import Check, Outcome, Study, StudyConfig, register

__all__ = ["Relative", "relative_representation"]

#: Latent dimensions of every encoder (equal, so that absolute stitching is defined).
LATENT = 32
#: Classes of the digits, and the chance accuracy.
N_CLASSES = 10
CHANCE = 1 / N_CLASSES
#: Tolerance of the exact invariances.
INVARIANCE_TOL = 1e-12


def relative_representation(X, anchors, *, center: bool = False):
    """Cosine similarities of each stimulus to each anchor (Moschella et al. 2023).

    .. math::

        R_{ij} = \\frac{(x_i - c)^\\top (a_j - c)}{\\|x_i - c\\| \\, \\|a_j - c\\|},

    with ``c = 0``, or the anchors' mean with ``center=True``.

    Parameters
    ----------
    X : array of shape (n_stimuli, n_features)
        Latent vectors (NumPy, or torch with gradients flowing through).
    anchors : array of shape (n_anchors, n_features)
        The anchors' latent vectors, from the same encoder.
    center : bool, default=False
        Subtract the anchors' mean from both first, which adds invariance to
        translations of the latent space.

    Returns
    -------
    array of shape (n_stimuli, n_anchors)
        In [-1, 1]; unchanged when ``X`` and ``anchors`` are both multiplied
        by an orthogonal matrix or a positive scalar (and, with ``center=True``,
        shifted by one vector).

    Raises
    ------
    ValueError
        If ``X`` or ``anchors`` is not 2-D, their feature counts differ, or a
        (centred) vector is zero, whose cosine is undefined.

    References
    ----------
    Moschella, Maiorca, Fumero, Norelli, Locatello & Rodolà (2023). Relative
    representations enable zero-shot latent space communication. ICLR.

    Examples
    --------
    >>> import numpy as np
    >>> from repalign.studies.relative import relative_representation
    >>> X, A = np.array([[1.0, 0.0], [1.0, 1.0]]), np.array([[2.0, 0.0], [0.0, 3.0]])
    >>> np.round(relative_representation(X, A), 4)
    array([[1.    , 0.    ],
           [0.7071, 0.7071]])
    """
    import array_api_compat

    xp = array_api_compat.array_namespace(X, anchors)
    if X.ndim != 2 or anchors.ndim != 2:
        raise ValueError(f"X and anchors must be 2-D (stimuli x features); got X with shape "
                         f"{tuple(X.shape)} and anchors with shape {tuple(anchors.shape)}")
    if X.shape[1] != anchors.shape[1]:
        raise ValueError(f"X has {X.shape[1]} features but anchors has {anchors.shape[1]}; "
                         "both must be latents of the same encoder")
    if not isinstance(center, bool):
        raise TypeError(f"center must be a bool; got {type(center).__name__}")
    if center:
        mean = xp.mean(anchors, axis=0, keepdims=True)
        X, anchors = X - mean, anchors - mean

    def unit_rows(V, name):
        norms = xp.sqrt(xp.sum(V * V, axis=1, keepdims=True))
        if bool(xp.any(norms == 0)):
            raise ValueError(f"{name} has a zero{' (centred)' if center else ''} vector, "
                             "whose cosine similarity is undefined")
        return V / norms

    return unit_rows(X, "X") @ unit_rows(anchors, "anchors").T


def _make_model(encoder, head, anchors):
    """``head(e(x))``, or ``head(r(x))`` with ``r`` relative to ``anchors`` (input stimuli)."""
    from torch import nn

    class Stitched(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder, self.head = encoder, head
            self.register_buffer("anchors", anchors)

        def forward(self, x):
            z = self.encoder(x)
            if self.anchors is not None:
                z = relative_representation(z, self.encoder(self.anchors))
            return self.head(z)

    return Stitched()


def _model_seed(seed: int, mode: str, n_anchors: int, width: int, replicate: int) -> int:
    entropy = [seed, ("absolute", "relative").index(mode), n_anchors, width, replicate]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def _train_model(split, anchors, *, mode, width, replicate, seed, epochs):
    """One encoder and head trained end to end; returns ``(encoder, head)``."""
    import torch
    from torch import nn

    from ._nets import mlp, train

    X_train, _, y_train, _ = split
    torch.manual_seed(_model_seed(seed, mode, 0 if anchors is None else len(anchors),
                                  width, replicate))
    encoder = mlp([64, width, LATENT])
    dim = LATENT if anchors is None else len(anchors)
    head = nn.Sequential(nn.LayerNorm(dim, elementwise_affine=False), nn.Linear(dim, N_CLASSES))
    model = _make_model(encoder, head, anchors)
    train(model, X_train, y_train, seed=_model_seed(seed, mode, 1, width, replicate),
          epochs=epochs)
    return encoder, head


def _accuracy(encoder, head, anchors, X, y) -> float:
    import torch

    with torch.inference_mode():
        logits = _make_model(encoder, head, anchors).eval()(torch.as_tensor(X))
    return float((logits.argmax(1).numpy() == y).mean())


def _invariance_rows(encoder, X_test, anchors, rng) -> list:
    """Max elementwise change of ``r`` under each transform, and the closed-form error."""
    import torch
    from sklearn.metrics.pairwise import cosine_similarity

    with torch.inference_mode():
        Z = encoder(torch.as_tensor(X_test)).double().numpy()
        A = encoder(anchors).double().numpy()
    Q, R = np.linalg.qr(rng.standard_normal((LATENT, LATENT)))
    Q = Q * np.sign(np.diag(R))
    scale, shift = 3.7, rng.standard_normal(LATENT) * 10
    transforms = {  # name -> (map of the latent space, centre on the anchors' mean)
        "rotation": (lambda V: V @ Q, False),
        "scaling": (lambda V: scale * V, False),
        "rotation+scaling": (lambda V: scale * V @ Q, False),
        "translation (centred)": (lambda V: V + shift, True),
        "rotation+scaling+translation (centred)": (lambda V: scale * V @ Q + shift, True),
        "translation (not centred)": (lambda V: V + shift, False),
    }
    rows = [{"part": "invariance", "transform": "none (vs closed form)", "center": False,
             "max_abs_change": float(np.abs(relative_representation(Z, A)
                                            - cosine_similarity(Z, A)).max())}]
    for name, (f, center) in transforms.items():
        before = relative_representation(Z, A, center=center)
        after = relative_representation(f(Z), f(A), center=center)
        rows.append({"part": "invariance", "transform": name, "center": center,
                     "max_abs_change": float(np.abs(after - before).max())})
    return rows


def _stitching_rows(split, config) -> list:
    """Train the models of each mode and anchor count; one row per (encoder B, head A),
    and the invariance rows of the first encoder with the most anchors."""
    import torch

    X_train, X_test, _, y_test = split
    rng = np.random.default_rng(config.seed)
    order = torch.as_tensor(rng.permutation(len(X_train)))
    encoders = [(w, r) for w, r in product(config.widths, range(config.n_reps))]
    rows = []
    for mode, k in [("absolute", None), *(("relative", k) for k in config.anchor_counts)]:
        anchors = None if k is None else torch.as_tensor(X_train)[order[:k]]
        models = {e: _train_model(split, anchors, mode=mode, width=e[0], replicate=e[1],
                                  seed=config.seed, epochs=config.epochs) for e in encoders}
        for a, b in product(encoders, encoders):
            rows.append({
                "part": "stitching", "mode": mode, "stitched": a != b,
                "encoder_a": f"w{a[0]}#{a[1]}", "encoder_b": f"w{b[0]}#{b[1]}",
                "width_a": a[0], "width_b": b[0], "n_anchors": k,
                "accuracy": _accuracy(models[b][0], models[a][1], anchors, X_test, y_test),
                "chance": CHANCE, "seed": config.seed})
        if mode == "relative" and k == config.anchor_counts[-1]:
            rows += _invariance_rows(models[encoders[0]][0], X_test, anchors, rng)
    return rows


def _checks(table):
    """The paper's claims, tested on the table.

    The stitching claims are tested with at least as many anchors as latent
    dimensions (``n_anchors >= LATENT``): fewer anchors cannot pin a latent
    vector's direction, and the paper uses hundreds. Runs with fewer anchors
    enter the check that accuracy rises with the number of anchors.
    """
    acc = table[table["part"] == "stitching"]
    stitched = acc[acc["stitched"]]
    ab = stitched[stitched["mode"] == "absolute"]["accuracy"]
    relative = acc[acc["mode"] == "relative"]
    by_anchor = relative.groupby(["n_anchors", "stitched"])["accuracy"].mean().unstack()
    enough = relative[relative["n_anchors"] >= LATENT]
    rel = enough[enough["stitched"]]["accuracy"]
    counts = by_anchor.index[by_anchor.index >= LATENT]
    drop = (by_anchor.loc[counts, False] - by_anchor.loc[counts, True]).max()
    trend = "; ".join(f"{k}: {by_anchor.loc[k, False]:.3f} vs {by_anchor.loc[k, True]:.3f}"
                      for k in by_anchor.index)
    inv = table[table["part"] == "invariance"].set_index("transform")
    exact = inv[inv.index != "translation (not centred)"]["max_abs_change"]
    moved = inv.loc["translation (not centred)", "max_abs_change"]
    checks = [
        Check(f"relative stitching (>= {LATENT} anchors) is far above absolute stitching "
              "(every relative stitched pair above every absolute one, mean gap > 0.3)",
              bool(rel.min() > ab.max() and rel.mean() - ab.mean() > 0.3),
              f"relative {rel.mean():.3f} (min {rel.min():.3f}) vs absolute {ab.mean():.3f} "
              f"(max {ab.max():.3f}) over {len(rel)} and {len(ab)} stitched pairs"),
        Check(f"relative stitching (>= {LATENT} anchors) is far above chance (every pair "
              "above 3 x chance)", bool(rel.min() > 3 * CHANCE),
              f"lowest relative stitched accuracy {rel.min():.3f}, chance {CHANCE:.3f}"),
        Check("absolute stitching is near chance (mean below 2 x chance)",
              bool(ab.mean() < 2 * CHANCE),
              f"absolute stitched accuracy {ab.mean():.3f} ± {ab.std():.3f}, chance "
              f"{CHANCE:.3f}"),
        Check(f"relative stitching (>= {LATENT} anchors) stays within 0.1 of the "
              "non-stitched accuracy", bool(drop < 0.1),
              f"non-stitched vs stitched accuracy, by number of anchors: {trend}"),
    ]
    if len(by_anchor) > 1:
        checks.append(Check(
            "relative stitching accuracy rises with the number of anchors",
            bool(by_anchor[True].is_monotonic_increasing),
            "mean stitched accuracy by number of anchors: " + "; ".join(
                f"{k}: {v:.3f}" for k, v in by_anchor[True].items())))
    checks.append(Check(
        f"the relative representation is the closed-form cosine similarity and is "
        f"invariant, to {INVARIANCE_TOL:g}, to rotation, scaling and (centred) translation "
        f"of the latent space", bool(exact.max() <= INVARIANCE_TOL and moved > 1e-3),
        "max elementwise change: " + "; ".join(
            f"{name} {v:.1e}" for name, v in inv["max_abs_change"].items())))
    return checks


@dataclass(frozen=True)
class Config(StudyConfig):
    """Settings of the relative study (defaults: the full run).

    Attributes
    ----------
    widths : tuple of int
        Hidden widths of the encoders (quick 64 and 128; full 32, 64, 128, 256).
    n_reps : int
        Encoders (seeds) per width and mode (quick 2, full 3).
    anchor_counts : tuple of int
        Numbers of anchors of the relative models (quick 64; full 16, 64, 256).
    epochs : int
        Training epochs of every model (quick 30, full 40). The quick run takes
        about 30 s.
    """

    widths: tuple = (32, 64, 128, 256)
    n_reps: int = 3
    anchor_counts: tuple = (16, 64, 256)
    epochs: int = 40


@register
class Relative(Study):
    """Zero-shot stitching with relative and absolute representations (Moschella 2023).

    The seed of a run seeds the train/test split, the anchors, every model's
    initialisation and batch order, and the transforms of the invariance test.

    ``results.csv`` holds two parts. ``part="stitching"``: one row per model
    evaluated on the test images, ``mode`` (``absolute`` or ``relative``),
    ``stitched`` (encoder B with the head of model A, or a model with its own
    head), ``encoder_a``, ``encoder_b`` (``w<width>#<k>``: hidden width and
    replicate), ``width_a``, ``width_b``, ``n_anchors`` (empty for
    ``absolute``), ``accuracy``, ``chance``, ``seed``. ``part="invariance"``:
    one row per transform of the latent space, ``transform``, ``center``,
    ``max_abs_change`` (largest elementwise change of the relative
    representation; the first row compares it with the closed form instead).
    """

    name = "relative"
    title = "Relative representations: zero-shot stitching through anchors"
    reference = ("Moschella, Maiorca, Fumero, Norelli, Locatello & Rodolà (2023). Relative "
                 "representations enable zero-shot latent space communication. ICLR.")
    Config = Config
    quick_settings = {"widths": (64, 128), "n_reps": 2, "anchor_counts": (64,), "epochs": 30}

    def measure(self, config):
        import pandas as pd
        import torch

        from ._nets import digits_split

        torch.set_num_threads(1)
        split = digits_split(seed=config.seed)
        table = pd.DataFrame(_stitching_rows(split, config))
        table["n_anchors"] = table["n_anchors"].astype("Int64")
        return Outcome(table, {"n_train": len(split[0]), "n_test": len(split[1])})

    def checks(self, outcome, config):
        return _checks(outcome.table)

    def figure(self, outcome, config):
        return _figure(outcome.table)

    def numbers(self, outcome, config):
        import pandas as pd

        table = outcome.table
        acc = table[table["part"] == "stitching"]
        stats = acc.groupby(["mode", "n_anchors", "stitched"], dropna=False)["accuracy"].agg(
            ["mean", "std", "min", "count"])
        lines = ["| mode | anchors | stitched | accuracy (mean ± sd) | min | models |",
                 "|---|---|---|---|---|---|"]
        for (mode, k, stitched), s in stats.iterrows():
            lines.append(f"| {mode} | {'' if pd.isna(k) else k} | "
                         f"{'yes' if stitched else 'no'} | {s['mean']:.3f} ± {s['std']:.3f} | "
                         f"{s['min']:.3f} | {s['count']:.0f} |")
        stitched = acc[acc["stitched"]]
        cross = stitched.assign(same_width=stitched["width_a"] == stitched["width_b"]).groupby(
            ["mode", "n_anchors", "same_width"], dropna=False)["accuracy"].mean()
        inv = table[table["part"] == "invariance"]
        return "\n".join([
            "Held-out accuracy (chance 0.100):", "", *lines, "",
            "Stitched accuracy, encoders of the same width vs different widths: " + "; ".join(
                f"{mode}{'' if pd.isna(k) else f' ({k} anchors)'} "
                f"{'same' if same else 'different'} {v:.3f}"
                for (mode, k, same), v in cross.items()) + ".", "",
            "Largest elementwise change of the relative representation (float64, "
            f"{outcome.details['n_test']} test images x {config.anchor_counts[-1]} anchors): "
            + "; ".join(f"{t} {v:.1e}" for t, v in zip(inv["transform"],
                                                       inv["max_abs_change"])) + ".",
        ])

    def description(self, outcome, config):
        n_train, n_test = outcome.details["n_train"], outcome.details["n_test"]
        seed = config.seed
        widths, n_reps, anchor_counts = config.widths, config.n_reps, config.anchor_counts
        n_encoders, epochs = len(widths) * n_reps, config.epochs
        n_pairs = n_encoders * (n_encoders - 1)
        return f"""
scikit-learn digits (8x8), split {n_train} train / {n_test} test (stratified,
seed {seed}). Encoders: MLPs `64 -> w -> ReLU -> {LATENT}`, widths
{", ".join(map(str, widths))}, {n_reps} seeds each ({n_encoders} encoders per mode),
trained end to end with a head `LayerNorm (no affine) -> Linear` (Adam, lr 3e-3, batch
64, {epochs} epochs) on the latent (`absolute`) or on its cosine similarities to
{", ".join(map(str, anchor_counts))} anchors (`relative`; a fixed random sample of
training images, the same for every model). Stitching: encoder B + head of model A,
for all {n_pairs} ordered pairs of different encoders, no training; `not stitched`:
each model with its own head. Invariance: the relative representation of the first
encoder's test latents (float64), after random orthogonal maps, scaling by 3.7 and
translation (with centring on the anchors' mean), and against scikit-learn's
`cosine_similarity`.
"""


def _figure(table):
    from matplotlib.figure import Figure

    acc = table[table["part"] == "stitching"]
    figure = Figure(figsize=(11.5, 4.4), layout="constrained")
    left, right = figure.subplots(1, 2, width_ratios=(3, 2))
    groups = [("absolute", np.nan)] + [("relative", k) for k in
                                       sorted(acc["n_anchors"].dropna().unique())]
    width = 0.38
    rng = np.random.default_rng(0)  # horizontal jitter of the points only
    for i, (mode, k) in enumerate(groups):
        frame = acc[(acc["mode"] == mode) & (acc["n_anchors"].isna() if np.isnan(k)
                                             else acc["n_anchors"] == k)]
        for offset, stitched, colour in ((-width / 2, False, "C0"), (width / 2, True, "C1")):
            values = frame[frame["stitched"] == stitched]["accuracy"]
            left.bar(i + offset, values.mean(), width, color=colour, alpha=0.8,
                     label=("stitched (encoder B, head A)" if stitched else
                            "not stitched (own head)") if i == 0 else None)
            left.scatter(i + offset + rng.uniform(-0.1, 0.1, len(values)), values, s=8,
                         color="black", zorder=3)
    left.axhline(CHANCE, color="grey", linestyle="--", label=f"chance {CHANCE:.1f}")
    left.set_xticks(range(len(groups)), ["absolute"] + [f"relative\n{k:.0f} anchors"
                                                        for _, k in groups[1:]])
    left.set_ylim(0, 1.02)
    left.set_ylabel("held-out accuracy")
    left.set_title("zero-shot stitching of encoders from other seeds and widths")
    left.legend(fontsize="small", loc="center left")

    inv = table[table["part"] == "invariance"]
    values = np.maximum(inv["max_abs_change"].to_numpy(), 1e-18)
    right.barh(range(len(inv)), values, color=["C2" if v <= INVARIANCE_TOL else "C3"
                                               for v in values])
    right.axvline(INVARIANCE_TOL, color="grey", linestyle="--", label="1e-12")
    right.set_xscale("log")
    right.set_yticks(range(len(inv)), inv["transform"], fontsize="small")
    right.invert_yaxis()
    right.set_xlabel("max |r(f(Z), f(A)) - r(Z, A)|")
    right.set_title("invariance of the relative representation")
    right.legend(fontsize="small")
    return figure


