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
the weights have grown to the size the task needs. ``lr0 = 0.02``: at
``g = 1`` a step of 0.05 already oscillates (edge of stability).

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

Checks, on this run's numbers: at the last hidden layer the final target
alignment is higher, and its rise over training larger, at the smallest init
scale than at the largest; the lazy rise is under a tenth of the rich one; the
large-init network does fit its training set (final loss under half its
initial value: the comparison is not one of a trained and an untrained
network), and at matched training loss (the larger of the two final losses, at
the first epoch each network reaches it) the small-init network is the more
target-aligned; the pair's representational distance changes at least ten
times more (relatively) from the smallest scale than from the largest; and the
effective theory describes the small-init pair at the last hidden layer with
``R^2 >= 0.9`` on each of ``h``, ``y`` and ``w``.

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

__all__ = ["Dynamics"]

#: Hidden layers of the MLP (five weight matrices in all).
DEPTH = 4
#: The hidden layers, as named by ``_nets.mlp``.
LAYERS = tuple(f"act{i}" for i in range(1, DEPTH + 1))
#: Base step of gradient descent (see the module docstring).
LR0 = 0.02
#: Steps between two records of the pair's quantities.
PAIR_EVERY = 10
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
        The init scales ``g``, smallest first (a scale of 0.25 needs over 10,000
        epochs to leave the plateau of its first learning stage, so it is not run).
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
    """

    scales: tuple = (0.5, 0.7, 1.0, 2.0, 4.0)
    n_train: int = 1000
    n_eval: int | None = None
    width: int = 96
    epochs: int = 6000
    every: int = 100
    pair_epochs: int = 1500


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


def _figure(training, pair, fits, scales):
    """Target alignment per layer and loss; the two-point curves and the theory."""
    from matplotlib import cm
    from matplotlib.figure import Figure

    figure = Figure(figsize=(3.2 * (DEPTH + 1), 6.8), layout="constrained")
    axes = figure.subplots(2, DEPTH + 1)
    colours = dict(zip(scales, cm.viridis(np.linspace(0.0, 0.85, len(scales)))))
    for scale in scales:
        mine = training[training["init_scale"] == scale]
        for ax, layer in zip(axes[0], LAYERS):
            rows = mine[mine["layer"] == layer]
            ax.plot(rows["epoch"], rows["target_alignment"], color=colours[scale],
                    label=f"g = {scale:g}")
        rows = mine[mine["layer"] == LAYERS[0]]
        axes[0, -1].plot(rows["epoch"], rows["loss"], color=colours[scale])
    for ax, layer in zip(axes[0], LAYERS):
        ax.set(title=f"{layer}: CKA with targets", xlabel="epoch", ylabel="target alignment")
    axes[0, 0].legend(title="init scale", fontsize="small")
    axes[0, -1].set(title="training loss", xlabel="epoch", yscale="log")

    small, large = scales[0], scales[-1]
    last = LAYERS[-1]
    labels = {"sq_distance": f"h = ||Δh||² ({last})", "output_sq_distance": "y = ||Δŷ||²",
              "output_alignment": "w = <Δŷ, Δŷ - Δy*>"}
    for ax, quantity in zip(axes[1, :3], PAIR_QUANTITIES):
        layer = last if quantity == "sq_distance" else "out"
        net = pair[(pair["init_scale"] == small) & (pair["quantity"] == quantity)
                   & (pair["layer"] == layer) & (pair["source"] == "network")]
        theory = pair[(pair["init_scale"] == small) & (pair["quantity"] == quantity)
                      & (pair["layer"] == last) & (pair["source"] == "theory")]
        ax.plot(net["epoch"], net["value"], "o", ms=2.5, color="C0", label="network")
        ax.plot(theory["epoch"], theory["value"], "--", color="C3", label="two-point theory")
        r2 = fits[(fits["init_scale"] == small) & (fits["layer"] == last)
                  & (fits["quantity"] == f"r2_{quantity}")]["value"].iloc[0]
        ax.set(title=f"g = {small:g}: {labels[quantity]}\nR² = {r2:.3f}", xlabel="step")
    axes[1, 0].legend(fontsize="small")
    ax = axes[1, 3]
    for scale in scales:
        rows = pair[(pair["init_scale"] == scale) & (pair["quantity"] == "sq_distance")
                    & (pair["layer"] == last) & (pair["source"] == "network")]
        ax.plot(rows["epoch"], rows["value"] / rows["value"].iloc[0], color=colours[scale],
                label=f"g = {scale:g}")
    ax.set(title=f"pair distance h(t) / h(0), {last}", xlabel="step", yscale="log")
    ax.legend(fontsize="small")
    ax = axes[1, 4]
    for scale in (small, large):
        rows = fits[(fits["init_scale"] == scale) & (fits["quantity"] == "r2_sq_distance")]
        rows_w = fits[(fits["init_scale"] == scale) & (fits["quantity"] == "r2_output_alignment")]
        ax.plot(range(1, DEPTH + 1), rows["value"], "o-", color=colours[scale],
                label=f"h, g = {scale:g}")
        ax.plot(range(1, DEPTH + 1), rows_w["value"], "s--", color=colours[scale],
                label=f"w, g = {scale:g}")
    ax.set(title="theory fit per layer (R² clipped at -0.1)", xlabel="hidden layer", ylabel="R²",
           ylim=(-0.1, 1.05), xticks=range(1, DEPTH + 1))
    ax.legend(fontsize="small")
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


def _training_table(data, config):
    """The ``"training"`` rows: target alignment and loss per scale, epoch and layer."""
    import pandas as pd

    X, Y, X_eval, Y_eval = data
    training = pd.DataFrame(
        [(scale, *row) for scale in config.scales
         for row in _train_alignment(X, Y, X_eval, Y_eval, scale=scale, width=config.width,
                                     epochs=config.epochs, every=config.every,
                                     seed=config.seed)],
        columns=["init_scale", "epoch", "layer", "target_alignment", "loss"])
    training.insert(0, "part", "training")
    return training


def _two_point_tables(X_pair, Y_pair, dx2, dy2, config):
    """The ``"two_point"`` rows (measured and fitted curves) and the ``"two_point_fit"`` rows."""
    import pandas as pd

    pair_rows, fit_rows = [], []
    for scale in config.scales:
        steps, h, cosine, ys, ws, losses = _train_pair(
            X_pair, Y_pair, scale=scale, width=config.width, epochs=config.pair_epochs,
            seed=config.seed)
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
    pair.insert(0, "part", "two_point")
    fits = pd.DataFrame(fit_rows, columns=["init_scale", "layer", "quantity", "value"])
    fits.insert(0, "part", "two_point_fit")
    return pair, fits


def _regimes(training, pair, small, large):
    """At the last hidden layer, the smallest and largest scales: what the checks compare."""
    last = LAYERS[-1]
    at_last = training[training["layer"] == last]

    def curve(scale):
        rows = at_last[at_last["init_scale"] == scale].sort_values("epoch")
        return rows["target_alignment"].to_numpy(), rows["loss"].to_numpy()

    def relative_change(scale):
        rows = pair[(pair["init_scale"] == scale) & (pair["layer"] == last)
                    & (pair["quantity"] == "sq_distance") & (pair["source"] == "network")]
        values = rows.sort_values("epoch")["value"].to_numpy()
        return abs(values[-1] - values[0]) / values[0]

    (ta_small, loss_small), (ta_large, loss_large) = curve(small), curve(large)
    # matched training loss: the larger of the two final losses, which both networks reach
    matched = max(loss_small[-1], loss_large[-1])
    return dict(ta_small=ta_small, loss_small=loss_small, ta_large=ta_large,
                loss_large=loss_large, rise_small=ta_small[-1] - ta_small[0],
                rise_large=ta_large[-1] - ta_large[0], matched=matched,
                ta_matched_small=ta_small[np.argmax(loss_small <= matched)],
                ta_matched_large=ta_large[np.argmax(loss_large <= matched)],
                change_small=relative_change(small), change_large=relative_change(large))


def _alignment_lines(training, scales):
    """Markdown: target alignment per scale and hidden layer, start -> end, and final loss."""
    final = training[training["epoch"] == training["epoch"].max()]
    first = training[training["epoch"] == 0]
    lines = ["Target alignment (linear CKA with the one-hot targets, held-out digits), "
             "start -> end of training:", "",
             "| init scale | lr | " + " | ".join(LAYERS) + " | final loss |",
             "|---|---|" + "---|" * DEPTH + "---|"]
    for scale in scales:
        cells = []
        for layer in LAYERS:
            a = first[(first["init_scale"] == scale) & (first["layer"] == layer)]
            b = final[(final["init_scale"] == scale) & (final["layer"] == layer)]
            cells.append(f"{a['target_alignment'].iloc[0]:.3f} -> "
                         f"{b['target_alignment'].iloc[0]:.3f}")
        end_loss = final[final["init_scale"] == scale]["loss"].iloc[0]
        lines.append(f"| {scale:g} | {_learning_rate(scale):.3g} | " + " | ".join(cells)
                     + f" | {end_loss:.4f} |")
    return lines


def _two_point_lines(pair, fits, scales, pair_classes, dx2, dy2):
    """Markdown: the fitted rates, R^2 and the pair's distance and cosine per scale and layer."""
    lines = [f"Two-point theory, pair of digits {pair_classes[0]} and {pair_classes[1]} "
             f"(D_x = {dx2:.2f}, D_y = {dy2:g}); fitted effective rates and R^2 per hidden "
             "layer (h, y, w):", "",
             "| init scale | layer | eta_h | eta_y | R^2 h | R^2 y | R^2 w | h(T)/h(0) "
             "| h(T)^2 eta_y / (eta_h D_x D_y) | cosine 0 -> T |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for scale in scales:
        for layer in LAYERS:
            mine = fits[(fits["init_scale"] == scale) & (fits["layer"] == layer)]
            value = dict(zip(mine["quantity"], mine["value"]))
            rows = pair[(pair["init_scale"] == scale) & (pair["layer"] == layer)
                        & (pair["quantity"] == "sq_distance") & (pair["source"] == "network")]
            ratio = rows["value"].iloc[-1] / rows["value"].iloc[0]
            balance = rows["value"].iloc[-1] ** 2 * value["eta_y"] / (value["eta_h"] * dx2 * dy2)
            cos = pair[(pair["init_scale"] == scale) & (pair["layer"] == layer)
                       & (pair["quantity"] == "cosine")]["value"]
            lines.append(f"| {scale:g} | {layer} | {value['eta_h']:.3g} | {value['eta_y']:.3g} | "
                         + " | ".join(f"{value[f'r2_{q}']:.3f}" for q in PAIR_QUANTITIES)
                         + f" | {ratio:.4g} | {balance:.3g} "
                         f"| {cos.iloc[0]:.3f} -> {cos.iloc[-1]:.3f} |")
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

    ``results.csv`` holds three kinds of rows, told apart by ``part``:
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
    quick_settings = {"scales": (0.5, 4.0), "n_train": 300, "n_eval": 300, "width": 64,
                      "epochs": 2500, "pair_epochs": 800}

    def measure(self, config):
        import pandas as pd
        import torch

        torch.set_num_threads(1)
        X_train, y_train, data = _data(config)
        training = _training_table(data, config)
        pair_idx, pair_classes = _pick_pair(y_train, config.seed)
        X_pair = X_train[pair_idx]
        Y_pair = np.eye(10, dtype=np.float32)[list(pair_classes)]
        dx2 = float(np.sum((X_pair[0].astype(np.float64) - X_pair[1]) ** 2))
        dy2 = float(np.sum((Y_pair[0] - Y_pair[1]) ** 2))
        pair, fits = _two_point_tables(X_pair, Y_pair, dx2, dy2, config)
        table = pd.concat([training, pair, fits], ignore_index=True)[
            ["part", "init_scale", "epoch", "layer", "target_alignment", "loss", "quantity",
             "source", "value"]]
        return Outcome(table, dict(training=training, pair=pair, fits=fits,
                                   pair_classes=pair_classes, dx2=dx2, dy2=dy2,
                                   n_train_images=len(data[0]), n_eval_images=len(data[2])))

    def checks(self, outcome, config):
        training, pair, fits = (outcome.details[k] for k in ("training", "pair", "fits"))
        small, large, last = config.scales[0], config.scales[-1], LAYERS[-1]
        r = _regimes(training, pair, small, large)
        ta_small, ta_large, loss_small, loss_large = (
            r["ta_small"], r["ta_large"], r["loss_small"], r["loss_large"])
        rise_small, rise_large = r["rise_small"], r["rise_large"]
        r2 = {q: float(fits[(fits["init_scale"] == small) & (fits["layer"] == last)
                            & (fits["quantity"] == f"r2_{q}")]["value"].iloc[0])
              for q in PAIR_QUANTITIES}
        r2_text = ", ".join(f"{q} {v:.3f}" for q, v in r2.items())
        return [
            Check(f"final target alignment ({last}) is higher from the small init than the large",
                  bool(ta_small[-1] > ta_large[-1]),
                  f"g = {small:g}: {ta_small[-1]:.3f}; g = {large:g}: {ta_large[-1]:.3f}"),
            Check("target alignment rises more from the small init",
                  bool(rise_small > rise_large),
                  f"rise g = {small:g}: {rise_small:+.3f} ({ta_small[0]:.3f} -> "
                  f"{ta_small[-1]:.3f}); g = {large:g}: {rise_large:+.3f} ({ta_large[0]:.3f} -> "
                  f"{ta_large[-1]:.3f})"),
            Check("lazy: the large-init alignment barely moves (|rise| < a tenth of the rich "
                  "rise)", bool(abs(rise_large) < 0.1 * rise_small),
                  f"|{rise_large:+.4f}| vs 0.1 x {rise_small:+.3f}"),
            Check("the lazy network is trained (final loss under half its initial value) and, "
                  "at matched training loss, the small init is the more target-aligned",
                  bool(loss_large[-1] < 0.5 * loss_large[0]
                       and r["ta_matched_small"] > r["ta_matched_large"]),
                  f"final training loss g = {small:g}: {loss_small[-1]:.4f}, g = {large:g}: "
                  f"{loss_large[-1]:.4f} (both from {loss_small[0]:.2f}); at loss <= "
                  f"{r['matched']:.4f}: alignment {r['ta_matched_small']:.3f} vs "
                  f"{r['ta_matched_large']:.3f}"),
            Check("the pair's representational distance moves >= 10x more (relatively) from "
                  "the small init", bool(r["change_small"] >= 10 * r["change_large"]),
                  f"|h(T) - h(0)| / h(0) at {last}: g = {small:g}: {r['change_small']:.3g}, "
                  f"g = {large:g}: {r['change_large']:.3g}"),
            Check(f"the two-point effective theory fits the small-init pair at {last} "
                  f"(R^2 >= {R2_MIN} on h, y and w)",
                  bool(min(r2.values()) >= R2_MIN), f"R^2: {r2_text}"),
        ]

    def figure(self, outcome, config):
        d = outcome.details
        return _figure(d["training"], d["pair"], d["fits"], config.scales)

    def numbers(self, outcome, config):
        d = outcome.details
        return "\n".join(
            _alignment_lines(d["training"], config.scales) + [""]
            + _two_point_lines(d["pair"], d["fits"], config.scales, d["pair_classes"],
                               d["dx2"], d["dy2"]) + [""] + _NOTES)

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
trained for {config.pair_epochs} steps on one pair of digits of different classes; the
pair's squared hidden distance h, output distance y and output alignment w recorded every
{PAIR_EVERY} steps and van Rossem & Saxe's three-variable ODE fitted (two effective rates
eta_h, eta_y, least squares) per hidden layer. Init scales: {', '.join(f'{s:g}' for s in scales)}.
See the module docstring for the equations and their derivation.
"""
