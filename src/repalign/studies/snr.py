"""Signal-to-noise ratio and sample size govern representational alignment.

The claim ("Signal-to-noise ratio and sample size govern representational
alignment", the paper named by issue 7): train an *ensemble* of networks on the
same training inputs, each member with its own independent realization of the
noise on the targets. The members' alignment, the mean pairwise linear CKA of
their hidden representations of a fixed test set, (a) rises monotonically with
the signal-to-noise ratio (SNR), (b) is non-monotonic in the training-set size
``n_train``, lowest near the interpolation threshold, and (c) is decoupled from
test error: the two do not move together across conditions.

What is run
-----------
**Linear network** ``y = W2 W1 x`` on a Gaussian teacher. Inputs
``x ~ N(0, I_d)``, ``d = 40``; targets ``y = B^T x + eps`` with ``k = 10``
outputs, ``B_ij ~ N(0, 1/d)`` (unit signal variance per output) and
``eps ~ N(0, sigma^2 I_k)``, so ``SNR = 1 / sigma^2``. Every member sees the
same training inputs ``X`` (``n_train x d``) and its own noise ``E_i``:
``Y_i = X B + E_i``. Each member is trained to its end-to-end solution in
closed form,

.. math::

    G_i = P Y_i, \\qquad
    P = \\begin{cases} X^+ & \\text{minimum norm } (\\lambda = 0) \\\\
        (X^T X + \\lambda I)^{-1} X^T & \\text{ridge } (\\lambda = 1)
    \\end{cases}

(``G_i = (W2 W1)^T``, ``d x k``). The minimum-norm solution is where gradient
descent from a vanishing initialization converges: the end-to-end map stays in
the row space of ``X``, and the factors stay *balanced*, ``W1 W1^T = W2^T W2``
(Saxe et al. 2014; Arora et al. 2018; checked against gradient descent in the
tests). The ridge solution is the same estimator with a small L2 penalty on the
end-to-end map, factorized the same way; it filters the small singular
directions of ``X`` as early stopping does (Advani et al. 2020). With
``G_i = U S V^T`` the first layer is
``W1 = R S^{1/2} U^T`` for an orthogonal ``R``. The hidden representation of
the test inputs is ``H_i = X_test U S^{1/2}`` (``R`` drops out of CKA). The
interpolation threshold is ``n_train = d`` (the end-to-end map has ``d``
parameters per output, and each example gives one equation per output).

**Nonlinear MLPs** ``64 -> 32 -> 10`` (ReLU; :func:`repalign.studies._nets.mlp`)
on scikit-learn's 8x8 digits (a fixed stratified split, 450 test images).
*Regression*: one-hot targets plus Gaussian noise of variance ``0.09 / SNR``
(0.09 is the variance of a one-hot coordinate), mean-squared error.
*Classification*: each training label is replaced, with probability
``rho = 1 / (1 + SNR)``, by a uniformly drawn *other* class, so that
``(1 - rho) / rho = SNR``; cross-entropy. The members of an ensemble share the
training images, the initialization and the mini-batch order: their noise
realization is the only difference between them, as in the linear model (whose
solution does not depend on the initialization). They are trained together
(:func:`_train_ensemble`: Adam on the stacked parameters, exactly independent
Adam runs) for a fixed number of steps; the hidden representation is ``act1``
(:func:`repalign.extract`). For a nonlinear network trained for a fixed budget
the interpolation threshold is not a parameter count, so it is measured: the
*effective model complexity* of Nakkiran et al. (2020), the largest ``n_train``
whose noise the members still fit. With ``noise_unfit`` the members' training
residual as a fraction of the noise put in (mean squared residual over the noise
variance for regression; training error rate on the noisy labels over ``rho`` for
classification; 0 = the noise is memorized, 1 = none of it is, above 1 the
signal is not fitted either), the threshold ``n*`` is where
``noise_unfit`` crosses ``0.1``, interpolated on ``log n_train`` along the
``n_train`` sweep. The parameter count over the number of outputs
(``P / K = 241``) is reported beside it. The same criterion gives
``n* = d / 0.9 = 1.11 d`` for the minimum-norm linear model, whose residual is
the fraction ``(n_train - d) / n_train`` of the noise above ``d``.

Alignment is the mean over the ``M (M - 1) / 2`` member pairs of linear CKA
(``repalign.get("cka")``, each member prepared once). Test error is, per member
and then averaged: the squared error against the *clean* test targets relative
to their variance (regression), or the error rate on the test labels
(classification).

Analytic estimate (linear model)
--------------------------------
Conditional on the training and test inputs, the members' end-to-end maps are
``G_i = A + N_i`` with the shared signal ``A = P X B`` and independent noise
``N_i = P E_i``, whose columns are independent ``N(0, Sigma)``,
``Sigma = sigma^2 P P^T``. Their predictors on the centred test inputs ``T``,
``F_i = T G_i``, have linear CKA

.. math::

    \\mathrm{CKA}(F_i, F_j) = \\frac{\\|\\tilde G_i^T \\tilde G_j\\|_F^2}
        {\\|\\tilde G_i^T \\tilde G_i\\|_F \\, \\|\\tilde G_j^T \\tilde G_j\\|_F},
    \\qquad \\tilde G = (T^T T)^{1/2} G .

With whitened columns ``g_c ~ N(a_c, S)`` (``a_c`` the columns of
``(T^T T)^{1/2} A``, ``S = (T^T T)^{1/2} Sigma (T^T T)^{1/2}``),
``C_c = a_c a_c^T + S`` and ``C = sum_c C_c``, Gaussian moments give, for
``i != j``,

.. math::

    E\\|\\tilde G_i^T \\tilde G_j\\|_F^2 = \\|C\\|_F^2, \\qquad
    E\\|\\tilde G_i^T \\tilde G_i\\|_F^2 = \\|C\\|_F^2 + \\sum_c \\big[
        \\mathrm{tr}(C_c)^2 + \\|C_c\\|_F^2 - 2 \\|a_c\\|^4 \\big],

(the last from ``E|g|^4 = (|a|^2 + tr S)^2 + 2 tr S^2 + 4 a^T S a``), and the
estimate is their ratio, ``E||G_i^T G_j||^2 / E||G_i^T G_i||^2`` (tildes
dropped). Approximations: the
expectation of the ratio is replaced by the ratio of expectations, and
``E||.||_F`` by ``sqrt(E||.||_F^2)``; both are accurate when the noise spreads
over many directions and outputs (here, ``d = 40`` and ``k = 10``, within about
0.01 of a 60-member Monte Carlo; about 0.02 off at ``d = 12``, ``k = 6``), and
fail when it concentrates in a few: the minimum-norm
solution at ``n_train`` close to ``d``, where ``P`` has one huge singular value.
The estimate is of the *predictors'* CKA (column ``alignment_output``), not of
the hidden layer's, whose ``S^{1/2}`` (a matrix square root of a random matrix)
has no such closed moment; the two move together (columns ``alignment`` and
``alignment_output``).

Why the minimum-norm solution spikes at ``n_train = d``: its noise ``P E_i``
grows like ``1 / s_min(X)``, and the smallest singular direction of ``X`` is the
*same* for every member (they share ``X``). Near the threshold every member's
map is dominated by that one direction, so their representations are nearly
rank one and identical: CKA jumps towards 1 while the test error explodes. A
small ridge penalty (or early stopping) removes the artefact and shows the dip
that the noise-to-signal ratio predicts, ``sigma^2 d / |d - n_train|`` per
unit of signal for the minimum-norm map (Hastie et al. 2022).

Regimes. The spike needs the noise along the shared direction to dominate the
signal: ``s_min(X)^2 ~ 1/d`` for a square Gaussian ``X``, so its noise energy is
about ``sigma^2 d`` per output against a unit signal, i.e. ``SNR < d``. Its
influence reaches beyond ``n_train = d`` itself: ``0.75 d <= n_train <= 1.25 d``
is treated as the artefact zone of the minimum-norm model. At low SNR
(``SNR < 1``) the members are mostly noise, and the CKA of pure-noise members
falls with ``n_train`` (their maps span ``min(n_train, d)`` input directions, a
subspace that grows to the whole space), so the minimum moves above the
threshold; the dip is checked where the signal is at least as strong as the
noise.

Checks, on this run's numbers: alignment rises with SNR on every curve (all
models, tasks, regularizations and training-set sizes; the curves where it does
not are named); where it falls, the members' maps concentrate on the weakest
direction of their shared inputs and that concentration falls with SNR (the
measured cause: at low SNR every member's noise is amplified along the same
direction, which makes them alike; a growing signal dilutes it before it makes
them alike in its own right); the ridge linear model's alignment is lowest within a factor 2
of ``n_train = d`` at every ``SNR >= 1``; the minimum-norm spike at
``n_train = d`` appears at every ``SNR < d``; the MLPs' alignment is lowest
within a factor 2 of their measured ``n*``; alignment and test error are
decoupled (test error falls while alignment falls, in the ridge linear model and
in each MLP task; Spearman's rho between them reported); and the analytic
estimate matches the simulated predictor CKA within 0.05 outside the artefact
zone.

References
----------
"Signal-to-noise ratio and sample size govern representational alignment"
(the claim reproduced; as named in issue 7).

Kornblith, Norouzi, Lee & Hinton (2019). Similarity of neural network
representations revisited. ICML.

Saxe, McClelland & Ganguli (2014). Exact solutions to the nonlinear dynamics of
learning in deep linear neural networks. ICLR.

Arora, Cohen & Hazan (2018). On the optimization of deep networks: implicit
acceleration by overparameterization. ICML.

Advani, Saxe & Sompolinsky (2020). High-dimensional dynamics of generalization
error in neural networks. Neural Networks 132, 428-446.

Hastie, Montanari, Rosset & Tibshirani (2022). Surprises in high-dimensional
ridgeless least squares interpolation. Annals of Statistics 50(2).

Nakkiran, Kaplun, Bansal, Yang, Barak & Sutskever (2020). Deep double descent:
where bigger models and more data hurt. ICLR.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._frame import Check, Outcome, Study, StudyConfig, register

__all__ = ["SNR"]

#: Input dimension of the linear teacher; the interpolation threshold is n_train = D.
D = 40
#: Outputs of the linear teacher (and hidden width of the linear network).
K = 10
#: The small ridge penalty that removes the minimum-norm artefact.
RIDGE = 1.0
#: Hidden width of the digits MLPs.
WIDTH = 32
#: Variance of a one-hot coordinate over ten balanced classes: the regression signal.
ONE_HOT_VAR = 0.09
#: Tolerance of the monotonicity checks (a drop smaller than this is noise).
TOL = 0.02
#: Tolerance of the analytic estimate against the simulated predictor CKA.
ESTIMATE_TOL = 0.05
#: Fraction of the noise left unfit at the (measured) interpolation threshold.
UNFIT_EPS = 0.1
#: n_train / d range where the minimum-norm solution is dominated by the shared direction.
ARTEFACT_ZONE = (0.75, 1.25)
#: Share of a map's energy along one input direction that counts as concentrated: 5 / d,
#: five times what an isotropic map puts there.
SHARED_MIN = 5 / D


@dataclass(frozen=True)
class Config(StudyConfig):
    """Settings of the snr study.

    Attributes
    ----------
    lin_snr, lin_n : tuple
        The linear model's SNRs and training-set sizes.
    lin_members, lin_repeats, lin_test : int
        Members per ensemble, repetitions (teacher, inputs) and test inputs.
    mlp_snr : tuple
        The MLPs' SNRs, on all training images.
    mlp_n : tuple
        The MLPs' n_train sweep, at ``mlp_sweep_snr``.
    mlp_sweep_snr : float
        The SNR of the MLPs' n_train sweep.
    mlp_members, mlp_repeats, mlp_steps : int
        Members per ensemble, repetitions (split, initialization) and Adam steps.
    """

    lin_snr: tuple = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 64.0)
    lin_n: tuple = (8, 16, 24, 32, 36, 40, 44, 48, 60, 80, 120, 200, 400)
    lin_members: int = 8
    lin_repeats: int = 5
    lin_test: int = 1000
    mlp_snr: tuple = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 32.0)
    mlp_n: tuple = (15, 30, 60, 120, 240, 480, 1347)
    mlp_sweep_snr: float = 2.0
    mlp_members: int = 5
    mlp_repeats: int = 2
    mlp_steps: int = 1500


# ----------------------------------------------------------------------------- linear


def _solver(X, ridge: float):
    """``P`` of the docstring: the map from training targets to the end-to-end solution."""
    if ridge == 0:
        return np.linalg.pinv(X)
    return np.linalg.solve(X.T @ X + ridge * np.eye(X.shape[1]), X.T)


def _hidden_weights(G):
    """``W1^T = U S^{1/2}`` (``d x rank``) of the balanced factorization of ``G = U S V^T``."""
    U, s, _ = np.linalg.svd(G, full_matrices=False)
    return U * np.sqrt(s)


def _predictor_cka_estimate(P, X, B, X_test, noise_var: float) -> float:
    """The analytic estimate of the members' predictor CKA (module docstring)."""
    T = X_test - X_test.mean(axis=0)
    w, V = np.linalg.eigh(T.T @ T)
    root = (V * np.sqrt(np.clip(w, 0, None))) @ V.T
    A = root @ P @ X @ B                       # whitened shared signal, d x k
    S = noise_var * root @ P @ P.T @ root      # whitened noise covariance of a column
    C = A @ A.T + A.shape[1] * S
    numerator = np.sum(C * C)
    norms = np.sum(A * A, axis=0)
    cross = A.T @ S @ A                        # a_c^T S a_c on the diagonal
    trace_S, frob_S = np.trace(S), np.sum(S * S)
    # per column: tr(C_c)^2 + ||C_c||^2 - 2|a_c|^4 with C_c = a a^T + S
    diagonal = ((norms + trace_S) ** 2 + norms ** 2 + 2 * np.diag(cross) + frob_S
                - 2 * norms ** 2)
    return float(numerator / (numerator + diagonal.sum()))


