"""The Measure contract: ``prepare`` once per representation, ``pair`` per pair.

A grid of L representations then costs L preparations plus L(L-1)/2 cheap
pairings instead of L(L-1)/2 full computations (the split of netrep's
``partial_fit``/``finalize_fit``, made mandatory).
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

import array_api_compat
import numpy as np

from .._array_api import namespace_and_device, to_numpy
from .._memory import check_square_memory
from .._validation import (
    Interval,
    Options,
    check_indices,
    check_magnitude,
    check_pair,
    check_representation,
    check_variation,
    rescaled,
)
from ._grad import requires_grad
from ._rdm import resample_condensed

__all__ = ["Capabilities", "Measure", "Prepared", "INVARIANCES", "BLOCK_MEMORY", "DTYPE"]

#: The constraint of the ``dtype`` parameter of the measures that accept float32.
DTYPE = Options(None, "float32", "float64")

#: Default bytes the temporaries of one :meth:`Measure.pair_block` may take (1 GiB).
BLOCK_MEMORY = 2**30
_MEMORY = Interval(1, None, integer=True)

#: The invariance names a measure may declare, each checked by the contract tests.
#: ``orthogonal``: Y -> Y Q for an orthogonal Q; ``isotropic_scale``: Y -> c Y, c > 0;
#: ``translation``: Y -> Y + 1 b^T; ``permutation``: Y -> Y P for a permutation P
#: of the features; ``invertible_linear``: Y -> Y A for any invertible A.
INVARIANCES = ("orthogonal", "isotropic_scale", "translation", "permutation",
               "invertible_linear")


@dataclass(frozen=True)
class Capabilities:
    """What a measure can do beyond ``prepare`` and ``pair``, declared in one place.

    Every measure has a :attr:`Measure.capabilities` (a class attribute, or a
    property where it depends on the parameters); callers read it instead of
    trying a method and catching an error. Each capability has one generic
    fallback in :class:`Measure`, used where the measure does not declare it.

    Attributes
    ----------
    permutation : bool, default=False
        :meth:`Measure.permute` reorders a prepared state's stimuli by index
        operations on its arrays (declared through ``_stimulus_axes`` or an
        override of ``_permute``), equal to preparing ``X[perm]``. Fallback:
        prepare ``X[perm]`` (``ridge`` and ``pls``, whose folds depend on the
        order of the stimuli).
    resampling : bool, default=False
        :meth:`Measure.pair_resampled` computes the value on a bootstrap
        resample from the prepared states, by a rule of its own for duplicated
        stimuli (RDM measures leave out the pairs of a stimulus with its copy).
        Fallback: prepare ``X[idx]`` and ``Y[idx]``.
    batched_pairs : bool, default=False
        :meth:`Measure.pair_block` computes a block of pairs as a few matrix
        products of the stacked states, faster than a loop over
        :meth:`Measure.pair` (the fallback); the grid gives it larger tiles.
    float32 : bool, default=True
        ``dtype="float32"`` is honoured: the computation runs in single
        precision within the tolerance the measure documents. Fallback when
        False: ``dtype="float32"`` is refused with :attr:`float32_refusal`.
    float32_refusal : str, default=""
        Why single precision is refused (required when ``float32`` is False).
    streaming : bool, default=False
        :meth:`Measure.from_moments` computes the value from streamed column
        sums and feature products (:class:`repalign.CrossMoments`), so any
        number of stimuli fits in memory. Fallback: the measure needs every
        stimulus at once.
    held_out : bool, default=False
        :meth:`Measure.held_out` learns the measure's alignment or map on
        training stimuli and evaluates it on held-out ones
        (:func:`repalign.cross_validate`). Fallback: refused, as nothing is
        learned that could be held out.
    differentiable : bool, default=False
        Gradients flow through the value: given torch tensors that require
        grad (with grad mode on), :meth:`Measure.__call__` and
        :meth:`Measure.pair` of states prepared from them return a 0-d tensor
        on the inputs' device with the autograd graph intact, equal to the
        float value. Fallback when False: such inputs are refused (a
        ``ValueError`` naming the measure and :attr:`differentiable_refusal`),
        never silently detached. Inputs that do not require grad give a
        Python float either way.
    differentiable_refusal : str, default=""
        Why gradients are refused (only when ``differentiable`` is False; a
        generic reason is given when empty).
    """

    permutation: bool = False
    resampling: bool = False
    batched_pairs: bool = False
    float32: bool = True
    float32_refusal: str = ""
    streaming: bool = False
    held_out: bool = False
    differentiable: bool = False
    differentiable_refusal: str = ""

    def __post_init__(self) -> None:
        if self.float32 == bool(self.float32_refusal):
            raise ValueError("Capabilities: give float32_refusal (the reason) exactly when "
                             f"float32 is False; got float32={self.float32}, "
                             f"float32_refusal={self.float32_refusal!r}")
        if self.differentiable and self.differentiable_refusal:
            raise ValueError("Capabilities: a differentiable measure refuses no gradient; "
                             "give differentiable_refusal only when differentiable is False")

    def declared(self) -> dict:
        """The capabilities as a dict of name -> bool (the refusals' reasons left out)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if not f.name.endswith("_refusal")}

    @property
    def gradient_refusal(self) -> str:
        """Why inputs that require grad are refused (empty when ``differentiable``)."""
        if self.differentiable:
            return ""
        return self.differentiable_refusal or (
            "it does not declare capabilities.differentiable (no gradient through its "
            "value is implemented)")


@dataclass(frozen=True, eq=False)
class Prepared:
    """Everything a measure needs from one representation, computed once.

    Attributes
    ----------
    measure : str
        Name of the measure that prepared it.
    params : tuple of (str, object)
        That measure's parameters; ``pair`` refuses states prepared with others.
    n_stimuli, n_features : int
        Shape of the representation.
    dtype, device : object
        Floating dtype and device of the arrays in ``data``.
    data : mapping
        The measure-specific arrays (centred features, Gram matrix, ranked RDM,
        orthonormal basis, ...), on the input's library and device.
    """

    measure: str
    params: tuple
    n_stimuli: int
    n_features: int
    dtype: Any
    device: Any
    data: Mapping[str, Any]

    def arrays(self) -> list:
        """The arrays held in ``data`` (to find their namespace)."""
        return [v for v in self.data.values() if array_api_compat.is_array_api_obj(v)]


@dataclass(frozen=True)
class Measure(ABC):
    """Base class of every measure.

    Subclasses are frozen dataclasses whose fields are the measure's
    parameters, with paper-faithful defaults, validated against the
    declarative ``_constraints`` table. They implement ``_prepare`` (per
    representation) and ``_pair`` (per pair), and declare what else they can
    do in :attr:`capabilities`; everything else (validation, dtype and device
    handling, the generic fallback of each capability, the Python float
    return) lives here.

    Parameters
    ----------
    dtype : {None, "float32", "float64"}, default=None
        Precision of the computation (keyword-only, every measure): None keeps
        the input's; ``"float32"`` or ``"float64"`` casts each representation
        at ``prepare``. Measures whose :attr:`capabilities` refuse float32 say
        why when asked for it.

    Class attributes
    ----------------
    name : str
        Registry key.
    kind : {"similarity", "distance"}
        Similarities grow with alignment; distances are 0 for identical inputs.
    capabilities : Capabilities
        What the measure can do beyond ``prepare`` and ``pair`` (a property
        where it depends on the parameters).
    references : tuple of str
        The papers the definition and defaults follow.
    cost : str
        Asymptotic cost of ``prepare`` and ``pair`` (n stimuli, d features).
    min_stimuli : int
        The fewest stimuli the measure is defined for.
    _stimulus_axes : mapping or None
        Which arrays of ``Prepared.data`` are indexed by stimulus, and how: a
        tuple of axes (rows of features or of a basis: ``(0,)``; a Gram matrix:
        ``(0, 1)``) or ``"condensed"`` (an RDM over pairs of stimuli). Every
        other entry must not depend on the order of the stimuli (norms, singular
        values). :meth:`permute` reindexes exactly these; ``None`` (the default)
        declares no exact index-only permutation (unless ``_permute`` is overridden).
    _n_square : float
        How many n x n arrays of the input's dtype ``prepare`` holds at its peak
        (0 for measures whose memory does not grow as n^2). ``prepare`` refuses,
        with :class:`~repalign.exceptions.InsufficientMemoryError`, sizes that
        would not fit in the available memory; ``tests/test_memory.py`` checks
        the declared count against the measured peak. Override
        :meth:`_square_arrays` where it depends on the parameters or the shape.
    """

    dtype: str | None = field(default=None, kw_only=True)

    name: ClassVar[str]
    kind: ClassVar[str]
    references: ClassVar[tuple[str, ...]]
    capabilities: ClassVar[Capabilities] = Capabilities()
    cost: ClassVar[str] = ""
    min_stimuli: ClassVar[int] = 3
    _constraints: ClassVar[Mapping[str, Any]] = {}
    _stimulus_axes: ClassVar[Mapping[str, Any] | None] = None
    _n_square: ClassVar[float] = 0.0

    def __post_init__(self) -> None:
        constraints = {"dtype": DTYPE, **self._constraints}
        for f in dataclasses.fields(self):
            constraints[f.name].check(self.name, f.name, getattr(self, f.name))
        if self.dtype == "float32" and not self.capabilities.float32:
            raise ValueError(
                f"{self.name}: dtype='float32' is not supported; {self.name} computes in the "
                f"input's precision (float64 by default) because "
                f"{self.capabilities.float32_refusal}"
            )

    # ------------------------------------------------------------------ metadata
    @property
    def params(self) -> dict:
        """The measure's parameters as a dict.

        ``dtype`` is listed only when set: its default (None, the input's own
        precision) leaves every stored configuration as it was without it.
        """
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if not (f.name == "dtype" and getattr(self, f.name) is None)}

    @property
    def symmetric(self) -> bool:
        """Whether ``pair(a, b) == pair(b, a)``."""
        return True

    @property
    def invariances(self) -> tuple[str, ...]:
        """The transformations of one input that leave the value unchanged."""
        return ()

    @property
    def bounds(self) -> tuple[float, float]:
        """The range of values the measure can take."""
        return (0.0, 1.0)

    @property
    def identity(self) -> float | None:
        """The value of the measure between a representation and itself.

        1 for similarities and 0 for distances by default; None where it
        depends on the representation (e.g. ``ensd``, whose value on
        ``(X, X)`` is the participation ratio of ``X``).
        """
        return 1.0 if self.kind == "similarity" else 0.0

    # ------------------------------------------------------------------ contract
    def prepare(self, X) -> Prepared:
        """Compute everything pair-independent for one representation.

        Parameters
        ----------
        X : array of shape (n_stimuli, n_features)
            One representation: rows are stimuli, columns are features.

        Returns
        -------
        Prepared
            A frozen, picklable state for :meth:`pair`.
        """
        return self._prepared(check_representation(X, "X", min_stimuli=self.min_stimuli,
                                                   needed_by=self._who()))

    def pair(self, a: Prepared, b: Prepared) -> float:
        """The value of the measure between two prepared representations.

        Parameters
        ----------
        a, b : Prepared
            States returned by :meth:`prepare` of this measure (same parameters)
            for representations of the same stimuli.

        Returns
        -------
        float or 0-d tensor
            A Python float; a 0-d torch tensor carrying the autograd graph when
            the states were prepared from tensors that require grad (measures
            whose ``capabilities.differentiable`` is True).
        """
        a, b, xp = self._pair_states("pair", a, b)
        return self._result("pair", self._pair(a, b, xp), a, b)

    def __call__(self, X, Y) -> float:
        """``pair(prepare(X), prepare(Y))``.

        Parameters
        ----------
        X : array of shape (n_stimuli, n_features_x)
        Y : array of shape (n_stimuli, n_features_y)
            Two representations of the same stimuli in the same order.

        Returns
        -------
        float or 0-d tensor
            A Python float, or (for torch inputs that require grad, with grad
            mode on) a 0-d tensor on their device with the autograd graph
            intact, equal to the float value; measures without
            ``capabilities.differentiable`` refuse such inputs.
        """
        X, Y = check_pair(X, Y, min_stimuli=self.min_stimuli, needed_by=self._who())
        return self.pair(self._prepared(X), self._prepared(Y, "Y"))

    # ------------------------------------------------------------------ blocks of pairs
    def pair_block(self, states_a, states_b, mask=None, *,
                   memory: int = BLOCK_MEMORY) -> np.ndarray:
        """The values of every pair of one block of prepared states against another.

        ``out[i, j] = pair(states_a[i], states_b[j])`` up to rounding (1e-12).
        Measures whose :attr:`capabilities` declare ``batched_pairs`` compute the block as matrix
        products of the stacked states (a Gram-based similarity of L states
        is then an L x L product of their vectorised Grams); every other
        measure loops over :meth:`pair`.

        Parameters
        ----------
        states_a, states_b : sequence of Prepared
            States returned by :meth:`prepare` of this measure (same
            parameters) for representations of the same stimuli. Passing one
            list as both (``states_b is states_a``) lets a symmetric measure
            compute one triangle of products.
        mask : bool array of shape (len(states_a), len(states_b)), optional
            The pairs wanted; the others are NaN (a loop skips them; a block
            of products may compute them anyway). Default: every pair.
        memory : int, default=BLOCK_MEMORY (1 GiB)
            Bytes the temporaries of one block may take (stacked vectors,
            cross products); larger blocks are computed in chunks of stimuli
            (or of RDM entries) whose products are summed.

        Returns
        -------
        numpy.ndarray of float64, shape (len(states_a), len(states_b))

        Raises
        ------
        TypeError
            If a state is not a :class:`Prepared` or ``mask`` is not a boolean array.
        ValueError
            If a state was prepared by another measure or other parameters,
            the states differ in stimulus count, a list is empty, ``mask`` has
            the wrong shape, ``memory`` is not a positive integer, or the measure
            is undefined for a pair.

        Notes
        -----
        The batched paths cost one matrix product of the stacked states instead
        of ``len(states_a) * len(states_b)`` small ones; a loop over
        :meth:`pair` of the same block calls BLAS with one vector (or one small
        matrix) at a time. Resampling (:meth:`permute`, :meth:`pair_resampled`)
        stays per pair.

        Examples
        --------
        >>> import numpy as np, repalign
        >>> rng = np.random.default_rng(0)
        >>> cka = repalign.get("cka")
        >>> states = [cka.prepare(rng.standard_normal((40, d))) for d in (3, 5, 8)]
        >>> block = cka.pair_block(states, states)
        >>> bool(abs(block[0, 2] - cka.pair(states[0], states[2])) < 1e-12)
        True
        """
        same = states_b is states_a
        states_a = self._block_states("states_a", states_a)
        states_b = states_a if same else self._block_states("states_b", states_b)
        shape = (len(states_a), len(states_b))
        if mask is None:
            mask = np.ones(shape, dtype=bool)
        elif not (isinstance(mask, np.ndarray) and mask.dtype == bool):
            raise TypeError(f"{self.name}.pair_block: mask must be a boolean NumPy array; "
                            f"got {type(mask).__name__}")
        elif mask.shape != shape:
            raise ValueError(f"{self.name}.pair_block: mask must have shape {shape} (states_a "
                             f"x states_b); got {mask.shape}")
        _MEMORY.check(f"{self.name}.pair_block", "memory", memory)
        if requires_grad(*[x for s in states_a + states_b for x in s.arrays()]):
            raise ValueError(f"{self.name}.pair_block: the states carry an autograd graph, "
                             "but a block of pairs is a NumPy array, which holds no "
                             "gradient; call pair for each pair")
        n = {s.n_stimuli for s in states_a + states_b}
        if len(n) > 1:
            raise ValueError(f"{self.name}.pair_block: the states hold {sorted(n)} stimuli; "
                             "rows must be the same stimuli in the same order in all")
        out = None
        # Mixed dtypes loop: each pair is computed in the wider dtype of its two states.
        if (self.capabilities.batched_pairs
                and len({s.dtype for s in states_a + states_b}) == 1):
            xp, _ = namespace_and_device(*[x for s in states_a + states_b for x in s.arrays()])
            out = self._pair_block(states_a, states_b, same, mask, xp, int(memory))
        if out is None:
            out = np.full(shape, np.nan)
            for i, j in zip(*np.nonzero(mask)):
                out[i, j] = self.pair(states_a[i], states_b[j])
        else:
            out = np.array(to_numpy(out), dtype=np.float64)
            out[~mask] = np.nan
        return out

    # ------------------------------------------------------------------ resampling
    def permute(self, state: Prepared, perm, X=None) -> Prepared:
        """The prepared state of the same representation with its stimuli reordered.

        ``permute(prepare(X), perm)`` equals ``prepare(X[perm])`` up to rounding.
        Measures whose :attr:`capabilities` declare ``permutation`` compute it by
        index operations on the stored arrays (rows of centred features or of a
        basis, rows and columns of a Gram matrix, entries of a condensed RDM,
        relabelled neighbour lists) instead of a new preparation, so a
        permutation test costs about one :meth:`pair` per permutation. The
        others (``ridge``, ``pls``: their cross-validation folds depend on the
        order of the stimuli) prepare ``X[perm]``, which must then be given.

        Parameters
        ----------
        state : Prepared
            A state returned by :meth:`prepare` of this measure.
        perm : array of int, shape (n_stimuli,)
            A permutation of ``0..n_stimuli-1``: stimulus ``i`` of the result is
            stimulus ``perm[i]`` of ``state``.
        X : array of shape (n_stimuli, n_features), optional
            The representation behind ``state``; needed only by measures
            without ``capabilities.permutation``.

        Returns
        -------
        Prepared

        Raises
        ------
        ValueError
            If the measure has no index-only permutation and ``X`` is None, or
            ``X`` does not match the state.

        Examples
        --------
        >>> import numpy as np, repalign
        >>> rng = np.random.default_rng(0)
        >>> X, Y = rng.standard_normal((30, 4)), rng.standard_normal((30, 6))
        >>> cka, perm = repalign.get("cka"), rng.permutation(30)
        >>> a, b = cka.prepare(X), cka.prepare(Y)
        >>> bool(abs(cka.pair(a, cka.permute(b, perm)) - cka(X, Y[perm])) < 1e-12)
        True
        """
        self._check_state("permute", "state", state)
        perm = check_indices(perm, state.n_stimuli, name="perm", permutation=True)
        if not self.capabilities.permutation:
            return self._prepared_rows(
                "permute", state, X, perm, "X",
                "has no index-only permutation of a prepared state (capabilities.permutation "
                "is False: its preparation depends on the order of the stimuli)")
        xp, device = namespace_and_device(*state.arrays())
        data = self._permute(dict(state.data), xp.asarray(perm, device=device), xp)
        return dataclasses.replace(state, data=data)

    def pair_resampled(self, a: Prepared, b: Prepared, idx, X=None, Y=None) -> float:
        """The value on a resample of the stimuli (a bootstrap sample).

        Measures whose :attr:`capabilities` declare ``resampling`` compute it
        from their prepared states by a rule of their own for duplicated
        stimuli: those built on the dissimilarities between pairs of stimuli
        (``rsa``, ``rsm_norm_difference``) leave out every pair of a stimulus
        with its own copy, whose dissimilarity is 0 by construction in both
        representations and would make two unrelated RDMs agree (rsatoolbox's
        bootstrap does the same; Schuett et al. 2023). The others prepare
        ``X[idx]`` and ``Y[idx]``, which must then be given, and treat a copy
        as one more stimulus.

        Parameters
        ----------
        a, b : Prepared
            States returned by :meth:`prepare` of this measure for the same stimuli.
        idx : array of int, shape (n_resampled,)
            Stimulus ``s`` of the resample is stimulus ``idx[s]``; indices may repeat.
        X, Y : arrays of shape (n_stimuli, n_features), optional
            The representations behind ``a`` and ``b``; needed only by measures
            without ``capabilities.resampling``.

        Returns
        -------
        float

        Raises
        ------
        ValueError
            If the measure is undefined on the resample (e.g. all of it one
            stimulus), or it needs ``X`` and ``Y`` and they are missing or do
            not match the states.

        References
        ----------
        Schuett, Kipnis, Diedrichsen & Kriegeskorte (2023). Statistical inference
        on representational geometries. eLife 12:e82566.
        """
        a, b, xp = self._pair_states("pair_resampled", a, b)
        idx = check_indices(idx, a.n_stimuli, name="idx")
        if not self.capabilities.resampling:
            why = ("computes no value on a resample from prepared states (capabilities."
                   "resampling is False): it prepares X[idx] and Y[idx]")
            return self.pair(self._prepared_rows("pair_resampled", a, X, idx, "X", why),
                             self._prepared_rows("pair_resampled", b, Y, idx, "Y", why))
        return self._result("pair_resampled",
                            self._pair_resampled(a, b, xp.asarray(idx, device=a.device), xp),
                            a, b)

    def _prepared_rows(self, method: str, state: Prepared, X, rows, name: str,
                       why: str) -> Prepared:
        """The state of ``X[rows]``, the generic fallback of index-only state operations."""
        if X is None:
            raise ValueError(f"{self.name}.{method}: {self.name} {why}; pass the "
                             f"representation {name} behind the state")
        X = check_representation(X, name, min_stimuli=self.min_stimuli, needed_by=self._who())
        if tuple(X.shape) != (state.n_stimuli, state.n_features):
            raise ValueError(
                f"{self.name}.{method}: {name} has shape {tuple(X.shape)} but its state was "
                f"prepared from ({state.n_stimuli}, {state.n_features}); pass the "
                f"representation behind the state"
            )
        xp, device = namespace_and_device(X)
        return self._prepared(xp.take(X, xp.asarray(rows, device=device), axis=0), name)

    # ------------------------------------------------------------------ held-out use
    def held_out(self, X_train, Y_train, X_test, Y_test) -> float:
        """The measure learned on training stimuli and evaluated on held-out ones.

        Shape metrics learn the centring, whitening and rotation on the training
        stimuli; predictivity measures the linear map from X to Y (see each
        measure). Declared by ``capabilities.held_out``; used by
        :func:`repalign.cross_validate`.

        Parameters
        ----------
        X_train, Y_train : arrays of shape (m, d_x), (m, d_y)
            Training stimuli.
        X_test, Y_test : arrays of shape (m_test, d_x), (m_test, d_y)
            Held-out stimuli.

        Returns
        -------
        float

        Raises
        ------
        ValueError
            If the measure learns nothing from training stimuli (it has no
            held-out form), or the inputs are invalid.
        """
        if not self.capabilities.held_out:
            raise ValueError(
                f"{self.name} learns nothing from training stimuli, so it has no held-out "
                "form (capabilities.held_out is False); compute it on the held-out "
                "stimuli directly, or use a shape metric or a predictivity measure"
            )
        if requires_grad(X_train, Y_train, X_test, Y_test):
            raise ValueError(
                f"{self.name}.held_out: the inputs require grad, but a held-out value is a "
                "Python float (no gradient is taken through a learned alignment or map); "
                "detach them, or train on the measure itself (pair or __call__)"
            )
        return float(self._held_out(X_train, Y_train, X_test, Y_test))

    # ------------------------------------------------------------------ streaming
    def from_moments(self, moments) -> float:
        """The value from streamed moments of the two representations.

        Parameters
        ----------
        moments : CrossMoments
            Column sums and feature products accumulated over every stimulus
            (:class:`repalign.CrossMoments`): ``n_stimuli``, ``covariances()``
            and, for the unbiased CKA, ``centred_row_norm_product(i, j)``.

        Returns
        -------
        float
            Equal to the in-memory value (see :func:`repalign.streaming_measure`).

        Raises
        ------
        ValueError
            If the measure needs all stimuli at once (``capabilities.streaming``
            is False), too few stimuli were added, or the value is undefined.
        """
        if not self.capabilities.streaming:
            raise ValueError(
                f"{self.name} with {self.params} cannot be streamed (computed from moments: "
                "capabilities.streaming is False): it needs all stimuli at once; subsample "
                "the stimuli, or use a streamable measure (repalign.streaming_measure)"
            )
        if moments.n_stimuli < self.min_stimuli:
            raise ValueError(f"{self.name} needs at least {self.min_stimuli} stimuli; "
                             f"{moments.n_stimuli} were added")
        return float(self._from_moments(moments))

    # ------------------------------------------------------------------ internals
    def _who(self) -> str:
        """The measure and the parameters it was given other than the defaults, for errors."""
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        params = ", ".join(f"{k}={v!r}" for k, v in self.params.items() if v != defaults[k])
        return f"{self.name}({params})" if params else self.name

    def _param_key(self) -> tuple:
        return tuple(sorted(self.params.items()))

    def _gradient_refusal(self, name: str) -> ValueError:
        """The error for an input ``name`` that requires grad, given to a measure without
        ``capabilities.differentiable``."""
        return ValueError(
            f"{self._who()}: {name} requires grad, but {self.name} takes no gradient: "
            f"{self.capabilities.gradient_refusal}. Detach the inputs for a float value, "
            "or use a measure whose capabilities.differentiable is True"
        )

    def _result(self, method: str, value, *states: Prepared):
        """The value as a Python float, or as a 0-d tensor on the autograd graph of the
        states (prepared from tensors that require grad)."""
        if not requires_grad(*[x for s in states for x in s.arrays()]):
            return float(value)
        if not self.capabilities.differentiable:
            raise self._gradient_refusal("a state")
        if not (array_api_compat.is_torch_array(value) and value.requires_grad):
            raise RuntimeError(
                f"{self.name}.{method}: the states carry an autograd graph but the value "
                "lost it (a computation left the graph); this is a bug in the measure"
            )
        return value.reshape(())

    def _check_state(self, method: str, label: str, state) -> None:
        if not isinstance(state, Prepared):
            raise TypeError(
                f"{self.name}.{method}: {label} must be a Prepared returned by "
                f"{self.name}.prepare; got {type(state).__name__}"
            )
        if state.measure != self.name or state.params != self._param_key():
            raise ValueError(
                f"{self.name}.{method}: {label} was prepared by {state.measure} with "
                f"{dict(state.params)}, not by {self.name} with {self.params}"
            )

    def _pair_states(self, method: str, a: Prepared, b: Prepared):
        """Checked states of one measure, stimulus count, library and dtype, with their xp."""
        self._check_state(method, "a", a)
        self._check_state(method, "b", b)
        if a.n_stimuli != b.n_stimuli:
            raise ValueError(
                f"{self.name}.{method}: a has {a.n_stimuli} stimuli but b has "
                f"{b.n_stimuli}; rows must be the same stimuli in the same order"
            )
        xp, _ = namespace_and_device(*a.arrays(), *b.arrays())
        if a.dtype != b.dtype:
            dtype = xp.result_type(a.dtype, b.dtype)
            a, b = _cast(a, dtype, xp), _cast(b, dtype, xp)
        return a, b, xp

    def _prepared(self, X, name: str = "X") -> Prepared:
        """The state of a validated ``X`` (``name``: its argument name in errors).

        Before the measure's own ``_prepare``: the cast to the ``dtype``
        parameter; the refusal of a representation that does not vary beyond
        rounding (:func:`~repalign._validation.check_variation`); for a
        scale-invariant measure an exact rescaling by a power of two (so 1e150
        or 1e-150 neither overflow nor underflow), for the others the refusal of
        values whose squares would; and the memory check of n x n states.
        """
        if requires_grad(X) and not self.capabilities.differentiable:
            raise self._gradient_refusal(name)
        xp, device = namespace_and_device(X)
        X = self._cast_input(X, xp)
        # The checks read values only: off the autograd graph (no scalar is taken
        # from a tensor that requires grad). On the graph, X is not rescaled (a
        # power of two changes no digit) and its magnitude is checked instead.
        on_graph = requires_grad(X)
        values = X.detach() if on_graph else X
        check_variation(values, name, xp)
        if "isotropic_scale" in self.invariances and not on_graph:
            X = rescaled(X, xp)
        else:
            check_magnitude(values, name, xp)
        n_square = self._square_arrays(*X.shape)
        if n_square:
            check_square_memory(self.name, X.shape[0], n_square,
                                getattr(X.dtype, "itemsize", 8), like=X)
        try:
            data = self._prepare(X, xp)
        except ValueError as err:
            # ``_prepare`` names the representation it prepares "X"; as the
            # second argument of a call it is "Y".
            message = str(err)
            if name != "X" and message.startswith("X"):
                raise ValueError(name + message[1:]) from None
            raise
        return Prepared(
            measure=self.name,
            params=self._param_key(),
            n_stimuli=int(X.shape[0]),
            n_features=int(X.shape[1]),
            dtype=X.dtype,
            device=device,
            data=data,
        )

    def _cast_input(self, X, xp):
        """``X`` in the precision of the measure's ``dtype`` parameter, if it has one.

        ``dtype=None`` keeps the input's own precision;
        ``"float32"`` or ``"float64"`` casts it before anything is prepared.
        """
        dtype = self.dtype
        if dtype is None or X.dtype == getattr(xp, dtype):
            return X
        return xp.astype(X, getattr(xp, dtype))

    def _square_arrays(self, n: int, d: int) -> float:
        """How many n x n arrays ``prepare`` holds at its peak for an n x d input."""
        return self._n_square

    @abstractmethod
    def _prepare(self, X, xp) -> dict:
        """Per-representation state of a validated ``X``.

        Errors about the representation start with "X" (the base class renames
        it when the representation is the second argument of a call).
        """

    @abstractmethod
    def _pair(self, a: Prepared, b: Prepared, xp):
        """The value (a 0-d array or float) from two prepared states."""

    def _permute(self, data: dict, perm, xp) -> dict:
        """``data`` of the state of ``X[perm]`` (``perm`` on the state's device).

        Reindexes the arrays named in ``_stimulus_axes`` along their stimulus
        axes and keeps the rest (called only where ``capabilities.permutation``).
        """
        for key, axes in self._stimulus_axes.items():
            if key not in data:
                continue
            if axes == "condensed":
                data[key] = resample_condensed(data[key], perm, xp)
            else:
                for axis in axes:
                    data[key] = xp.take(data[key], perm, axis=axis)
        return data

    def _pair_resampled(self, a: Prepared, b: Prepared, idx, xp):
        """The value on the resample ``idx`` from the states (``capabilities.resampling``)."""
        raise NotImplementedError(f"{self.name} declares resampling but has no _pair_resampled")

    def _held_out(self, X_train, Y_train, X_test, Y_test):
        """The held-out value (``capabilities.held_out``)."""
        raise NotImplementedError(f"{self.name} declares held_out but has no _held_out")

    def _from_moments(self, moments):
        """The value from streamed moments (``capabilities.streaming``)."""
        raise NotImplementedError(f"{self.name} declares streaming but has no _from_moments")

    def _block_states(self, label: str, states) -> list:
        if isinstance(states, Prepared) or not isinstance(states, (list, tuple)):
            raise TypeError(f"{self.name}.pair_block: {label} must be a list of Prepared "
                            f"states; got {type(states).__name__}")
        if not states:
            raise ValueError(f"{self.name}.pair_block: {label} must hold at least one "
                             "state; got an empty list")
        for k, state in enumerate(states):
            self._check_state("pair_block", f"{label}[{k}]", state)
        return list(states)

    def _pair_block(self, states_a: list, states_b: list, same: bool, mask, xp, memory: int):
        """The block of values as one array (``same``: ``states_b is states_a``), or
        None to loop over :meth:`pair`. Called only where ``capabilities.batched_pairs``,
        with checked states of one dtype; entries outside ``mask`` may hold
        anything (they are set to NaN)."""
        return None


def _cast(state: Prepared, dtype, xp) -> Prepared:
    """``state`` with its floating arrays in ``dtype`` (index arrays are kept)."""
    data = {k: xp.astype(v, dtype)
            if array_api_compat.is_array_api_obj(v) and xp.isdtype(v.dtype, "real floating")
            else v
            for k, v in state.data.items()}
    return dataclasses.replace(state, data=data, dtype=dtype)
