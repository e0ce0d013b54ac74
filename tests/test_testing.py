"""repalign.testing: the public contract checks name each promise a measure breaks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

import repalign
from repalign.measures import Capabilities, Measure
from repalign.measures.cka import CKA
from repalign.measures.rsa import RSA
from repalign.testing import check_measure, measure_checks


@dataclass(frozen=True)
class CosineOfMeans(Measure):
    """Cosine between the two representations' Gram diagonals (a toy measure).

    .. math:: s(X, Y) = \\frac{\\langle r_X, r_Y \\rangle}{\\|r_X\\| \\|r_Y\\|},
        \\quad r_X = \\mathrm{diag}(X_c X_c^T)

    References
    ----------
    A toy for the tests of repalign.testing.
    """

    name = "cosine_of_norms"
    kind = "similarity"
    references = ("A toy for the tests of repalign.testing.",)
    capabilities = Capabilities(permutation=True)
    _stimulus_axes = {"norms": (0,)}

    @property
    def invariances(self):
        return ("orthogonal", "isotropic_scale", "translation", "permutation")

    def _prepare(self, X, xp):
        Xc = X - xp.mean(X, axis=0, keepdims=True)
        norms = xp.sum(Xc * Xc, axis=1)
        if not float(xp.max(norms)) > 0:
            raise ValueError("X does not vary across stimuli; the measure is undefined")
        return {"norms": norms / xp.sqrt(xp.sum(norms * norms))}

    def _pair(self, a, b, xp):
        return xp.sum(a.data["norms"] * b.data["norms"])


def test_a_correct_new_measure_passes_every_check():
    check_measure(CosineOfMeans())
    check_measure(DifferentiableCosine())
    names = [c.name for c in measure_checks(CosineOfMeans())]
    assert names[:6] == ["metadata", "call_equals_pair", "python_float", "identity", "bounds",
                         "symmetry"]
    assert "invariance:orthogonal" in names and "batched_pairs" in names


@dataclass(frozen=True)
class ClaimsAsymmetric(CKA):
    @property
    def symmetric(self):
        return False


@dataclass(frozen=True)
class ClaimsInvertibleLinear(CKA):
    @property
    def invariances(self):
        return super().invariances + ("invertible_linear",)


@dataclass(frozen=True)
class ForgetsAnAxis(CosineOfMeans):
    _stimulus_axes = {}  # the norms are indexed by stimulus, but not reordered


@dataclass(frozen=True)
class NarrowBounds(CosineOfMeans):
    @property
    def bounds(self):
        return (0.99, 1.0)


@dataclass(frozen=True)
class WrongBlock(CKA):
    def _pair_block(self, states_a, states_b, same, mask, xp, memory):
        return super()._pair_block(states_a, states_b, same, mask, xp, memory) * 0.5


@dataclass(frozen=True)
class ClaimsStreaming(CosineOfMeans):
    capabilities = Capabilities(permutation=True, streaming=True)

    def _from_moments(self, moments):
        return 0.5


@dataclass(frozen=True)
class WrongResampling(RSA):
    def _pair_resampled(self, a, b, idx, xp):
        return 0.0


@dataclass(frozen=True)
class SilentOnBadInput(CosineOfMeans):
    def __call__(self, X, Y):
        try:
            return super().__call__(X, Y)
        except ValueError:
            return 0.0


@dataclass(frozen=True)
class UnclearError(CosineOfMeans):
    def __call__(self, X, Y):
        if np.shape(X)[0] != np.shape(Y)[0]:
            raise ValueError("bad")
        return super().__call__(X, Y)


@dataclass(frozen=True)
class NoReferences(CosineOfMeans):
    """A measure without the References section its users need."""

    references = ()


@dataclass(frozen=True)
class DifferentiableCosine(CosineOfMeans):
    """The toy measure, declared differentiable (its value is smooth in X).

    References
    ----------
    A toy for the tests of repalign.testing.
    """

    capabilities = Capabilities(permutation=True, differentiable=True)


@dataclass(frozen=True)
class DetachesTheGraph(DifferentiableCosine):
    def _pair(self, a, b, xp):
        value = super()._pair(a, b, xp)
        return value.detach() if hasattr(value, "detach") else value


@dataclass(frozen=True)
class WrongGradient(DifferentiableCosine):
    def _pair(self, a, b, xp):
        value = super()._pair(a, b, xp)
        if not hasattr(value, "detach"):
            return value
        return value + (value - value.detach())  # the value, with twice its gradient


@dataclass(frozen=True)
class AcceptsGradSilently(CosineOfMeans):
    def __call__(self, X, Y):
        return super().__call__(*(A.detach() if hasattr(A, "detach") else A for A in (X, Y)))


@dataclass(frozen=True)
class RefusesGradWithoutReason(CosineOfMeans):
    def __call__(self, X, Y):
        if getattr(X, "requires_grad", False):
            raise ValueError("no")
        return super().__call__(X, Y)


@pytest.mark.parametrize("measure, promise, says", [
    (DetachesTheGraph(), "differentiable", "the value lost it"),
    (WrongGradient(), "differentiable", "the gradient fails gradcheck"),
    (AcceptsGradSilently(), "differentiable", "declared not differentiable, but inputs that "
                                              "require grad were accepted"),
    (RefusesGradWithoutReason(), "differentiable", "the refusal does not give its reason"),
    (ClaimsAsymmetric(), "symmetry", "declared asymmetric, but m(X, Y) = m(Y, X)"),
    (ClaimsInvertibleLinear(), "invariance:invertible_linear", "under a invertible_linear map"),
    (ForgetsAnAxis(), "permutation", "permute(prepare(Y), perm)) by index"),
    (NarrowBounds(), "bounds", "outside the declared (0.99, 1.0)"),
    (NarrowBounds(), "identity", None),
    (WrongBlock(), "batched_pairs", "pair_block differs from a loop of pair"),
    (ClaimsStreaming(), "streaming", "from streamed moments 0.5"),
    (WrongResampling(), "resampling", "pair_resampled on distinct stimuli"),
    (SilentOnBadInput(), "errors", "no error; expected ValueError"),
    (UnclearError(), "errors", "mismatched stimuli: the ValueError does not say"),
    (NoReferences(), "metadata", "references: must be non-empty strings"),
])
def test_each_broken_promise_is_named(measure, promise, says):
    with pytest.raises(AssertionError) as info:
        check_measure(measure)
    message = str(info.value)
    if says is None:  # the promise holds; the measure breaks others
        assert f"- {promise}:" not in message
    else:
        assert f"- {promise}:" in message and says in message, message


def test_every_broken_promise_is_listed_not_only_the_first():
    @dataclass(frozen=True)
    class TwiceWrong(NarrowBounds):
        """Bounds too narrow and a wrong symmetry.

        References
        ----------
        A toy.
        """

        @property
        def symmetric(self):
            return False

    with pytest.raises(AssertionError, match=r"breaks 2 promise\(s\)") as info:
        check_measure(TwiceWrong())
    assert "- bounds:" in str(info.value) and "- symmetry:" in str(info.value)


def test_float32_refusals_must_give_their_reason():
    check_measure(repalign.get("cca"))  # refuses float32 with the reason: passes

    @dataclass(frozen=True)
    class QuietRefusal(CosineOfMeans):
        capabilities = Capabilities(permutation=True, float32=False,
                                    float32_refusal="single precision loses the norms")

        def __post_init__(self):
            if self.dtype == "float32":
                raise ValueError("no")

    with pytest.raises(AssertionError, match="float32: .*the refusal does not give its reason"):
        check_measure(QuietRefusal())


def test_capabilities_need_the_reason_of_a_float32_refusal():
    with pytest.raises(ValueError, match="give float32_refusal"):
        Capabilities(float32=False)
    with pytest.raises(ValueError, match="give float32_refusal"):
        Capabilities(float32_refusal="why")
    assert Capabilities(held_out=True).declared()["held_out"] is True


def test_check_measure_wants_a_measure():
    with pytest.raises(TypeError, match="measure must be a Measure instance.*got str"):
        check_measure("cka")
    with pytest.raises(TypeError, match="got ABCMeta"):
        check_measure(CKA)
    assert np.isfinite(CosineOfMeans()(*np.random.default_rng(0).standard_normal((2, 10, 3))))
