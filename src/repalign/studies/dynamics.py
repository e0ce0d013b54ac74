"""Rich and lazy training: target alignment over epochs, and the two-point effective theory.

How much a network's hidden representation changes during training depends on
the scale of its initialisation. From a small initialisation, gradient descent
is in the *rich* (feature-learning) regime: the weights travel far from where
they started and the hidden layers reorganise around the task, mode by mode, as
in deep linear networks (Saxe, McClelland & Ganguli 2014, 2019). From a large
initialisation it is in the *lazy* regime: the network fits its data while its
weights, and hence its features, stay close to their initial values, so that it
behaves as its linearisation (the neural tangent kernel; Chizat, Oyallon & Bach
2019). Van Rossem & Saxe (2024) model representation learning in expressive
networks by an effective theory of the *two-point interaction*: three scalars
of a pair of inputs evolve by a closed system of ODEs, whatever the
architecture, and the rich and lazy behaviours both appear in it.

What is run
-----------
**Networks.** Bias-free ReLU MLPs ``64 -> w -> w -> w -> w -> 10`` (four hidden
layers ``act1 .. act4``, five weight matrices) on scikit-learn's 8x8 digits,
pixels in [0, 1]. Every weight matrix is drawn as
``W ~ N(0, g^2 c / fan_in)``, He initialisation (``c = 2``; ``c = 1`` for the
output layer) times the *init scale* ``g``. The output is centred at
initialisation, ``f(x) = net(x) - net_0(x)`` (Chizat et al. likewise centre the model), so
that every network starts from the zero function whatever ``g``. The loss is the
mean squared error ``L = (1 / 2n) sum_i ||f(x_i) - y_i||^2`` on one-hot targets,
minimised by full-batch gradient descent.

**Learning rates.** A bias-free ReLU network is positively homogeneous: scaling
all five matrices by ``g`` scales the output by ``g^5`` and its tangent kernel
by ``g^(2 * 4)``. The step is therefore ``lr = lr0 * min(1, g^-8)``: for
``g >= 1`` the function moves at the same speed at initialisation for every
``g`` (the same kernel dynamics; large ``g`` then only makes the weights move
less relative to their size, which is Chizat et al.'s lazy limit), and for
``g < 1`` the step is capped at ``lr0``, the largest step that stays stable once
the weights have grown to the size the task needs. ``lr0 = 0.01``: with
``0.02`` the lazy networks (``g = 4``, whose tangent kernel stays that of
their initialisation) of 2 of 10 initialisations blew up in their first steps
(the step was above ``2 / λ_max`` of their initial kernel), and with ``0.015``
1 of 10; with ``0.01`` all 10 trained.

**Target alignment.** Every few epochs, linear CKA (``repalign.get("cka")``)
between each hidden layer's activations on the held-out digits and their
one-hot targets,

.. math::

    \\mathrm{CKA}(H, Y) = \\frac{\\|H_c^\\top Y_c\\|_F^2}
        {\\|H_c^\\top H_c\\|_F \\, \\|Y_c^\\top Y_c\\|_F},

with ``H_c``, ``Y_c`` column-centred; also the training loss.

**Two-point effective theory.** The same network is trained (same scales, same
rule for the step) on two digits of different classes, ``x_1`` and ``x_2`` with
one-hot targets ``y*_1``, ``y*_2``. Writing ``Δ`` for the difference between the
two points, every 10 steps we record, per hidden layer, the squared
representational distance ``h = ||Δh||^2`` (and the cosine between the two
hidden vectors), and at the output ``y = ||Δŷ||^2`` and the output alignment
``w = ||Δŷ||^2 - <Δy*, Δŷ> = <Δŷ, Δŷ - Δy*>`` (zero when the difference of the
outputs matches that of the targets). Van Rossem & Saxe's effective theory,
with ``D_x = ||Δx||^2`` and ``D_y = ||Δy*||^2`` (here 2), is

.. math::

    \\dot h &= -\\eta_h D_x w, \\\\
    \\dot y &= -w \\left(\\eta_y h + \\eta_h D_x \\frac{y}{h}\\right), \\\\
    \\dot w &= -\\tfrac12 \\eta_y (3w - y + D_y)\\, h
              - \\tfrac12 \\eta_h D_x (y + w) \\frac{w}{h},

with two effective learning rates, ``η_h`` of the encoder (input to hidden) and
``η_y`` of the decoder (hidden to output). ``Q = η_y h^2 - η_h D_x y`` changes
only by a factor, ``dQ/dt = -η_h D_x (w / h) Q`` (our derivation): from a small
initialisation (``Q ≈ 0``) the system ends, once ``y = D_y``, at
``h^2 = (η_h / η_y) D_x D_y`` (a representation set by the task), and from a
large one ``h`` stays near its initial value (the lazy regime).

We took this system from the authors' code (``der`` in ``source/simulate.py`` of
github.com/loekvanrossem/universality) and re-derived every term: an encoder
step moves ``Δh`` by ``-½ η_h D_x J^T Δr``, a decoder step moves ``Δŷ`` by
``-½ η_y h Δr`` (``Δr = Δŷ - Δy*``, the difference of the residuals), and the
decoder's Jacobian restricted to the pair is closed as
``J ≈ Δŷ Δh^T / h``; then ``ḣ = 2 <Δh, dΔh/dt>``, ``ẏ = 2 <Δŷ, dΔŷ/dt>`` and
``ẇ = <2Δŷ - Δy*, dΔŷ/dt>`` give the three lines, using
``<2Δŷ - Δy*, Δr> = 3w - y + D_y``. Time is counted in gradient steps, so the
step size is absorbed into ``η_h`` and ``η_y``. Starting from the measured
``(h, y, w)`` at step 0, the system is integrated (LSODA) and ``(η_h, η_y)``
are fitted by least squares on the three recorded curves, each divided by its
standard deviation so that they weigh alike (floored at 1% of its root mean
square, so that the tiny drift of a curve that hardly moves, as ``h`` in the
lazy regime, does not dominate the fit): a grid spanning ``10^-3 .. 10^3``
times the natural rates ``η_h ~ H / (D_x D_y T)`` and ``η_y ~ 1 / (H T)`` (``H``
the largest ``h``, ``T`` the duration), then ``scipy.optimize.least_squares``
on their logarithms from the three best grid points (the lowest cost is kept),
bounded to ``10^-6 .. 10^6`` times the natural rates. The
fit is done per hidden layer; ``R^2`` is reported for each of ``h``, ``y`` and
``w``.

**Seeds.** Everything above is run for ``n_seeds`` seeds. A seed draws the
initialisation, one draw shared by every scale (the networks of a seed differ
only by the factor ``g``, so the comparison across scales is paired), and the
pair of digits of the two-point theory; the split of the digits is fixed by
the run's ``seed``. Intervals are 95% Student t-intervals over seeds (the
jackknife over seeds of a mean, ``_stats.jackknife_over_models``).

Checks, each required on every seed (a check states how many seeds it held
on): at every hidden layer the final target alignment is higher, and its rise
over training larger, at the smallest init scale than at the largest, and the
largest scale's rise is under a tenth of the smallest's (lazy); the
large-init network does fit its training set (final loss under half its
initial value: the comparison is not one of a trained and an untrained
network), and at matched training loss (the largest final loss over the
seed's scales, at the first epoch each network reaches it) the small-init
network is the more target-aligned, at every hidden layer; the pair's
representational distance at the last hidden layer moves less (relatively)
with every step up in ``g``, across all scales, and at least ten times less at
the largest scale than at the smallest; and the effective theory describes
the small-init pair at the last hidden layer with ``R^2 >= 0.9`` on each of
``h``, ``y`` and ``w``. Whether the target alignment itself falls with every
step up in ``g`` is not a check: the summary counts, per step between two
adjacent scales, the seeds in which it does (see the full run below).

Full run (the defaults: scales 0.5, 0.7, 1, 2, 4; 5 seeds, 12,000 epochs on
1000 training digits, 450 held-out; seed 0; 745 to 975 s on 2 shared x86_64
cores).
All six checks hold on 5/5 seeds. Final target alignment at ``act4``, mean and
95% t-interval over seeds, from 0.336 [0.295, 0.377] at initialisation:
g = 0.5: 0.689 [0.638, 0.741], 0.7: 0.682 [0.634, 0.730], 1: 0.530
[0.478, 0.582], 2: 0.335 [0.295, 0.376], 4: 0.336 [0.295, 0.377] (final
training loss 0.036, 0.027, 0.027, 0.063, 0.083: the lazy nets fit their
data). At matched training loss: 0.649, 0.633, 0.476, 0.335, 0.336. The
pair's ``|h(T) - h(0)| / h(0)`` at ``act4`` falls at every step up in g on
every seed (means 118, 10.2, 0.56, 0.0067, 0.00021), and the two-point theory
fits the g = 0.5 pair at ``act4`` with R^2 >= 0.983 on h, y and w on every
seed. What is not monotone in g: the final target alignment falls with every
step in only 1/5 seeds. From 0.5 to 0.7 it falls in 3/5 (the g = 0.5 nets are
the less trained, loss 0.036 against 0.027, and at matched loss it falls in
5/5); from 2 to 4 in 2/5, where both scales are lazy and stay at their initial
alignment (|rise| and differences at most 0.001). So the alignment
falls across the crossover (0.7 -> 1 -> 2, 5/5 seeds each) and is flat on
both sides of it, as the rich and lazy limits have it. The theory's fit is
layer-dependent: at g = 0.5 its R^2 on w is 0.35 at ``act1`` and 0.78 at
``act2`` (0.96 and 0.99 at ``act3``, ``act4``).

References
----------
Chizat, Oyallon & Bach (2019). On lazy training in differentiable programming.
NeurIPS 32.

Saxe, McClelland & Ganguli (2014). Exact solutions to the nonlinear dynamics of
learning in deep linear neural networks. ICLR.

Saxe, McClelland & Ganguli (2019). A mathematical theory of semantic
development in deep neural networks. PNAS 116(23), 11537-11546.

van Rossem & Saxe (2024). When representations align: universality in
representation learning dynamics. ICML, PMLR 235.

Kornblith, Norouzi, Lee & Hinton (2019). Similarity of neural network
representations revisited. ICML.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._frame import Check, Outcome, Study, StudyConfig, register
from ._stats import jackknife_over_models

__all__ = ["Dynamics"]

#: Hidden layers of the MLP (five weight matrices in all).
DEPTH = 4
#: The hidden layers, as named by ``_nets.mlp``.
LAYERS = tuple(f"act{i}" for i in range(1, DEPTH + 1))
#: Base step of gradient descent (see the module docstring).
LR0 = 0.01
#: Steps between two records of the pair's quantities.
PAIR_EVERY = 20
#: Starts of the least-squares fit of the two-point theory (the best points of its grid).
N_STARTS = 3
#: Floor of the weight scale of a curve in the fit, as a fraction of its root mean square.
FLOOR = 0.01
#: The R^2 the effective theory must reach on the small-init pair.
R2_MIN = 0.9
#: The pair quantities fitted by the theory, in the order of the ODE's state.
PAIR_QUANTITIES = ("sq_distance", "output_sq_distance", "output_alignment")



@dataclass(frozen=True)
class Config(StudyConfig):
    """Settings of the dynamics study.

    Attributes
    ----------
    scales : tuple of float
        The init scales ``g``, smallest first (a scale of 0.25 needed over 10,000
        epochs at a step of 0.02, so about twice as many at this study's 0.01, to
        leave the plateau of its first learning stage, so it is not run).
    n_train : int
        Training digits.
    n_eval : int or None
        Held-out digits on which target alignment is measured (None: all of them).
    width : int
        Width of every hidden layer.
    epochs : int
        Full-batch gradient steps on the training digits.
    every : int
        Epochs between two measurements of target alignment.
    pair_epochs : int
        Gradient steps on the pair of the two-point theory.
    n_seeds : int
        Replicates, each with its own initialisation (seed ``1000 seed + s``,
        shared by every scale: the nets of one replicate differ only by ``g``)
        and its own pair of digits; at least 3, for the intervals over seeds.
    """

    scales: tuple = (0.5, 0.7, 1.0, 2.0, 4.0)
    n_train: int = 1000
    n_eval: int | None = None
    width: int = 96
    epochs: int = 12000
    every: int = 200
    pair_epochs: int = 3000
    n_seeds: int = 5

    def __post_init__(self) -> None:
        if self.n_seeds < 3:
            raise ValueError(f"n_seeds must be >= 3 for the intervals over seeds; got "
                             f"{self.n_seeds}")


def _network(width: int, scale: float, seed: int):
    """The bias-free ReLU MLP, weights ``N(0, scale^2 c / fan_in)`` (He times ``scale``)."""
    import torch

    from ._nets import mlp

    torch.manual_seed(seed)
    model = mlp([64] + [width] * DEPTH + [10], activation="relu", bias=False)
    with torch.no_grad():
        for name, module in model.named_children():
            if isinstance(module, torch.nn.Linear):
                gain = 1.0 if name == "out" else 2.0
                module.weight.normal_(0.0, scale * np.sqrt(gain / module.in_features))
    return model


def _learning_rate(scale: float) -> float:
    """``LR0 * min(1, scale^-2 DEPTH)``: the tangent kernel's growth with the scale undone."""
    return LR0 * min(1.0, scale ** (-2 * DEPTH))


