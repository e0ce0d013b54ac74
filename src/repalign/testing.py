"""Public contract checks of a measure, as scikit-learn ships ``check_estimator``.

A measure makes promises: its declared kind, symmetry, invariances, identity
value and bounds, ``__call__ == pair(prepare, prepare)``, and every capability
it declares (:class:`~repalign.measures.Capabilities`): an index-only
permutation equal to preparing the permuted rows, a resampling rule, batched
blocks equal to single pairs, float32 within its tolerance (or a refusal that
says why), a streamed form equal to the in-memory value, a held-out form, a
gradient that passes ``torch.autograd.gradcheck`` (or a refusal that says why). It
must also agree across array libraries and refuse bad input with an error that
names the argument. :func:`check_measure` runs every check that applies and
names each broken promise; :func:`measure_checks` yields them one by one, for a
test suite to parametrize over::

    import pytest, repalign
    from repalign.testing import measure_checks

    @pytest.mark.parametrize("check", measure_checks(MyMeasure()), ids=lambda c: c.name)
    def test_my_measure(check):
        check()

Each check uses small random data from a fixed seed (correlated but not
identical representations) and raises :class:`AssertionError` with the measure,
the promise and the numbers that broke it.
"""

from __future__ import annotations

import dataclasses
import math
import pickle
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .exceptions import DegenerateWarning
from .measures import INVARIANCES, Capabilities, Measure, Prepared

__all__ = ["Check", "check_measure", "measure_checks", "FLOAT32_RTOL"]

#: Agreement of ``dtype="float32"`` with float64: ``|v32 - v64| <= FLOAT32_RTOL * max(|v64|, 1)``.
#: The worst measured on Gaussian data, a spectrum decaying over three decades
#: and more features than stimuli was 3.4e-6 (``magnitude_difference``).
FLOAT32_RTOL = 1e-5

#: Agreement of two computations of one value in float64 (orders, libraries, routes).
_RTOL = 1e-9


@dataclass(frozen=True)
class Check:
    """One promise of a measure, ready to run.

    Attributes
    ----------
    name : str
        The promise (e.g. ``"symmetry"``, ``"invariance:orthogonal"``).
    run : callable
        Raises :class:`AssertionError` when the promise is broken.
    """

    name: str
    run: Callable[[], None]

    def __call__(self) -> None:
        self.run()


