"""Gradients through the measures: when they are tracked, and the spectral building
blocks whose derivatives stay finite at repeated singular values.

A measure is computed on an autograd graph when its inputs are torch tensors
that require grad (with grad mode on): ``pair`` then returns a 0-d tensor
instead of a Python float. Measures that declare
``capabilities.differentiable`` take, where their float path reads singular
*vectors* (an SVD basis, whose gradient divides by ``s_i^2 - s_j^2`` and is NaN
or infinite at repeated singular values), a path through *spectral functions*
of the scatter or Gram matrix instead: ``F(C) = V diag(f(lambda)) V^T``, whose
derivative (Daleckii and Krein 1965) uses the divided differences
``(f_i - f_j) / (lambda_i - lambda_j)``, tending to ``f'(lambda_i)`` as the
eigenvalues meet, so it stays finite and exact at repeated eigenvalues.

Nothing here imports torch at module level: it is imported where a tensor that
requires grad has already loaded it.

References
----------
Daleckii & Krein (1965). Integration and differentiation of functions of
Hermitian operators and applications to the theory of perturbations. AMS
Translations (2) 47, 1-30.

Bhatia (1997). Matrix Analysis, chapter V.3. Springer.
"""

from __future__ import annotations

import array_api_compat

__all__ = ["requires_grad", "scalar", "spectral_scores", "projector_scores", "polar_factor",
           "RANKS",
           "NEIGHBOURS", "HARD_MATCH", "NOT_IMPLEMENTED"]

#: Why rank-based comparisons refuse inputs that require grad.
RANKS = ("ranks are piecewise constant: their gradient is zero almost everywhere (no "
         "soft-rank relaxation is implemented)")
#: Why neighbour-set measures refuse inputs that require grad.
NEIGHBOURS = ("nearest-neighbour sets are piecewise constant in the data: their gradient "
              "is zero almost everywhere (no soft-neighbour relaxation is implemented); "
              "use cka or rsa with compare='pearson'")
#: Why hard matchings of units refuse inputs that require grad.
HARD_MATCH = ("a hard matching of units is a discrete choice (an assignment or an argmax): "
              "the gradient reaches the matched pairs only and jumps whenever the matching "
              "changes, so none is offered; use soft_match, whose gradient is its optimal "
              "transport plan")
#: The start of the reason of measures whose gradient is not implemented.
NOT_IMPLEMENTED = "no gradient is implemented"


def requires_grad(*arrays) -> bool:
    """Whether autograd records operations on any of ``arrays``.

    True for a torch tensor that requires grad while grad mode is on (inside
    ``torch.no_grad()`` nothing is recorded, and the measures return floats).
    """
    for a in arrays:
        if array_api_compat.is_torch_array(a) and a.requires_grad:
            import torch

            return torch.is_grad_enabled()
    return False


def scalar(x):
    """``float(x)``, or ``x`` itself (a 0-d tensor) when it carries an autograd graph."""
    if array_api_compat.is_torch_array(x) and x.requires_grad:
        return x
    return float(x)


_SPECTRAL = None


def _spectral_class():
    """The torch autograd Function of :func:`_spectral` (made on first use)."""
    global _SPECTRAL
    if _SPECTRAL is None:
        import torch

        class Spectral(torch.autograd.Function):
            """``(V diag(f) V^T, lambda)`` of a symmetric ``C = V diag(lambda) V^T``."""

            @staticmethod
            def forward(ctx, C, fn):
                lam, V = torch.linalg.eigh(C)
                f, df = fn(lam)
                ctx.save_for_backward(lam, V, f, df)
                return (V * f[None, :]) @ V.T, lam

            @staticmethod
            def backward(ctx, grad_F, grad_lam):
                lam, V, f, df = ctx.saved_tensors
                G = torch.zeros_like(V)
                if grad_F is not None:
                    diff = lam[:, None] - lam[None, :]
                    # Eigenvalues closer than sqrt(eps) of the largest take the
                    # derivative at their midpoint (the limit of the divided difference).
                    close = diff.abs() <= _CLOSE * lam.abs().max()
                    gamma = torch.where(close, (df[:, None] + df[None, :]) / 2,
                                        (f[:, None] - f[None, :])
                                        / torch.where(close, torch.ones_like(diff), diff))
                    G = gamma * (V.T @ ((grad_F + grad_F.T) / 2) @ V)
                if grad_lam is not None:
                    G = G + torch.diag(grad_lam)
                return V @ G @ V.T, None

        _SPECTRAL = Spectral
    return _SPECTRAL


#: Relative gap below which two eigenvalues count as equal in the divided differences.
_CLOSE = 2.0 ** -26