def _train_alignment(X, Y, X_eval, Y_eval, *, scale, width, epochs, every, seed):
    """Full-batch gradient descent; target alignment per hidden layer every ``every`` epochs.

    Returns a list of ``(epoch, layer, target_alignment, loss)``.
    """
    import torch

    import repalign

    cka = repalign.get("cka")
    targets = cka.prepare(Y_eval)
    model = _network(width, scale, seed)
    X = torch.as_tensor(X)
    Y = torch.as_tensor(Y)
    with torch.no_grad():
        offset = model(X)
    opt = torch.optim.SGD(model.parameters(), lr=_learning_rate(scale))
    rows = []
    for epoch in range(epochs + 1):
        opt.zero_grad()
        loss = 0.5 * ((model(X) - offset - Y) ** 2).sum(1).mean()
        if epoch % every == 0:
            acts = repalign.extract(model, X_eval, layers=list(LAYERS), batch_size=len(X_eval))
            rows += [(epoch, layer, cka.pair(cka.prepare(acts[layer]), targets), loss.item())
                     for layer in LAYERS]
        if epoch < epochs:
            loss.backward()
            opt.step()
    return rows


def _train_pair(X, Y, *, scale, width, epochs, seed):
    """Gradient descent on two points; the pair's quantities every ``PAIR_EVERY`` steps.

    Returns
    -------
    steps : ndarray, shape (T,)
    h, cosine : dict layer -> ndarray, shape (T,)
        Squared distance and cosine between the two hidden vectors.
    y, w, loss : ndarray, shape (T,)
        ``||Δŷ||^2``, ``<Δŷ, Δŷ - Δy*>`` and the training loss.
    """
    import torch

    import repalign

    model = _network(width, scale, seed)
    X = torch.as_tensor(X)
    Y = torch.as_tensor(Y)
    target_diff = (Y[0] - Y[1]).numpy()
    with torch.no_grad():
        offset = model(X)
    opt = torch.optim.SGD(model.parameters(), lr=_learning_rate(scale))
    steps, ys, ws, losses = [], [], [], []
    h = {layer: [] for layer in LAYERS}
    cosine = {layer: [] for layer in LAYERS}
    for step in range(epochs + 1):
        opt.zero_grad()
        output = model(X) - offset
        loss = 0.5 * ((output - Y) ** 2).sum(1).mean()
        if step % PAIR_EVERY == 0:
            acts = repalign.extract(model, X, layers=list(LAYERS), batch_size=2)
            for layer in LAYERS:
                a, b = acts[layer].astype(np.float64)
                h[layer].append(float(np.sum((a - b) ** 2)))
                norms = np.linalg.norm(a) * np.linalg.norm(b)
                cosine[layer].append(float(a @ b / norms) if norms > 0 else np.nan)
            diff = (output[0] - output[1]).detach().numpy().astype(np.float64)
            steps.append(step)
            ys.append(float(diff @ diff))
            ws.append(float(diff @ diff - diff @ target_diff))
            losses.append(loss.item())
        if step < epochs:
            loss.backward()
            opt.step()
    return (np.asarray(steps, dtype=np.float64),
            {layer: np.asarray(values) for layer, values in h.items()},
            {layer: np.asarray(values) for layer, values in cosine.items()},
            np.asarray(ys), np.asarray(ws), np.asarray(losses))