def _shared_direction_share(X, maps) -> float:
    """Mean share of the maps' energy along the weakest input direction of ``X``.

    ``||v^T G_i||^2 / ||G_i||_F^2`` averaged over the members, with ``v`` the right
    singular vector of the shared training inputs ``X`` of smallest (nonzero)
    singular value: the direction along which ``P`` amplifies every member's
    noise most. An isotropic map puts ``1 / d`` of its energy there.
    """
    _, s, Vt = np.linalg.svd(X, full_matrices=False)
    v = Vt[np.argmin(s)]
    return float(np.mean([np.sum((v @ G) ** 2) / np.sum(G * G) for G in maps]))


def _mean_pairwise(measure, representations) -> float:
    """Mean of ``measure`` over all pairs, each representation prepared once."""
    prepared = [measure.prepare(r) for r in representations]
    values = [measure.pair(prepared[i], prepared[j])
              for i in range(len(prepared)) for j in range(i)]
    return float(np.mean(values))


def _linear_rows(cfg, seed: int, cka):
    """One row per (regularization, SNR, n_train, repetition) of the linear ensembles."""
    rows = []
    for repeat in range(cfg.lin_repeats):
        rng = np.random.default_rng([seed, 0, repeat])
        B = rng.standard_normal((D, K)) / np.sqrt(D)
        X_test = rng.standard_normal((cfg.lin_test, D))
        clean = X_test @ B
        X_all = rng.standard_normal((max(cfg.lin_n), D))   # nested training sets
        for n in cfg.lin_n:
            X = X_all[:n]
            for snr in cfg.lin_snr:
                noise_var = 1.0 / snr
                noise_rng = np.random.default_rng([seed, 1, repeat, n, int(snr * 1000)])
                noise = [np.sqrt(noise_var) * noise_rng.standard_normal((n, K))
                         for _ in range(cfg.lin_members)]
                for regularization, ridge in (("min_norm", 0.0), ("ridge", RIDGE)):
                    P = _solver(X, ridge)
                    targets = [X @ B + E for E in noise]
                    maps = [P @ Y for Y in targets]
                    hidden = [X_test @ _hidden_weights(G) for G in maps]
                    outputs = [X_test @ G for G in maps]
                    error = np.mean([np.sum((F - clean) ** 2) / np.sum(clean ** 2)
                                     for F in outputs])
                    unfit = np.mean([np.mean((X @ G - Y) ** 2) / noise_var
                                     for G, Y in zip(maps, targets)])
                    rows.append(dict(
                        model="linear", task="regression", regularization=regularization,
                        snr=snr, n_train=n, seed=repeat, threshold=D,
                        alignment=_mean_pairwise(cka, hidden),
                        alignment_output=_mean_pairwise(cka, outputs),
                        estimate=_predictor_cka_estimate(P, X, B, X_test, noise_var),
                        test_error=float(error), noise_unfit=float(unfit),
                        shared_direction=_shared_direction_share(X, maps)))
    return rows