def _spectral(C, fn):
    """``(V diag(f(lambda)) V^T, lambda)`` for a symmetric torch ``C``.

    ``fn(lam)`` gets the ascending eigenvalues and returns the values ``f`` and
    derivatives ``f'`` at them. The gradient with respect to ``C`` is exact and
    finite at repeated eigenvalues (divided differences, Daleckii-Krein).
    """
    return _spectral_class().apply(C, fn)


def spectral_scores(Xc, h, dh, *, top=None):
    """Scores equivalent to ``U diag(h(S))`` of the thin SVD ``Xc = U S V^T``, differentiably.

    Only the Gram ``W W^T = U diag(h(S)^2) U^T`` of the returned ``W`` is
    promised: every quantity the measures take from the scores (products
    ``W_a^T W_b`` up to orthogonal factors, their singular values, norms) depends
    on nothing else. With at most as many features as stimuli ``W = Xc
    phi(Xc^T Xc)`` (n x d, ``phi(lambda) = h(sqrt(lambda)) / sqrt(lambda)``);
    otherwise ``W = psi(Xc Xc^T)`` (n x n, ``psi(mu) = h(sqrt(mu))``).
    Eigenvalues of that matrix at or below ``lambda_max max(n, d) eps`` are
    dropped: its rounding error is of order ``eps lambda_max``, so singular
    values below about ``S_max sqrt(max(n, d) eps)`` (2e-7 S_max at n = 1000
    in float64) cannot be told from 0 here; the SVD of the float path resolves
    them down to ``S_max max(n, d) eps`` (the tolerance of
    :func:`~repalign.measures._kernels.orthonormal_basis`), so the two agree
    except on inputs that are numerically rank deficient in between.
    ``top`` keeps only the leading ``top`` of the others.

    Parameters
    ----------
    Xc : torch tensor of shape (n, d)
    h, dh : callables
        ``h(s)`` and its derivative ``h'(s)``, elementwise on positive singular values.
    top : int, optional

    Returns
    -------
    W : tensor of shape (n, d) or (n, n)
    S : tensor of shape (r,)
        The kept singular values, in decreasing order (differentiable).
    r : int
        How many were kept.
    """
    import torch

    n, d = Xc.shape
    feature_side = d <= n
    C = Xc.T @ Xc if feature_side else Xc @ Xc.T
    eps = torch.finfo(Xc.dtype).eps
    kept = {}

    def fn(lam):
        tol = lam[-1].clamp(min=0) * max(n, d) * eps
        keep = lam > tol
        if top is not None:  # ascending: the leading ones are the last
            keep &= torch.arange(lam.shape[0], device=lam.device) >= lam.shape[0] - top
        kept["mask"] = keep
        s = torch.sqrt(torch.where(keep, lam, torch.ones_like(lam)))
        hs, dhs = h(s), dh(s)
        if feature_side:  # phi(lambda) = h(s) / s
            f, df = hs / s, (dhs * s - hs) / (2 * s**3)
        else:  # psi(mu) = h(s)
            f, df = hs, dhs / (2 * s)
        zero = torch.zeros_like(lam)
        return torch.where(keep, f, zero), torch.where(keep, df, zero)

    F, lam = _spectral(C, fn)
    keep = kept["mask"]
    r = int(keep.sum())
    S = torch.sqrt(torch.flip(lam[keep], dims=(0,)).clamp(min=0))
    W = Xc @ F if feature_side else F
    return W, S, r


def projector_scores(X, *, top=None):
    """:func:`spectral_scores` with ``h = 1``: a basis ``W`` whose ``W W^T`` is the
    orthogonal projector onto the column space of ``X`` (its leading ``top``
    principal directions), with its rank."""
    W, _, r = spectral_scores(X, lambda s: 1 + 0 * s, lambda s: 0 * s, top=top)
    return W, r


def polar_factor(M):
    """The orthogonal polar factor ``A B^T`` of the thin SVD ``M = A S B^T``, differentiably.

    ``M (M^T M)^{-1/2}`` (or ``(M M^T)^{-1/2} M`` for a wide ``M``) through a
    spectral function, singular values below the tolerance of
    :func:`spectral_scores` dropped. Its derivative, finite at repeated
    singular values, divides by ``s_i + s_j`` only.
    """
    import torch

    eps = torch.finfo(M.dtype).eps
    tall = M.shape[0] >= M.shape[1]

    def fn(lam):
        keep = lam > lam[-1].clamp(min=0) * max(M.shape) * eps
        safe = torch.where(keep, lam, torch.ones_like(lam))
        zero = torch.zeros_like(lam)
        return (torch.where(keep, safe ** -0.5, zero),
                torch.where(keep, -0.5 * safe ** -1.5, zero))

    if tall:
        return M @ _spectral(M.T @ M, fn)[0]
    return _spectral(M @ M.T, fn)[0] @ M