def _two_point_rhs(t, z, eta_h, eta_y, dx2, dy2):
    """Right-hand side of van Rossem & Saxe's two-point system in ``(h, y, w)``."""
    h, y, w = z
    return [-eta_h * dx2 * w,
            -w * (eta_y * h + eta_h * dx2 * y / h),
            -0.5 * eta_y * (3 * w - y + dy2) * h - 0.5 * eta_h * dx2 * (y + w) * w / h]


def _solve_two_point(steps, start, eta_h, eta_y, dx2, dy2):
    """The theory's ``(h, y, w)`` at ``steps``, shape (3, T); None if integration fails."""
    from scipy.integrate import solve_ivp

    sol = solve_ivp(_two_point_rhs, (steps[0], steps[-1]), start, t_eval=steps,
                    args=(eta_h, eta_y, dx2, dy2), method="LSODA", rtol=1e-6, atol=1e-10)
    if not sol.success or sol.y.shape[1] != len(steps):
        return None
    return sol.y


def _fit_two_point(steps, observed, dx2, dy2):
    """Least-squares ``(η_h, η_y)`` of the two-point theory to ``observed`` (3, T).

    Returns ``eta_h, eta_y, predicted (3, T), r2 (3,)``.
    """
    from scipy.optimize import least_squares

    size = np.sqrt(np.mean(observed**2, axis=1))
    scale = np.maximum(observed.std(axis=1), FLOOR * size)
    scale = np.where(scale > 0, scale, 1.0)
    failed = np.full(observed.size, 1e3)

    def residuals(log_etas):
        predicted = _solve_two_point(steps, observed[:, 0], *np.exp(log_etas), dx2, dy2)
        return failed if predicted is None else ((predicted - observed) / scale[:, None]).ravel()

    # natural rates from the ODE's scales (h ~ H, y and w ~ D_y, time ~ T):
    # eta_h ~ H / (D_x D_y T), eta_y ~ 1 / (H T); the grid spans 10^-3 .. 10^3 of them
    largest, duration = np.abs(observed[0]).max(), steps[-1] - steps[0]
    natural = np.log([largest / (dx2 * max(dy2, 1e-12) * duration),
                      1.0 / (largest * duration)])
    grid = np.log(np.logspace(-3, 3, 7))
    starts = sorted((natural + (a, b) for a in grid for b in grid),
                    key=lambda p: float(np.sum(residuals(p) ** 2)))
    bounds = (natural + np.log(1e-6), natural + np.log(1e6))
    fit = min((least_squares(residuals, start, bounds=bounds, diff_step=1e-4)
               for start in starts[:N_STARTS]), key=lambda result: result.cost)
    eta_h, eta_y = np.exp(fit.x)
    predicted = _solve_two_point(steps, observed[:, 0], eta_h, eta_y, dx2, dy2)
    total = ((observed - observed.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    r2 = 1.0 - ((predicted - observed) ** 2).sum(axis=1) / total
    return float(eta_h), float(eta_y), predicted, r2


def _pick_pair(y, seed: int):
    """Two training digits of two different classes, drawn by ``seed``."""
    rng = np.random.default_rng([seed, 7])
    a, b = rng.choice(10, size=2, replace=False)
    i = rng.choice(np.flatnonzero(y == a))
    j = rng.choice(np.flatnonzero(y == b))
    return np.array([i, j]), (int(a), int(b))


def _figure(training, pair, per_seed, scales):
    """Target alignment per layer and loss (mean over seeds, band min to max); the first
    seed's two-point curves and the theory; the pair's distance and the fits over seeds."""
    from matplotlib import cm
    from matplotlib.figure import Figure

    figure = Figure(figsize=(3.2 * (DEPTH + 1), 6.8), layout="constrained")
    axes = figure.subplots(2, DEPTH + 1)
    colours = dict(zip(scales, cm.viridis(np.linspace(0.0, 0.85, len(scales)))))

    def band(ax, rows, column, scale, **kwargs):
        stats = rows.groupby("epoch")[column].agg(["mean", "min", "max"])
        ax.plot(stats.index, stats["mean"], color=colours[scale], **kwargs)
        ax.fill_between(stats.index, stats["min"], stats["max"], color=colours[scale],
                        alpha=0.25, lw=0)

    for scale in scales:
        mine = training[training["init_scale"] == scale]
        for ax, layer in zip(axes[0], LAYERS):
            band(ax, mine[mine["layer"] == layer], "target_alignment", scale,
                 label=f"g = {scale:g}")
        band(axes[0, -1], mine[mine["layer"] == LAYERS[0]], "loss", scale)
    for ax, layer in zip(axes[0], LAYERS):
        ax.set(title=f"{layer}: CKA with targets", xlabel="epoch", ylabel="target alignment")
    axes[0, 0].legend(title="init scale (band: seeds)", fontsize="small")
    axes[0, -1].set(title="training loss", xlabel="epoch", yscale="log")

    small, large, last, first = scales[0], scales[-1], LAYERS[-1], pair["seed"].min()
    labels = {"sq_distance": f"h = ||Δh||² ({last})", "output_sq_distance": "y = ||Δŷ||²",
              "output_alignment": "w = <Δŷ, Δŷ - Δy*>"}
    mine = pair[(pair["seed"] == first) & (pair["init_scale"] == small)]
    for ax, quantity in zip(axes[1, :3], PAIR_QUANTITIES):
        layer = last if quantity == "sq_distance" else "out"
        net = mine[(mine["quantity"] == quantity) & (mine["layer"] == layer)
                   & (mine["source"] == "network")]
        theory = mine[(mine["quantity"] == quantity) & (mine["layer"] == last)
                      & (mine["source"] == "theory")]
        ax.plot(net["epoch"], net["value"], "o", ms=2.5, color="C0", label="network")
        ax.plot(theory["epoch"], theory["value"], "--", color="C3", label="two-point theory")
        r2 = per_seed[(per_seed["seed"] == first) & (per_seed["init_scale"] == small)
                      & (per_seed["layer"] == last)][f"r2_{quantity}"].iloc[0]
        ax.set(title=f"seed {first}, g = {small:g}: {labels[quantity]}\nR² = {r2:.3f}",
               xlabel="step")
    axes[1, 0].legend(fontsize="small")
    distance = pair[(pair["quantity"] == "sq_distance") & (pair["layer"] == last)
                    & (pair["source"] == "network")].sort_values("epoch")
    relative = distance["value"] / distance.groupby(["seed", "init_scale"])["value"].transform(
        "first")
    ax = axes[1, 3]
    for scale in scales:
        band(ax, distance.assign(ratio=relative)[distance["init_scale"] == scale], "ratio",
             scale, label=f"g = {scale:g}")
    ax.set(title=f"pair distance h(t) / h(0), {last}", xlabel="step", yscale="log")
    ax.legend(fontsize="small")
    ax = axes[1, 4]
    for scale in (small, large):
        for quantity, marker in (("r2_sq_distance", "o-"), ("r2_output_alignment", "s--")):
            stats = per_seed[per_seed["init_scale"] == scale].groupby("layer")[quantity].agg(
                ["mean", "min", "max"]).loc[list(LAYERS)].clip(lower=-0.1)
            ax.errorbar(range(1, DEPTH + 1), stats["mean"],
                        yerr=[stats["mean"] - stats["min"], stats["max"] - stats["mean"]],
                        fmt=marker, color=colours[scale], capsize=2,
                        label=f"{quantity.split('_', 1)[1]}, g = {scale:g}")
    ax.set(title="theory fit R² per layer\n(mean, seeds' range; clipped at -0.1)",
           xlabel="hidden layer", ylabel="R²", ylim=(-0.1, 1.05), xticks=range(1, DEPTH + 1))
    ax.legend(fontsize="x-small")
    return figure


def _data(config):
    """The digits: all training ones (for the pair), the training set and the held-out set."""
    from ._nets import digits_split

    X_train, X_test, y_train, y_test = digits_split(seed=config.seed)
    X = X_train[: config.n_train]
    Y = np.eye(10, dtype=np.float32)[y_train[: config.n_train]]
    X_eval = X_test[: config.n_eval]
    Y_eval = np.eye(10)[y_test[: config.n_eval]]
    return X_train, y_train, (X, Y, X_eval, Y_eval)


def _replicate_seed(config, replicate: int) -> int:
    """The seed of replicate ``replicate`` (initialisation and pair): ``1000 seed + replicate``."""
    return config.seed * 1000 + replicate


def _training_table(data, config, replicate):
    """Replicate ``replicate``'s ``"training"`` rows: alignment and loss per scale, epoch, layer."""
    import pandas as pd

    X, Y, X_eval, Y_eval = data
    training = pd.DataFrame(
        [(scale, *row) for scale in config.scales
         for row in _train_alignment(X, Y, X_eval, Y_eval, scale=scale, width=config.width,
                                     epochs=config.epochs, every=config.every,
                                     seed=_replicate_seed(config, replicate))],
        columns=["init_scale", "epoch", "layer", "target_alignment", "loss"])
    training.insert(0, "seed", replicate)
    training.insert(0, "part", "training")
    return training


def _two_point_tables(X_pair, Y_pair, dx2, dy2, config, replicate):
    """Replicate ``replicate``'s ``"two_point"`` rows (measured and fitted curves) and
    ``"two_point_fit"`` rows."""
    import pandas as pd

    pair_rows, fit_rows = [], []
    for scale in config.scales:
        steps, h, cosine, ys, ws, losses = _train_pair(
            X_pair, Y_pair, scale=scale, width=config.width, epochs=config.pair_epochs,
            seed=_replicate_seed(config, replicate))
        measured = {("out", "output_sq_distance"): ys, ("out", "output_alignment"): ws,
                    ("out", "loss"): losses}
        for layer in LAYERS:
            measured[layer, "sq_distance"] = h[layer]
            measured[layer, "cosine"] = cosine[layer]
        pair_rows += [(scale, step, layer, quantity, "network", value)
                      for (layer, quantity), values in measured.items()
                      for step, value in zip(steps, values)]
        for layer in LAYERS:
            observed = np.stack([h[layer], ys, ws])
            eta_h, eta_y, predicted, r2 = _fit_two_point(steps, observed, dx2, dy2)
            pair_rows += [(scale, step, layer, quantity, "theory", value)
                          for quantity, values in zip(PAIR_QUANTITIES, predicted)
                          for step, value in zip(steps, values)]
            fit_rows += [(scale, layer, "eta_h", eta_h), (scale, layer, "eta_y", eta_y)]
            fit_rows += [(scale, layer, f"r2_{q}", float(v)) for q, v in zip(PAIR_QUANTITIES, r2)]
    pair = pd.DataFrame(pair_rows, columns=["init_scale", "epoch", "layer", "quantity",
                                            "source", "value"])
    pair.insert(0, "seed", replicate)
    pair.insert(0, "part", "two_point")
    fits = pd.DataFrame(fit_rows, columns=["init_scale", "layer", "quantity", "value"])
    fits.insert(0, "seed", replicate)
    fits.insert(0, "part", "two_point_fit")
    return pair, fits


def _per_seed(training, pair, fits, pairs):
    """One row per seed, scale and hidden layer: what the checks and the summary compare.

    Columns: ``ta_start``, ``ta_end`` (target alignment at the first and last
    epoch), ``rise`` (their difference), ``loss_start``, ``loss_end``,
    ``ta_matched`` (target alignment at the first epoch the training loss is at
    most ``matched``, the largest final loss over the seed's scales, which
    every scale reaches), ``change`` (``|h(T) - h(0)| / h(0)`` of the pair),
    ``h_ratio`` (``h(T) / h(0)``), ``cos_start``, ``cos_end``, ``eta_h``,
    ``eta_y`` and ``r2_<quantity>`` of the two-point fit, and ``balance``
    (``h(T)^2 eta_y / (eta_h D_x D_y)``, 1 where the rich end state is reached);
    ``pairs`` maps a seed to its pair's ``(classes, D_x, D_y)``.
    """
    import pandas as pd

    final_loss = (training.sort_values("epoch").groupby(["seed", "init_scale"])["loss"].last())
    matched = final_loss.groupby("seed").max()
    network = pair[pair["source"] == "network"].sort_values("epoch")
    rows = []
    for (seed, scale, layer), curve in training.sort_values("epoch").groupby(
            ["seed", "init_scale", "layer"]):
        ta, loss = curve["target_alignment"].to_numpy(), curve["loss"].to_numpy()
        mine = network[(network["seed"] == seed) & (network["init_scale"] == scale)
                       & (network["layer"] == layer)]
        h = mine[mine["quantity"] == "sq_distance"]["value"].to_numpy()
        cos = mine[mine["quantity"] == "cosine"]["value"].to_numpy()
        fit = fits[(fits["seed"] == seed) & (fits["init_scale"] == scale)
                   & (fits["layer"] == layer)]
        value = dict(zip(fit["quantity"], fit["value"]))
        _, dx2, dy2 = pairs[seed]
        rows.append(dict(seed=seed, init_scale=scale, layer=layer, ta_start=ta[0],
                         ta_end=ta[-1], rise=ta[-1] - ta[0], loss_start=loss[0],
                         loss_end=loss[-1], matched=matched[seed],
                         ta_matched=ta[np.argmax(loss <= matched[seed])],
                         change=abs(h[-1] - h[0]) / h[0], h_ratio=h[-1] / h[0],
                         cos_start=cos[0], cos_end=cos[-1],
                         balance=h[-1] ** 2 * value["eta_y"] / (value["eta_h"] * dx2 * dy2),
                         **value))
    return pd.DataFrame(rows)


def _interval(rows, column):
    """Mean of ``column`` over the seeds of ``rows`` (one row per seed) and its 95% interval.

    The jackknife over seeds of a mean is Student's t-interval of that mean.
    """
    return jackknife_over_models(rows, lambda part: part[column].mean(),
                                 columns=("seed", "seed"))


def _ci(rows, column, digits=3):
    """``mean [low, high]`` of ``column`` over the seeds of ``rows``."""
    mean, low, high = _interval(rows, column)
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def _span(rows, column):
    """``mean [min, max]`` of ``column`` over the seeds of ``rows``, 3 significant digits."""
    values = rows[column]
    return f"{values.mean():.3g} [{values.min():.3g}, {values.max():.3g}]"


def _each_seed(rows, column, digits=3):
    """``column`` per seed of ``rows``, in seed order, as ``a, b, c``."""
    return ", ".join(f"{v:.{digits}f}" for v in rows.sort_values("seed")[column])


def _both(per_seed, small, large, layer):
    """The rows of ``small`` and ``large`` at ``layer``, each sorted by seed."""
    at = per_seed[per_seed["layer"] == layer]
    return (at[at["init_scale"] == small].sort_values("seed"),
            at[at["init_scale"] == large].sort_values("seed"))


def _count(flags):
    """``k/n seeds`` for the per-seed booleans ``flags``."""
    flags = np.asarray(flags, dtype=bool)
    return f"{int(flags.sum())}/{flags.size} seeds"


def _by_layer(per_seed, small, large, holds):
    """Per hidden layer, ``holds(small_rows, large_rows)`` per seed; all of them, and a text."""
    results = {layer: np.asarray(holds(*_both(per_seed, small, large, layer)), dtype=bool)
               for layer in LAYERS}
    text = "; ".join(f"{layer} {_count(flags)}" for layer, flags in results.items())
    return all(flags.all() for flags in results.values()), text


def _steps_down(per_seed, layer, column, scales):
    """Per step ``g_i -> g_(i+1)`` of the scales, whether ``column`` falls, per seed."""
    at = per_seed[per_seed["layer"] == layer]
    value = {g: at[at["init_scale"] == g].sort_values("seed")[column].to_numpy() for g in scales}
    return {(a, b): value[a] > value[b] for a, b in zip(scales[:-1], scales[1:])}


def _ordering_text(per_seed, layer, column, scales):
    """Markdown: in how many seeds each step up in ``g`` lowers ``column``, and the means."""
    steps = _steps_down(per_seed, layer, column, scales)
    monotone = np.logical_and.reduce(list(steps.values()))
    at = per_seed[per_seed["layer"] == layer]
    means = ", ".join(f"{at[at['init_scale'] == g][column].mean():.3g}" for g in scales)
    return (f"{column} at {layer}, mean per scale (g = {', '.join(f'{g:g}' for g in scales)}): "
            f"{means}; falls with every step up in g in {_count(monotone)} "
            f"(per step: " + ", ".join(f"{a:g} -> {b:g} {_count(down)}"
                                       for (a, b), down in steps.items()) + ")")


def _alignment_lines(per_seed, scales):
    """Markdown: target alignment per scale and hidden layer, and the final loss."""
    first = per_seed[per_seed["init_scale"] == scales[0]]
    lines = ["Target alignment (linear CKA with the one-hot targets, held-out digits) at the "
             "end of training, mean [95% t-interval] over seeds; the start is the same for "
             "every scale within a seed (scale-free initial features):", "",
             "| init scale | lr | " + " | ".join(LAYERS) + " | final loss |",
             "|---|---|" + "---|" * DEPTH + "---|",
             "| start (every g) | | " + " | ".join(
                 _ci(first[first["layer"] == layer], "ta_start") for layer in LAYERS)
             + f" | {_ci(first[first['layer'] == LAYERS[0]], 'loss_start')} |"]
    for scale in scales:
        mine = per_seed[per_seed["init_scale"] == scale]
        lines.append(f"| {scale:g} | {_learning_rate(scale):.3g} | " + " | ".join(
            _ci(mine[mine["layer"] == layer], "ta_end") for layer in LAYERS)
            + f" | {_span(mine[mine['layer'] == LAYERS[0]], 'loss_end')} |")
    lines += ["", "(final loss: mean [min, max] over seeds.)"]
    return lines


def _regime_lines(per_seed, scales):
    """Markdown: at the last hidden layer, the rise, matched-loss alignment and pair change."""
    last = LAYERS[-1]
    at = per_seed[per_seed["layer"] == last]
    lines = [f"At {last}, per scale over seeds: rise of target alignment and alignment at "
             "matched training loss (mean [95% t-interval]); relative change of the pair's "
             "squared distance |h(T) - h(0)| / h(0) (mean [min, max]):", "",
             "| init scale | rise | alignment at matched loss | pair change |",
             "|---|---|---|---|"]
    for scale in scales:
        mine = at[at["init_scale"] == scale]
        lines.append(f"| {scale:g} | {_ci(mine, 'rise')} | {_ci(mine, 'ta_matched')} "
                     f"| {_span(mine, 'change')} |")
    matched = at.drop_duplicates("seed").sort_values("seed")["matched"]
    lines += ["", "Matched loss per seed (the largest final loss over the scales): "
              + ", ".join(f"{v:.4f}" for v in matched) + ".", "",
              "Ordering across all scales (is the claim monotone in g?):", ""]
    lines += [f"- {_ordering_text(per_seed, last, column, scales)}"
              for column in ("ta_end", "ta_matched", "rise", "change")]
    steps = _steps_down(per_seed, last, "ta_end", scales)
    mixed = [(a, b) for (a, b), down in steps.items() if not down.all()]
    if mixed:
        lines += ["", "Where a step up in g does not lower the final alignment in every seed, "
                  "per step: the largest |difference| of the two scales' final alignments over "
                  "seeds, their largest |rise| over training, their mean final loss, and the "
                  "seeds in which the alignment at matched loss falls:", ""]
        for a, b in mixed:
            rows = {g: at[at["init_scale"] == g].sort_values("seed") for g in (a, b)}
            gap = np.abs(rows[a]["ta_end"].to_numpy() - rows[b]["ta_end"].to_numpy()).max()
            matched_down = rows[a]["ta_matched"].to_numpy() > rows[b]["ta_matched"].to_numpy()
            lines.append(
                f"- {a:g} -> {b:g}: |difference| <= {gap:.4f}; |rise| <= "
                + ", ".join(f"{rows[g]['rise'].abs().max():.4f} (g = {g:g})" for g in (a, b))
                + "; final loss " + ", ".join(f"{rows[g]['loss_end'].mean():.4f} (g = {g:g})"
                                              for g in (a, b))
                + f"; at matched loss it falls in {_count(matched_down)}")
    return lines


def _two_point_lines(per_seed, scales, pairs):
    """Markdown: the theory's R^2, the pair's distance, balance and cosine per scale and layer."""
    dy2 = next(iter(pairs.values()))[2]
    lines = ["Two-point theory, one pair of digits of different classes per seed ("
             + ", ".join(f"seed {s}: {c[0]} and {c[1]}, D_x = {dx2:.2f}"
                         for s, (c, dx2, _) in sorted(pairs.items()))
             + f"; D_y = {dy2:g}). R^2 of the fit per hidden layer on h, y and w (mean and, "
             "in brackets, the worst seed); h(T)/h(0) and the balance "
             "h(T)^2 eta_y / (eta_h D_x D_y) as mean [min, max]; cosine as means:", "",
             "| init scale | layer | R^2 h | R^2 y | R^2 w | h(T)/h(0) "
             "| balance | cosine 0 -> T |",
             "|---|---|---|---|---|---|---|---|"]
    for scale in scales:
        for layer in LAYERS:
            mine = per_seed[(per_seed["init_scale"] == scale) & (per_seed["layer"] == layer)]
            r2 = " | ".join(f"{mine[f'r2_{q}'].mean():.3f} ({mine[f'r2_{q}'].min():.3f})"
                            for q in PAIR_QUANTITIES)
            lines.append(f"| {scale:g} | {layer} | {r2} | {_span(mine, 'h_ratio')} "
                         f"| {_span(mine, 'balance')} | {mine['cos_start'].mean():.3f} -> "
                         f"{mine['cos_end'].mean():.3f} |")
    return lines


_NOTES = ["The theory conserves Q = eta_y h^2 - eta_h D_x y up to a factor "
          "(dQ/dt = -eta_h D_x (w / h) Q), so from a small init (Q ~ 0) it ends where the "
          "outputs match the targets (y = D_y) at h^2 = (eta_h / eta_y) D_x D_y: the "
          "balance column is 1 there. From a large init Q is large and h stays within a "
          "fraction of a percent of h(0): the product eta_y h is what the fit identifies, "
          "and eta_h only fits that tiny drift (it is ~0 where h does not move).", "",
          "In the lazy regime the pair's distance h hardly changes, so its R^2 compares "
          "the fit with a nearly constant curve and is not informative (it can be "
          "very negative while the absolute error is tiny)."]


@register
class Dynamics(Study):
    """Rich (small init) against lazy (large init) training, and the two-point theory.

    ``results.csv`` holds three kinds of rows, told apart by ``part``, each
    with the replicate ``seed`` (0 .. n_seeds - 1):
    ``"training"`` (``init_scale, epoch, layer, target_alignment, loss``),
    ``"two_point"`` (``init_scale, epoch, layer, quantity, source, value``:
    the pair's ``sq_distance`` and ``cosine`` per hidden layer and its
    ``output_sq_distance``, ``output_alignment`` and ``loss`` at layer
    ``"out"``, measured (``source="network"``); and the theory's curves,
    ``source="theory"``, with ``layer`` the hidden layer whose fit produced
    them) and ``"two_point_fit"`` (``init_scale, layer, quantity, value``:
    ``eta_h``, ``eta_y`` and ``r2_<quantity>``).
    """

    name = "dynamics"
    title = "Rich vs lazy training: target alignment and the two-point theory"
    reference = ("Chizat, Oyallon & Bach (2019), On lazy training in differentiable "
                 "programming, NeurIPS; Saxe, McClelland & Ganguli (2014, 2019); "
                 "van Rossem & Saxe (2024), When representations align: universality "
                 "in representation learning dynamics, ICML")
    Config = Config
    quick_settings = {"scales": (0.5, 4.0), "n_train": 150, "n_eval": 300, "width": 48,
                      "epochs": 5000, "every": 100, "pair_epochs": 1600, "n_seeds": 3}

    def measure(self, config):
        import pandas as pd
        import torch

        torch.set_num_threads(1)
        X_train, y_train, data = _data(config)
        training, pair, fits, pairs = [], [], [], {}
        for replicate in range(config.n_seeds):
            training.append(_training_table(data, config, replicate))
            pair_idx, pair_classes = _pick_pair(y_train, _replicate_seed(config, replicate))
            X_pair = X_train[pair_idx]
            Y_pair = np.eye(10, dtype=np.float32)[list(pair_classes)]
            dx2 = float(np.sum((X_pair[0].astype(np.float64) - X_pair[1]) ** 2))
            dy2 = float(np.sum((Y_pair[0] - Y_pair[1]) ** 2))
            pairs[replicate] = (pair_classes, dx2, dy2)
            tables = _two_point_tables(X_pair, Y_pair, dx2, dy2, config, replicate)
            pair.append(tables[0])
            fits.append(tables[1])
        training, pair, fits = (pd.concat(parts, ignore_index=True)
                                for parts in (training, pair, fits))
        table = pd.concat([training, pair, fits], ignore_index=True)[
            ["part", "seed", "init_scale", "epoch", "layer", "target_alignment", "loss",
             "quantity", "source", "value"]]
        return Outcome(table, dict(training=training, pair=pair, fits=fits, pairs=pairs,
                                   per_seed=_per_seed(training, pair, fits, pairs),
                                   n_train_images=len(data[0]), n_eval_images=len(data[2])))

    def checks(self, outcome, config):
        per_seed = outcome.details["per_seed"]
        scales, last = config.scales, LAYERS[-1]
        small, large = scales[0], scales[-1]
        n = config.n_seeds
        rich, lazy = _both(per_seed, small, large, last)
        at = per_seed[per_seed["layer"] == last]

        def at_last(column, digits=3):
            return (f"at {last}, per seed: g = {small:g}: {_each_seed(rich, column, digits)}; "
                    f"g = {large:g}: {_each_seed(lazy, column, digits)}")

        higher, higher_text = _by_layer(per_seed, small, large,
                                        lambda a, b: a["ta_end"].to_numpy() > b["ta_end"])
        rises, rises_text = _by_layer(per_seed, small, large,
                                      lambda a, b: a["rise"].to_numpy() > b["rise"])
        still, still_text = _by_layer(
            per_seed, small, large,
            lambda a, b: np.abs(b["rise"].to_numpy()) < 0.1 * a["rise"].to_numpy())
        trained = lazy["loss_end"].to_numpy() < 0.5 * lazy["loss_start"].to_numpy()
        matched, matched_text = _by_layer(
            per_seed, small, large, lambda a, b: a["ta_matched"].to_numpy() > b["ta_matched"])
        steps = _steps_down(per_seed, last, "change", scales)
        falls = np.logical_and.reduce(list(steps.values()))
        tenfold = rich["change"].to_numpy() >= 10 * lazy["change"].to_numpy()
        r2 = {q: rich[f"r2_{q}"].to_numpy() for q in PAIR_QUANTITIES}
        fitted = np.logical_and.reduce([v >= R2_MIN for v in r2.values()])
        every = f"(every one of {n} seeds and {DEPTH} hidden layers)"
        return [
            Check(f"final target alignment is higher from the smallest init than the largest, "
                  f"at every hidden layer {every}", higher,
                  f"holds in {higher_text}; {at_last('ta_end')}"),
            Check(f"target alignment rises more from the smallest init, at every hidden layer "
                  f"{every}", rises, f"holds in {rises_text}; rise {at_last('rise')}"),
            Check("lazy: the largest-init alignment barely moves (|rise| < a tenth of the "
                  f"smallest-init rise), at every hidden layer {every}", still,
                  f"holds in {still_text}; rise {at_last('rise', 4)}"),
            Check("the largest-init network is trained (final loss under half its initial "
                  "value) and, at matched training loss, the smallest init is the more "
                  f"target-aligned at every hidden layer {every}",
                  bool(trained.all() and matched),
                  f"trained in {_count(trained)} (final loss g = {large:g}: "
                  f"{_each_seed(lazy, 'loss_end', 4)}; g = {small:g}: "
                  f"{_each_seed(rich, 'loss_end', 4)}; from {_each_seed(lazy, 'loss_start', 2)}); "
                  f"more aligned at matched loss in {matched_text}; {at_last('ta_matched')}"),
            Check(f"the pair's representational distance at {last} moves less (relatively) "
                  f"with every step up in g, and >= 10x less at the largest scale than at the "
                  f"smallest (every one of {n} seeds)", bool(falls.all() and tenfold.all()),
                  f"falls at every step in {_count(falls)} (per step: "
                  + ", ".join(f"{a:g} -> {b:g} {_count(down)}" for (a, b), down in steps.items())
                  + f"); >= 10x in {_count(tenfold)}; |h(T) - h(0)| / h(0), mean [min, max]: "
                  + "; ".join(f"g = {g:g}: {_span(at[at['init_scale'] == g], 'change')}"
                              for g in scales)),
            Check(f"the two-point effective theory fits the smallest-init pair at {last} "
                  f"(R^2 >= {R2_MIN} on h, y and w, every one of {n} seeds)", fitted.all(),
                  f"holds in {_count(fitted)}; R^2 per seed: "
                  + "; ".join(f"{q} {', '.join(f'{v:.3f}' for v in values)}"
                              for q, values in r2.items())),
        ]

    def figure(self, outcome, config):
        d = outcome.details
        return _figure(d["training"], d["pair"], outcome.details["per_seed"], config.scales)

    def numbers(self, outcome, config):
        per_seed = outcome.details["per_seed"]
        return "\n".join(
            _alignment_lines(per_seed, config.scales) + [""]
            + _regime_lines(per_seed, config.scales) + [""]
            + _two_point_lines(per_seed, config.scales, outcome.details["pairs"]) + [""]
            + _NOTES)

    def description(self, outcome, config):
        n_train, n_eval = outcome.details["n_train_images"], outcome.details["n_eval_images"]
        scales = config.scales
        return f"""
Bias-free ReLU MLPs 64 -> {config.width} x {DEPTH} -> 10, weights N(0, g^2 c / fan_in)
(He initialisation times the init scale g), outputs centred at initialisation, trained by
full-batch gradient descent on the squared error to one-hot targets, step
lr = {LR0} x min(1, g^-{2 * DEPTH}). Target alignment: linear CKA between each hidden layer on
{n_eval} held-out digits and their one-hot targets, every {config.every} of
{config.epochs} epochs on {n_train} training digits. Two-point theory: the same network
trained for {config.pair_epochs} steps on a pair of digits of different classes; the
pair's squared hidden distance h, output distance y and output alignment w recorded every
{PAIR_EVERY} steps and van Rossem & Saxe's three-variable ODE fitted (two effective rates
eta_h, eta_y, least squares) per hidden layer. Init scales: {', '.join(f'{s:g}' for s in scales)}.
{config.n_seeds} seeds: each draws the initialisation (one draw per seed, shared by every
scale, so that the networks of a seed differ only by g) and the pair of digits; the data
split is seed {config.seed}'s. Every check must hold on every seed; intervals are 95%
t-intervals over seeds (the jackknife of a mean). See the module docstring for the
equations and their derivation.
"""