def _pair(n: int, dx: int = 5, dy: int = 7, seed: int = 0, noise: float = 0.5):
    """A representation X and a nonlinearly related, noisy Y of the same n stimuli."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, dx))
    Y = np.tanh(X @ rng.standard_normal((dx, dy))) + noise * rng.standard_normal((n, dy))
    return X, Y


def _orthogonal(d: int, rng) -> np.ndarray:
    Q, R = np.linalg.qr(rng.standard_normal((d, d)))
    return Q * np.sign(np.diag(R))


def _transform(kind: str, Y, rng):
    d = Y.shape[1]
    return {
        "orthogonal": lambda: Y @ _orthogonal(d, rng),
        "isotropic_scale": lambda: 3.7 * Y,
        "translation": lambda: Y + 5 * rng.standard_normal(d),
        "permutation": lambda: Y[:, rng.permutation(d)],
        "invertible_linear": lambda: Y @ (rng.standard_normal((d, d)) + 2 * np.eye(d)),
    }[kind]()


def _close(a: float, b: float, rtol: float = _RTOL) -> bool:
    return abs(a - b) <= rtol * max(1.0, abs(a), abs(b))


class _Promises:
    """The checks of one measure, on data sized for it."""

    def __init__(self, m: Measure):
        if not isinstance(m, Measure):
            raise TypeError(f"check_measure: measure must be a Measure instance (e.g. "
                            f"repalign.get('cka') or MyMeasure()); got {type(m).__name__}")
        self.m = m
        self.n = max(40, 4 * m.min_stimuli)
        self.X, self.Y = _pair(self.n)

    def fail(self, promise: str, detail: str):
        raise AssertionError(f"{self.m.name} {self.m.params}: {promise}: {detail}")

    def value(self, X, Y) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DegenerateWarning)
            return self.m(X, Y)

    # ------------------------------------------------------------------ metadata
    def metadata(self):
        m = self.m
        if m.kind not in ("similarity", "distance"):
            self.fail("kind", f"must be 'similarity' or 'distance'; got {m.kind!r}")
        if not isinstance(m.symmetric, bool):
            self.fail("symmetric", f"must be a bool; got {m.symmetric!r}")
        unknown = set(m.invariances) - set(INVARIANCES)
        if unknown:
            self.fail("invariances", f"{sorted(unknown)} are not among {INVARIANCES}")
        if not (m.references and all(isinstance(r, str) and r for r in m.references)):
            self.fail("references", f"must be non-empty strings; got {m.references!r}")
        low, high = m.bounds
        if not low < high:
            self.fail("bounds", f"must be (low, high) with low < high; got {m.bounds}")
        if m.identity is not None and not low <= m.identity <= high:
            self.fail("identity", f"identity value {m.identity} lies outside the bounds "
                                  f"{m.bounds}")
        if not isinstance(m.capabilities, Capabilities):
            self.fail("capabilities", f"must be a Capabilities; got {m.capabilities!r}")
        if not (type(m).__doc__ and "References" in type(m).__doc__):
            self.fail("docstring", "the class docstring must state the formula and have a "
                                   "References section")

    # ------------------------------------------------------------------ values
    def call_equals_pair(self):
        m, X, Y = self.m, self.X, self.Y
        called = self.value(X, Y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DegenerateWarning)
            paired = m.pair(m.prepare(X), m.prepare(Y))
        if called != paired:
            self.fail("__call__ == pair(prepare(X), prepare(Y))", f"{called!r} != {paired!r}")

    def python_float(self):
        value = self.value(self.X, self.Y)
        if type(value) is not float or not math.isfinite(value):
            self.fail("value", f"must be a finite Python float; got {value!r} "
                               f"({type(value).__name__})")

    def identity(self):
        expected = self.m.identity
        if expected is None:
            return
        value = self.value(self.X, self.X)
        # Distances through arccos or a root of a difference keep about half the digits
        # at 0: sqrt(eps) times the scale of the data.
        scale = max(1.0, float(np.linalg.norm(self.X - self.X.mean(axis=0))))
        if abs(value - expected) > 1e-7 * scale:
            self.fail("identity", f"m(X, X) = {value!r}, declared {expected}")

    def bounds(self):
        low, high = self.m.bounds
        for seed in range(4):
            X, Y = _pair(self.n, seed=seed, noise=2.0)
            value = self.value(X, Y)
            if not low - 1e-12 <= value <= high + 1e-12:
                self.fail("bounds", f"value {value!r} outside the declared {self.m.bounds} "
                                    f"(seed {seed})")

    def symmetry(self):
        if self.m.symmetric:
            ab, ba = self.value(self.X, self.Y), self.value(self.Y, self.X)
            if not _close(ab, ba, 1e-12):
                self.fail("symmetry", f"declared symmetric, but m(X, Y) = {ab!r} and "
                                      f"m(Y, X) = {ba!r}")
        else:
            X, Y = _pair(max(100, self.n), noise=0.5)
            ab, ba = self.value(X, Y), self.value(Y, X)
            if abs(ab - ba) <= 1e-6:
                self.fail("symmetry", f"declared asymmetric, but m(X, Y) = m(Y, X) = {ab!r}")

    def invariance(self, kind: str):
        rng = np.random.default_rng(1)
        X, Y = _pair(self.n, dx=5, dy=7)
        expected = self.value(X, Y)
        for label, args in (("Y", (X, _transform(kind, Y, rng))),
                            ("X", (_transform(kind, X, rng), Y))):
            value = self.value(*args)
            if not _close(value, expected, 1e-8):
                self.fail(f"invariance:{kind}", f"{expected!r} became {value!r} under a "
                                                f"{kind} map of {label}")

    # ------------------------------------------------------------------ capabilities
    def permutation(self):
        m, X, Y = self.m, self.X, self.Y
        perm = np.random.default_rng(2).permutation(self.n)
        expected = self.value(X, Y[perm])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DegenerateWarning)
            a, b = m.prepare(X), m.prepare(Y)
            permuted = m.permute(b, perm) if m.capabilities.permutation else m.permute(b, perm, Y)
            value = m.pair(a, permuted)
        how = "by index" if m.capabilities.permutation else "by preparing Y[perm]"
        if not _close(value, expected, 1e-10):
            self.fail("permutation", f"pair(prepare(X), permute(prepare(Y), perm)) {how} = "
                                     f"{value!r}, but m(X, Y[perm]) = {expected!r}")

    def resampling(self):
        """Without repeated stimuli, any resampling rule equals the measure on the subset."""
        m, X, Y = self.m, self.X, self.Y
        idx = np.random.default_rng(3).permutation(self.n)[: self.n - 3]
        expected = self.value(X[idx], Y[idx])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DegenerateWarning)
            a, b = m.prepare(X), m.prepare(Y)
            if m.capabilities.resampling:
                value = m.pair_resampled(a, b, idx)
            else:
                value = m.pair_resampled(a, b, idx, X, Y)
        if not _close(value, expected, 1e-10):
            self.fail("resampling", f"pair_resampled on distinct stimuli idx = {value!r}, "
                                    f"but m(X[idx], Y[idx]) = {expected!r}")

    def batched_pairs(self):
        m = self.m
        reps = [_pair(self.n, dx=d, seed=s)[k] for s, d, k in ((0, 4, 0), (1, 6, 1), (2, 5, 0))]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DegenerateWarning)
            states = [m.prepare(R) for R in reps]
            block = m.pair_block(states, states)
            loop = np.array([[m.pair(a, b) for b in states] for a in states])
        if not np.allclose(block, loop, rtol=_RTOL, atol=_RTOL):
            self.fail("batched_pairs", f"pair_block differs from a loop of pair by "
                                       f"{np.nanmax(np.abs(block - loop)):.3g}")

    def float32(self):
        m = self.m
        if not m.capabilities.float32:
            try:
                dataclasses.replace(m, dtype="float32")
            except ValueError as err:
                if m.capabilities.float32_refusal not in str(err):
                    self.fail("float32", f"the refusal does not give its reason: {err}")
                return
            self.fail("float32", "declared unsupported, but dtype='float32' was accepted")
        X, Y = _pair(max(120, self.n), dx=12, dy=15)
        single = dataclasses.replace(m, dtype="float32")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DegenerateWarning)
            v64 = dataclasses.replace(m, dtype="float64")(X, Y)
            state = single.prepare(X)
            v32 = single(X, Y)
        if any(np.dtype(str(a.dtype).split(".")[-1]) == np.float64 for a in state.arrays()):
            self.fail("float32", "dtype='float32' left float64 arrays in the prepared state")
        if abs(v32 - v64) > FLOAT32_RTOL * max(abs(v64), 1.0):
            self.fail("float32", f"float32 {v32!r} vs float64 {v64!r}: beyond the documented "
                                 f"{FLOAT32_RTOL:g}")

    def streaming(self):
        from .streaming import CrossMoments

        m, X, Y = self.m, self.X, self.Y
        if not m.capabilities.streaming:
            try:
                m.from_moments(CrossMoments.from_arrays(X, Y))
            except ValueError:
                return
            self.fail("streaming", "declared not streamable, but from_moments gave a value")
        expected = self.value(X, Y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DegenerateWarning)
            value = m.from_moments(CrossMoments.from_arrays(X, Y, chunk_size=7,
                                                            row_norms=True))
        if not _close(value, expected, 1e-9):
            self.fail("streaming", f"from streamed moments {value!r}, in memory {expected!r}")

    def held_out(self):
        m, X, Y = self.m, self.X, self.Y
        half = self.n // 2
        if not m.capabilities.held_out:
            try:
                m.held_out(X[:half], Y[:half], X[half:], Y[half:])
            except ValueError:
                return
            self.fail("held_out", "declared without a held-out form, but held_out gave a value")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DegenerateWarning)
            value = m.held_out(X[:half], Y[:half], X[half:], Y[half:])
        if type(value) is not float or not math.isfinite(value):
            self.fail("held_out", f"must return a finite Python float; got {value!r}")

    def differentiable(self):
        """Declared: a 0-d tensor on the graph, equal to the float, whose gradient passes
        ``torch.autograd.gradcheck`` (float64 finite differences); else refused, with
        the declared reason."""
        try:
            import torch
            from torch.autograd.gradcheck import GradcheckError
        except ImportError:  # pragma: no cover - torch is a test dependency
            return
        m = self.m
        X, Y = _pair(max(12, m.min_stimuli + 4), dx=4, dy=5)
        Xt, Yt = (torch.tensor(A, requires_grad=True) for A in (X, Y))
        if not m.capabilities.differentiable:
            try:
                self.value(Xt, Yt)
            except ValueError as err:
                if m.capabilities.gradient_refusal not in str(err):
                    self.fail("differentiable", f"the refusal does not give its reason: {err}")
                return
            self.fail("differentiable", "declared not differentiable, but inputs that "
                                        "require grad were accepted")
        try:
            value, expected = self.value(Xt, Yt), self.value(X, Y)
        except RuntimeError as err:
            self.fail("differentiable", f"inputs that require grad raised {err}")
        if not (isinstance(value, torch.Tensor) and value.ndim == 0 and value.requires_grad):
            self.fail("differentiable", f"inputs that require grad must give a 0-d tensor "
                                        f"on the autograd graph; got {value!r}")
        if not _close(float(value.detach()), expected, 1e-9):
            self.fail("differentiable", f"the tensor value {float(value.detach())!r} differs "
                                        f"from the float value {expected!r}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DegenerateWarning)
            try:
                torch.autograd.gradcheck(lambda A, B: m(A, B), (Xt, Yt))
            except GradcheckError as err:
                self.fail("differentiable", f"the gradient fails gradcheck: {err}")

    # ------------------------------------------------------------------ libraries, state
    def array_libraries(self):
        expected = self.value(self.X, self.Y)
        for library, convert in _libraries():
            value = self.value(convert(self.X), convert(self.Y))
            if type(value) is not float or not _close(value, expected, 1e-9):
                self.fail("array libraries", f"{library} gives {value!r}, NumPy {expected!r}")

    def pickled_state(self):
        m = self.m
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DegenerateWarning)
            a = pickle.loads(pickle.dumps(m.prepare(self.X)))
            b = pickle.loads(pickle.dumps(m.prepare(self.Y)))
            if not isinstance(a, Prepared) or m.pair(a, b) != self.value(self.X, self.Y):
                self.fail("pickle", "a pickled and unpickled state pairs to another value")

    # ------------------------------------------------------------------ bad input
    def bad_input(self):
        m, X, Y = self.m, self.X, self.Y
        n = self.n
        bad = Y.copy()
        bad[3, 2] = np.nan
        cases = [
            ("mismatched stimuli", (X, Y[:-1]), ValueError, f"X has {n} stimuli but Y has {n - 1}"),
            ("1-D input", (X, Y[:, 0]), ValueError, "Y must be a 2-D array"),
            ("NaN", (X, bad), ValueError, "Y must be finite"),
            ("text", (X, np.array([["a"] * 3] * n)), TypeError, "Y must hold real numbers"),
            ("too few stimuli", (X[: m.min_stimuli - 1], Y[: m.min_stimuli - 1]), ValueError,
             f"at least {m.min_stimuli}"),
            ("constant Y", (X, np.full_like(Y, 2.5)), ValueError, "Y"),
        ]
        for what, args, error, expected in cases:
            try:
                self.value(*args)
            except error as err:
                if expected not in str(err) or (what == "constant Y" and
                                                not str(err).startswith("Y")):
                    self.fail("errors", f"{what}: the {error.__name__} does not say "
                                        f"{expected!r}: {err}")
            except Exception as err:  # noqa: BLE001 - any other error breaks the promise
                self.fail("errors", f"{what}: raised {type(err).__name__} ({err}), expected "
                                    f"{error.__name__}")
            else:
                self.fail("errors", f"{what}: no error; expected {error.__name__}")


def _libraries():
    """``(name, convert)`` of the installed array libraries besides NumPy."""
    out = []
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a test dependency
        pass
    else:
        out.append(("torch", lambda A: torch.as_tensor(A, dtype=torch.float64)))
    try:
        import array_api_strict as xs
    except ImportError:  # pragma: no cover
        pass
    else:
        out.append(("array_api_strict", lambda A: xs.asarray(A, device=xs.Device("device1"))))
    return out


def measure_checks(measure: Measure) -> list[Check]:
    """Every check of the contract that applies to ``measure``.

    Parameters
    ----------
    measure : Measure
        A configured measure (registered or not).

    Returns
    -------
    list of Check
        ``metadata``, ``call_equals_pair``, ``python_float``, ``identity``,
        ``bounds``, ``symmetry``, one ``invariance:<kind>`` per declared
        invariance, ``permutation``, ``resampling``, ``batched_pairs``,
        ``float32``, ``streaming``, ``held_out`` (each checks the declared
        capability, or that an undeclared one is refused or falls back
        correctly), ``differentiable`` (a declared gradient passes
        ``torch.autograd.gradcheck``; an undeclared one is refused with its
        reason), ``array_libraries``, ``pickle`` and ``errors``.

    Raises
    ------
    TypeError
        If ``measure`` is not a :class:`~repalign.Measure` instance.
    """
    p = _Promises(measure)
    names = ["metadata", "call_equals_pair", "python_float", "identity", "bounds", "symmetry"]
    checks = [Check(name, getattr(p, name)) for name in names]
    checks += [Check(f"invariance:{kind}", lambda kind=kind: p.invariance(kind))
               for kind in measure.invariances]
    for name in ("permutation", "resampling", "batched_pairs", "float32", "streaming",
                 "held_out", "differentiable", "array_libraries"):
        checks.append(Check(name, getattr(p, name)))
    checks += [Check("pickle", p.pickled_state), Check("errors", p.bad_input)]
    return checks


def check_measure(measure: Measure) -> None:
    """Run every check of the contract on ``measure``; name each broken promise.

    Parameters
    ----------
    measure : Measure
        A configured measure (registered or not), e.g. ``MyMeasure(k=5)``.

    Raises
    ------
    AssertionError
        Listing every broken promise with the numbers that broke it.
    TypeError
        If ``measure`` is not a :class:`~repalign.Measure` instance.

    Examples
    --------
    >>> import repalign
    >>> from repalign.testing import check_measure
    >>> check_measure(repalign.get("cka"))
    """
    broken = []
    for check in measure_checks(measure):
        try:
            check()
        except AssertionError as err:
            broken.append(f"- {check.name}: {err}")
    if broken:
        raise AssertionError(f"{measure.name} breaks {len(broken)} promise(s) of the Measure "
                             "contract:\n" + "\n".join(broken))