# ------------------------------------------------------------------------------ MLPs


def _train_ensemble(models, X, targets, *, seed: int, epochs: int, lr: float = 3e-3,
                    batch_size: int = 64, loss: str = "mse"):
    """Train networks of one architecture side by side, each on its own targets.

    Equivalent to calling :func:`repalign.studies._nets.train` on each model with
    the same ``seed`` (hence the same mini-batch order): Adam is elementwise, and
    the summed loss gives each member its own gradient. The parameters are
    stacked (``torch.func.stack_module_state``) and the members run in one
    vectorized pass, which saves the per-step overhead of ``len(models)`` loops.

    Parameters
    ----------
    models : list of torch.nn.Module
        Same architecture; trained in place and returned in eval mode.
    X : array, shape (n, ...)
        The shared inputs.
    targets : array, shape (len(models), n, ...)
        Each member's targets: class indices (``loss="cross_entropy"``) or values.
    seed, epochs, lr, batch_size, loss
        As in :func:`repalign.studies._nets.train`.
    """
    import copy

    import torch
    import torch.nn.functional as F
    from torch.func import functional_call, stack_module_state, vmap

    if loss not in ("cross_entropy", "mse"):
        raise ValueError(f"loss must be 'cross_entropy' or 'mse'; got {loss!r}")
    X = torch.as_tensor(X, dtype=torch.float32)
    y = (torch.as_tensor(targets, dtype=torch.long) if loss == "cross_entropy"
         else torch.as_tensor(targets, dtype=torch.float32))
    criterion = F.cross_entropy if loss == "cross_entropy" else F.mse_loss
    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")

    def member_loss(p, b, x, t):
        return criterion(functional_call(base, (p, b), (x,)), t)

    batched = vmap(member_loss, in_dims=(0, 0, None, 0))
    opt = torch.optim.Adam(params.values(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx in torch.randperm(len(X), generator=gen).split(batch_size):
            opt.zero_grad()
            batched(params, buffers, X[idx], y[:, idx]).sum().backward()
            opt.step()
    with torch.no_grad():
        for i, model in enumerate(models):
            for name, parameter in model.named_parameters():
                parameter.copy_(params[name][i])
    return [model.eval() for model in models]


def _noisy_targets(task: str, labels, snr: float, rng):
    """One member's training targets: noisy one-hot values or flipped labels."""
    if task == "regression":
        one_hot = np.eye(10)[labels]
        return one_hot + np.sqrt(ONE_HOT_VAR / snr) * rng.standard_normal(one_hot.shape)
    flip = rng.random(len(labels)) < 1.0 / (1.0 + snr)
    flipped = (labels + rng.integers(1, 10, size=len(labels))) % 10
    return np.where(flip, flipped, labels)


def _mlp_conditions(cfg):
    """(SNR, n_train) pairs: the SNR sweep on all training images, the n_train sweep."""
    full = max(cfg.mlp_n)
    pairs = [(snr, full) for snr in cfg.mlp_snr]
    pairs += [(cfg.mlp_sweep_snr, n) for n in cfg.mlp_n if n != full]
    return pairs


def _mlp_rows(cfg, seed: int, cka):
    """One row per (task, SNR, n_train, repetition) of the digits MLP ensembles."""
    import torch

    import repalign

    from . import _nets

    torch.set_num_threads(1)
    rows = []
    n_params = sum(p.numel() for p in _nets.mlp([64, WIDTH, 10]).parameters())
    for repeat in range(cfg.mlp_repeats):
        X_train, X_test, y_train, y_test = _nets.digits_split(seed=seed + repeat)
        order = np.random.default_rng([seed, 2, repeat]).permutation(len(X_train))
        for task in ("regression", "classification"):
            for snr, n in _mlp_conditions(cfg):
                n = min(n, len(X_train))
                X, labels = X_train[order[:n]], y_train[order[:n]]
                rng = np.random.default_rng([seed, 3, repeat, n, int(snr * 1000),
                                             task == "classification"])
                targets = np.stack([_noisy_targets(task, labels, snr, rng)
                                    for _ in range(cfg.mlp_members)])
                models = []
                for _ in range(cfg.mlp_members):
                    torch.manual_seed(seed * 1000 + repeat)   # one shared initialization
                    models.append(_nets.mlp([64, WIDTH, 10]))
                batch = min(64, n)
                epochs = max(1, round(cfg.mlp_steps * batch / n))
                _train_ensemble(models, X, targets, seed=seed + repeat, epochs=epochs,
                                batch_size=batch,
                                loss="mse" if task == "regression" else "cross_entropy")
                acts = [repalign.extract(m, X_test, layers=["act1", "out"], progress=False)
                        for m in models]
                fits = [repalign.extract(m, X, layers=["out"], progress=False)["out"]
                        for m in models]
                if task == "regression":
                    clean = np.eye(10)[y_test]
                    errors = [np.mean((a["out"] - clean) ** 2) / ONE_HOT_VAR for a in acts]
                    residual = [np.mean((f - t) ** 2) / ONE_HOT_VAR * snr
                                for f, t in zip(fits, targets)]
                else:
                    errors = [np.mean(a["out"].argmax(axis=1) != y_test) for a in acts]
                    residual = [np.mean(f.argmax(axis=1) != t) * (1 + snr)
                                for f, t in zip(fits, targets)]
                rows.append(dict(
                    model="mlp", task=task, regularization="none", snr=snr, n_train=n,
                    seed=repeat, threshold=np.nan, parameters_per_output=n_params / 10,
                    alignment=_mean_pairwise(cka, [a["act1"] for a in acts]),
                    alignment_output=_mean_pairwise(cka, [a["out"] for a in acts]),
                    estimate=np.nan, test_error=float(np.mean(errors)),
                    noise_unfit=float(np.mean(residual)), shared_direction=np.nan))
    return rows


# ------------------------------------------------------------------------ thresholds


def _interpolation_threshold(n_train, unfit) -> float:
    """Where ``unfit`` first exceeds :data:`UNFIT_EPS` along ``n_train``, on a log scale.

    NaN when the noise is fitted over the whole sweep or never fitted.
    """
    order = np.argsort(n_train)
    n, u = np.asarray(n_train, float)[order], np.asarray(unfit, float)[order]
    above = np.flatnonzero(u > UNFIT_EPS)
    if len(above) == 0 or above[0] == 0:
        return np.nan
    i = above[0]
    fraction = (UNFIT_EPS - u[i - 1]) / (u[i] - u[i - 1])
    return float(n[i - 1] * (n[i] / n[i - 1]) ** fraction)


def _sweeps(table, cfg):
    """The n_train sweeps, averaged over repetitions, keyed by (model, task, regularization).

    The MLPs' sweep is at ``mlp_sweep_snr``; the linear model's at its middle SNR.
    """
    snr = {"linear": cfg.lin_snr[len(cfg.lin_snr) // 2], "mlp": cfg.mlp_sweep_snr}
    sweeps = {}
    for key, group in table.groupby(["model", "task", "regularization"]):
        group = group[group["snr"] == snr[key[0]]]
        sweeps[key] = group.groupby("n_train", as_index=False)[
            ["alignment", "test_error", "noise_unfit"]].mean()
    return sweeps


def _set_mlp_thresholds(table, cfg):
    """Fill the MLP rows' ``threshold`` with the measured interpolation threshold of their task."""
    for (model, task, _), sweep in _sweeps(table, cfg).items():
        if model == "mlp":
            mine = (table["model"] == "mlp") & (table["task"] == task)
            table.loc[mine, "threshold"] = _interpolation_threshold(sweep["n_train"],
                                                                    sweep["noise_unfit"])
    return table


# ---------------------------------------------------------------------------- checks


def _curves(table):
    """Mean over repetitions, one row per (model, task, regularization, snr, n_train)."""
    keys = ["model", "task", "regularization", "snr", "n_train"]
    columns = ["alignment", "alignment_output", "estimate", "test_error", "noise_unfit",
               "threshold", "shared_direction"]
    return table.groupby(keys, as_index=False)[columns].mean()


def _spearman(x, y) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(x, y).statistic)


def _in_artefact_zone(regularization, n_train):
    """Minimum-norm linear rows with ``n_train / d`` in :data:`ARTEFACT_ZONE`."""
    ratio = np.asarray(n_train) / D
    return ((np.asarray(regularization) == "min_norm")
            & (ratio >= ARTEFACT_ZONE[0]) & (ratio <= ARTEFACT_ZONE[1]))


def _snr_curves(curves):
    """Every curve along SNR (at least 3 SNRs), with its Spearman rho and largest drop.

    Returns a list of ``(key, curve, rho, drop, monotone)``, ``key`` being
    ``(model, task, regularization, n_train)`` and ``curve`` sorted by SNR;
    monotone means ``rho > 0`` and no drop between neighbouring SNRs above
    :data:`TOL`.
    """
    found = []
    for key, curve in curves.groupby(["model", "task", "regularization", "n_train"]):
        if curve["snr"].nunique() < 3:
            continue
        curve = curve.sort_values("snr")
        rho = _spearman(curve["snr"], curve["alignment"])
        drop = float(-np.diff(curve["alignment"]).min())
        found.append((key, curve, rho, drop, rho > 0 and drop <= TOL))
    return found


def _label(key) -> str:
    return "/".join(map(str, key))


def _snr_check(curves):
    found = _snr_curves(curves)
    failing = [f"{_label(key)} (rho {rho:+.2f}, drop {drop:.3f})"
               for key, _, rho, drop, monotone in found if not monotone]
    rhos = [rho for *_, rho, _, _ in found]
    detail = (f"all {len(found)} curves (model x task x regularization x n_train): Spearman "
              f"rho of alignment on SNR from {min(rhos):.2f} to {max(rhos):.2f}; "
              f"{len(found) - len(failing)} monotone (rho > 0, no drop above {TOL} between "
              "neighbouring SNRs)")
    if failing:
        detail += f"; not monotone: {', '.join(failing)}"
    return Check("alignment rises monotonically with SNR, on every curve", not failing, detail)


def _snr_cause_check(curves):
    """Why the non-monotone curves fall: the shared weakest input direction (measured)."""
    found = _snr_curves(curves)
    parts, passed = [], True
    for key, curve, _, _, monotone in found:
        if monotone:
            continue
        a, share, snrs = (curve[c].to_numpy() for c in ("alignment", "shared_direction",
                                                         "snr"))
        steps = [i for i in range(len(a) - 1) if a[i + 1] < a[i] - TOL]
        explained = all(np.isfinite(share[i]) and share[i] >= SHARED_MIN
                        and share[i + 1] < share[i] for i in steps)
        passed &= explained
        parts.append(f"{_label(key)}: " + ", ".join(
            f"SNR {snrs[i]:g} -> {snrs[i + 1]:g} alignment {a[i]:.3f} -> {a[i + 1]:.3f}, "
            f"share {share[i]:.2f} -> {share[i + 1]:.2f}" for i in steps)
            + ("" if explained else " [not explained]"))
    failing_n = {key[3] for key, *_, monotone in found
                 if not monotone and key[0] == "linear"}
    control = [(key[3], curve["shared_direction"].max(), monotone)
               for key, curve, *_, monotone in found
               if key[:3] == ("linear", "regression", "ridge") and key[3] in failing_n]
    detail = "; ".join(parts) or "every curve is monotone"
    if control:
        detail += (". Control, the ridge curves at the same n_train (the penalty filters "
                   "that direction): " + ", ".join(
                       f"n_train {n} share at most {share:.2f}, "
                       f"{'monotone' if ok else 'not monotone'}" for n, share, ok in control))
    return Check(
        "where alignment falls with SNR, the members share one noise direction: their maps "
        f"put at least {SHARED_MIN:.3f} (5/d) of their energy along the weakest direction of "
        "the shared training inputs, and that share falls as the signal takes over", passed,
        "share = fraction of the end-to-end map's energy along the smallest singular "
        f"direction of X (1/d = {1 / D:.3f} for an isotropic map); " + detail)


def _dip(curve, threshold):
    """Whether the minimum over n_train is within a factor 2 of ``threshold``, below both ends."""
    curve = curve.sort_values("n_train")
    values, n = curve["alignment"].to_numpy(), curve["n_train"].to_numpy()
    i = int(np.argmin(values))
    ok = bool(threshold / 2 <= n[i] <= 2 * threshold and 0 < i < len(n) - 1)
    text = (f"min {values[i]:.3f} at n_train {n[i]} (ends {values[0]:.3f}, "
            f"{values[-1]:.3f}){'' if ok else ' [no]'}")
    return ok, text


def _linear_dip_check(curves):
    ridge = curves[(curves["model"] == "linear") & (curves["regularization"] == "ridge")]
    parts, passed = [], True
    for snr, curve in ridge.groupby("snr"):
        ok, text = _dip(curve, D)
        if snr >= 1:
            passed &= ok
        parts.append(f"SNR {snr:g}: {text}" + ("" if snr >= 1 else " (SNR < 1, not checked)"))
    return Check(f"alignment is non-monotonic in n_train, lowest near the interpolation "
                 f"threshold n_train = d = {D} (linear, ridge lambda = {RIDGE:g}, SNR >= 1)",
                 passed, "; ".join(parts))


def _mlp_dip_check(curves, cfg):
    mlp = curves[(curves["model"] == "mlp") & (curves["snr"] == cfg.mlp_sweep_snr)]
    parts, passed = [], True
    for task, curve in mlp.groupby("task"):
        threshold = curve["threshold"].iloc[0]
        ok, text = _dip(curve, threshold) if np.isfinite(threshold) else (False, "")
        passed &= ok
        parts.append(f"{task}: measured n* {threshold:.0f}, {text}")
    return Check(f"alignment is non-monotonic in n_train, lowest near the measured "
                 f"interpolation threshold n* (digits MLPs, SNR {cfg.mlp_sweep_snr:g})",
                 passed and bool(parts), "; ".join(parts))


def _artefact_check(curves):
    mine = curves[(curves["model"] == "linear") & (curves["regularization"] == "min_norm")]
    parts, passed = [], True
    for snr, curve in mine.groupby("snr"):
        curve = curve.set_index("n_train")["alignment"]
        below = curve[curve.index < D].iloc[-1]
        above = curve[curve.index > D].iloc[0]
        spike = curve[D] > max(below, above)
        if snr < D:
            passed &= spike
        parts.append(f"SNR {snr:g}: {below:.3f} / {curve[D]:.3f} / {above:.3f}"
                     + ("" if snr < D else " (SNR >= d, not expected)"))
    return Check(
        "minimum-norm artefact: at n_train = d every member is dominated by the shared "
        "ill-conditioned input direction, so alignment spikes instead of dipping (SNR < d)",
        passed, "min-norm alignment just below / at / just above n_train = d: "
        + "; ".join(parts))


def _decoupling_check(curves):
    """Along n_train, test error falls (>= 10 %) while alignment falls (> TOL)."""
    parts, found = [], {}
    for (model, task, regularization), group in curves.groupby(
            ["model", "task", "regularization"]):
        rho = _spearman(group["alignment"], group["test_error"])
        cases = []
        for snr, curve in group.groupby("snr"):
            curve = curve.sort_values("n_train")
            a, e, n = (curve[c].to_numpy() for c in ("alignment", "test_error", "n_train"))
            cases += [(a[j] - a[i], snr, n[j], n[i], e[j], e[i], a[j], a[i])
                      for i in range(len(n)) for j in range(i)
                      if e[i] < 0.9 * e[j] and a[i] < a[j] - TOL]
        label = f"{model}/{task}" + (f"/{regularization}" if model == "linear" else "")
        found[label] = bool(cases)
        text = f"{label}: Spearman(alignment, test error) {rho:+.2f}"
        if cases:
            _, snr, n0, n1, e0, e1, a0, a1 = max(cases)
            text += (f", largest case SNR {snr:g}, n_train {n0} -> {n1}: test error "
                     f"{e0:.3g} -> {e1:.3g} while alignment {a0:.3f} -> {a1:.3f}")
        else:
            text += ", no case"
        parts.append(text)
    passed = found.get("linear/regression/ridge", False) and all(
        v for k, v in found.items() if k.startswith("mlp"))
    return Check("alignment is decoupled from test error: with more training data test error "
                 "falls while alignment falls (linear ridge and each MLP task)", passed,
                 "; ".join(parts))


def _estimate_check(curves):
    """The estimate against the simulated predictor CKA, both averaged over repetitions."""
    lin = curves[curves["model"] == "linear"]
    zone = _in_artefact_zone(lin["regularization"], lin["n_train"])
    gap = (lin["estimate"] - lin["alignment_output"]).abs()
    inside, outside = gap[zone], gap[~zone]
    worst = lin.loc[outside.idxmax()]
    detail = (f"|estimate - simulated predictor CKA| (means over repetitions) over "
              f"{len(outside)} conditions: mean {outside.mean():.3f}, max {outside.max():.3f} "
              f"({worst['regularization']}, SNR {worst['snr']:g}, n_train "
              f"{worst['n_train']}); tolerance {ESTIMATE_TOL}")
    if len(inside):
        detail += (f". In the minimum-norm artefact zone the ratio-of-expectations "
                   f"approximation fails: mean gap {inside.mean():.3f}, max {inside.max():.3f}")
    return Check("the analytic estimate matches the simulated CKA of the linear predictors",
                 bool(outside.max() <= ESTIMATE_TOL), detail)


# ---------------------------------------------------------------------------- figure


def _figure(curves, cfg):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(14.0, 7.5), layout="constrained")
    axes = figure.subplots(2, 3)
    lin = curves[curves["model"] == "linear"]
    mlp = curves[curves["model"] == "mlp"]
    colours = {"min_norm": "C3", "ridge": "C0", "regression": "C2", "classification": "C4"}

    ax = axes[0, 0]
    sweep_n = 2 * D
    for reg, group in lin[lin["n_train"] == sweep_n].groupby("regularization"):
        ax.plot(group["snr"], group["alignment"], "o-", color=colours[reg],
                label=f"{reg}: hidden")
        ax.plot(group["snr"], group["alignment_output"], "s:", color=colours[reg], ms=4,
                label=f"{reg}: predictor")
        ax.plot(group["snr"], group["estimate"], "--", color=colours[reg], alpha=0.6,
                label=f"{reg}: predictor, analytic")
    ax.set(xscale="log", xlabel="SNR", ylabel="alignment (mean pairwise CKA)",
           title=f"linear, n_train = 2d = {sweep_n}")
    ax.legend(fontsize=7)

    snr = cfg.lin_snr[len(cfg.lin_snr) // 2]
    for ax, column, ylabel in ((axes[0, 1], "alignment", "alignment"),
                               (axes[0, 2], "test_error", "relative test error")):
        for reg, group in lin[lin["snr"] == snr].groupby("regularization"):
            ax.plot(group["n_train"], group[column], "o-", color=colours[reg], label=reg)
            if column == "alignment":
                ax.plot(group["n_train"], group["alignment_output"], "s:", color=colours[reg],
                        ms=4, label=f"{reg}: predictor")
                ax.plot(group["n_train"], group["estimate"], "--", color=colours[reg],
                        alpha=0.6, label=f"{reg}: predictor, analytic")
        ax.axvline(D, color="grey", lw=0.8, ls=":")
        ax.set(xscale="log", yscale="log" if column == "test_error" else "linear",
               xlabel="n_train", ylabel=ylabel, title=f"linear, SNR {snr:g} (dotted: d)")
        ax.legend(fontsize=7)

    ax = axes[1, 0]
    for task, group in mlp[mlp["n_train"] == mlp["n_train"].max()].groupby("task"):
        ax.plot(group["snr"], group["alignment"], "o-", color=colours[task], label=task)
    ax.set(xscale="log", xlabel="SNR (classification: label noise 1/(1+SNR))",
           ylabel="alignment (hidden)", title="digits MLPs, all training images")
    ax.legend(fontsize=7)

    sweep = mlp[mlp["snr"] == cfg.mlp_sweep_snr]
    for ax, column, ylabel in ((axes[1, 1], "alignment", "alignment (hidden)"),
                               (axes[1, 2], "test_error", "test error")):
        for task, group in sweep.groupby("task"):
            ax.plot(group["n_train"], group[column], "o-", color=colours[task], label=task)
            ax.axvline(group["threshold"].iloc[0], color=colours[task], lw=0.8, ls=":")
        ax.set(xscale="log", xlabel="n_train", ylabel=ylabel,
               title=f"digits MLPs, SNR {cfg.mlp_sweep_snr:g} (dotted: measured n*)")
        ax.legend(fontsize=7)
    return figure


def _numbers(table, curves, cfg) -> str:
    """Markdown: the linear n_train sweep, the measured thresholds and the MLP conditions."""
    lin = curves[curves["model"] == "linear"]
    snr = cfg.lin_snr[len(cfg.lin_snr) // 2]
    sweep = lin[lin["snr"] == snr].pivot(index="n_train", columns="regularization")
    rows = ["| n_train | min-norm alignment | estimate | test error | ridge alignment | "
            "estimate | test error |", "|---|---|---|---|---|---|---|"]
    for n, r in sweep.iterrows():
        rows.append(" | ".join(
            [f"| {n}"] + [f"{r[(c, reg)]:{'.3g' if c == 'test_error' else '.3f'}}"
                          for reg in ("min_norm", "ridge")
                          for c in ("alignment", "estimate", "test_error")]) + " |")
    measured = {key: _interpolation_threshold(s["n_train"], s["noise_unfit"])
                for key, s in _sweeps(table, cfg).items()}
    thresholds = "; ".join(f"{k[1] if k[0] == 'mlp' else f'linear/{k[2]}'}: {v:.0f}"
                           for k, v in measured.items())
    mlp = curves[curves["model"] == "mlp"].sort_values(["task", "n_train", "snr"])
    mrows = ["| task | SNR | n_train | alignment | test error | noise unfit |",
             "|---|---|---|---|---|---|"]
    mrows += [f"| {r['task']} | {r['snr']:g} | {r['n_train']} | {r['alignment']:.3f} | "
              f"{r['test_error']:.3f} | {r['noise_unfit']:.2f} |" for _, r in mlp.iterrows()]
    per_output = table["parameters_per_output"].dropna().iloc[0]
    return (f"Linear model at SNR {snr:g}, mean over repetitions (d = {D}; relative test "
            f"error; the minimum-norm spike at n_train = d comes with an exploding test "
            f"error):\n\n" + "\n".join(rows)
            + f"\n\nMeasured interpolation thresholds (noise unfit crossing {UNFIT_EPS}): "
            f"{thresholds}. Parameters per output of the MLP: {per_output:.0f}.\n\n"
            f"Digits MLPs, mean over repetitions:\n\n" + "\n".join(mrows))


# ----------------------------------------------------------------------------- study


@register
class SNR(Study):
    """Alignment of noise-perturbed ensembles against SNR and training-set size.

    ``results.csv`` has one row per ensemble: ``model`` (``linear``, ``mlp``),
    ``task``, ``regularization`` (``min_norm``, ``ridge``, ``none``), ``snr``,
    ``n_train``, ``seed`` (the repetition), ``alignment`` (hidden layer),
    ``alignment_output`` (predictor), ``estimate`` (analytic predictor CKA,
    linear only), ``test_error``, ``noise_unfit`` (training residual over the
    noise), ``shared_direction`` (linear only: share of the members' map energy
    along the weakest direction of the training inputs), ``threshold`` (``d``, or
    the MLP task's measured ``n*``) and ``parameters_per_output`` (MLP only).
    """

    name = "snr"
    title = "Signal-to-noise ratio and sample size govern alignment"
    reference = ('"Signal-to-noise ratio and sample size govern representational alignment" '
                 "(issue 7, item 1)")
    Config = Config
    quick_settings = {"lin_snr": (0.25, 1.0, 4.0, 16.0, 64.0),
                      "lin_n": (8, 20, 32, 40, 48, 80, 200, 400),
                      "lin_members": 6, "lin_repeats": 3, "lin_test": 400,
                      "mlp_snr": (0.5, 2.0, 8.0, 32.0), "mlp_n": (15, 60, 240, 1347),
                      "mlp_members": 4, "mlp_repeats": 1, "mlp_steps": 400}

    def measure(self, config):
        import pandas as pd

        import repalign

        cka = repalign.get("cka")
        rows = _linear_rows(config, config.seed, cka) + _mlp_rows(config, config.seed, cka)
        table = _set_mlp_thresholds(pd.DataFrame(rows), config)
        return Outcome(table, {"curves": _curves(table)})

    def checks(self, outcome, config):
        curves = outcome.details["curves"]
        return [_snr_check(curves), _snr_cause_check(curves), _linear_dip_check(curves),
                _artefact_check(curves),
                _mlp_dip_check(curves, config), _decoupling_check(curves),
                _estimate_check(curves)]

    def figure(self, outcome, config):
        return _figure(outcome.details["curves"], config)

    def numbers(self, outcome, config):
        return _numbers(outcome.table, outcome.details["curves"], config)

    def description(self, outcome, config):
        return f"""
Ensembles of networks trained on the same inputs, each member with its own noise on the
targets; alignment = mean pairwise linear CKA (`repalign.get("cka")`, each member prepared
once) of the hidden layer on a fixed test set.

- **Linear** `y = W2 W1 x`, Gaussian teacher, d = {D}, k = {K} outputs, SNR = 1/sigma^2 in
  {list(config.lin_snr)}, n_train in {list(config.lin_n)}; closed-form minimum-norm and ridge
  (lambda = {RIDGE:g}) end-to-end solutions with balanced factors (the limit of gradient
  descent from a small initialization); {config.lin_members} members,
  {config.lin_repeats} repetitions (teacher, inputs), {config.lin_test} test inputs. Beside
  it, the analytic estimate of the predictors' CKA from the noise covariance (module
  docstring: ratio of Gaussian moments, conditional on the inputs).
- **Digits MLPs** 64-{WIDTH}-10 (ReLU), regression (one-hot + Gaussian noise of variance
  0.09/SNR, MSE) and classification (label noise at rate 1/(1+SNR), cross-entropy); SNR in
  {list(config.mlp_snr)} on all training images, and n_train in {list(config.mlp_n)} at SNR
  {config.mlp_sweep_snr:g}; {config.mlp_members} members sharing the initialization and batch
  order, {config.mlp_repeats} repetition(s) (split, initialization), Adam (lr 3e-3, batch
  64) for about {config.mlp_steps} steps; hidden layer `act1`, 450 test images. The
  interpolation threshold n* is measured: where the members stop fitting the noise
  (`noise_unfit` crosses {UNFIT_EPS}).
"""
