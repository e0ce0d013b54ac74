"""Result objects: a comparison is a value with its uncertainty, not a bare number."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .measures import get

__all__ = ["PairResult", "GridResult"]

_PHIPSON_SMYTH = ("Phipson & Smyth (2010). Permutation p-values should never be zero: "
                  "calculating exact p-values when permutations are randomly drawn. "
                  "Stat. Appl. Genet. Mol. Biol. 9(1), Article 39.")
_EFRON_TIBSHIRANI = ("Efron & Tibshirani (1993). An Introduction to the Bootstrap. "
                     "Chapman & Hall.")

_SCALARS = ("value", "ci_low", "ci_high", "p_value", "null_mean", "null_std", "calibrated",
            "measure", "kind", "n_stimuli", "n_permutations", "n_bootstrap", "ci_level")


@dataclass(frozen=True)
class PairResult:
    """One comparison of two representations, with its permutation test and interval.

    Returned by :func:`repalign.compare`. Quantities that were not computed
    (``n_permutations=0`` or ``n_bootstrap=0``) are None.

    Attributes
    ----------
    value : float
        The measure between X and Y.
    ci_low, ci_high : float or None
        Percentile bootstrap interval at level ``ci_level`` (NaN if the measure
        was undefined on every resample).
    p_value : float or None
        One-sided permutation p-value in the direction of "more aligned":
        ``(1 + #{null >= value}) / (1 + n_permutations)`` for a similarity,
        ``<=`` for a distance.
    null_mean, null_std : float or None
        Mean and standard deviation (ddof=1) of the permutation values: the
        chance level of the measure for these two representations.
    calibrated : float or None
        ``(value - null_mean) / (1 - null_mean)`` for a similarity whose largest
        value is 1: 0 at chance, 1 for perfect alignment (None for distances and
        unbounded similarities).
    measure : str
        The measure's registry name.
    params : dict
        All its parameters (defaults included).
    kind : {"similarity", "distance"}
    n_stimuli, n_permutations, n_bootstrap : int
    ci_level : float
    null_distribution, bootstrap_distribution : ndarray or None
        The permutation values and the bootstrap values (read-only; NaN where
        the measure was undefined on a resample).

    Examples
    --------
    >>> import numpy as np, repalign
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((40, 5))
    >>> result = repalign.compare(X, X @ rng.standard_normal((5, 5)), n_permutations=99,
    ...                           n_bootstrap=99, seed=0)
    >>> result.p_value
    0.01
    >>> sorted(result.to_dict())[:4]
    ['calibrated', 'ci_high', 'ci_level', 'ci_low']
    """

    value: float
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    null_mean: float | None
    null_std: float | None
    calibrated: float | None
    measure: str
    params: dict
    kind: str
    n_stimuli: int
    n_permutations: int
    n_bootstrap: int
    ci_level: float
    null_distribution: np.ndarray | None = field(default=None, repr=False, compare=False)
    bootstrap_distribution: np.ndarray | None = field(default=None, repr=False,
                                                      compare=False)

    def __post_init__(self) -> None:
        for name in ("null_distribution", "bootstrap_distribution"):
            values = getattr(self, name)
            if values is not None:
                values = np.array(values, dtype=np.float64)
                values.setflags(write=False)
                object.__setattr__(self, name, values)

    def to_dict(self) -> dict[str, Any]:
        """The scalar fields and the parameters, e.g. for a DataFrame or a ResultStore row.

        The distributions are left out.
        """
        out = {name: getattr(self, name) for name in _SCALARS}
        out["params"] = dict(self.params)
        return out

    @property
    def citation(self) -> str:
        """References for the measure and for the statistics that were computed.

        One reference per line: the papers the measure follows, then
        Phipson & Smyth (2010) for the p-value and Efron & Tibshirani (1993) for
        the interval when they were computed.
        """
        refs = list(get(self.measure).references)
        if self.p_value is not None:
            refs.append(_PHIPSON_SMYTH)
        if self.ci_low is not None:
            refs.append(_EFRON_TIBSHIRANI)
        return "\n".join(refs)

    def __repr__(self) -> str:
        defaults = get(self.measure).params
        params = ", ".join(f"{k}={v!r}" for k, v in self.params.items() if v != defaults[k])
        name = f"{self.measure}({params})" if params else self.measure
        lines = [f"PairResult: {name}, a {self.kind}, {self.n_stimuli} stimuli"]
        value = f"  value       {self.value:.4g}"
        if self.ci_low is not None:
            value += (f"   {100 * self.ci_level:g}% CI [{self.ci_low:.4g}, {self.ci_high:.4g}]"
                      f" ({self.n_bootstrap} bootstrap resamples)")
        lines.append(value)
        if self.p_value is not None:
            direction = ">=" if self.kind == "similarity" else "<="
            lines.append(f"  p           {self.p_value:.4g}   (one-sided, null {direction} "
                         f"value, {self.n_permutations} permutations)")
            lines.append(f"  null        {self.null_mean:.4g} +- {self.null_std:.4g}")
        if self.calibrated is not None:
            lines.append(f"  calibrated  {self.calibrated:.4g}   "
                         "((value - null_mean) / (1 - null_mean))")
        return "\n".join(lines)


#: Columns of :meth:`GridResult.to_dataframe`; the statistics only when they were asked for.
_GRID_COLUMNS = ("a", "b", "measure", "params", "value")
_GRID_STATS = ("ci_low", "ci_high", "p_value")
_GRID_EXTRA = ("n_stimuli", "seconds", "hash_a", "hash_b")


@dataclass(frozen=True)
class GridResult:
    """The pairwise comparisons of a grid, returned by :func:`repalign.grid`.

    Attributes
    ----------
    representations : tuple of str
        The names of the grid's representations, in order.
    rows : tuple of dict
        One row per computed pair and measure, with the keys of a
        :class:`~repalign.ResultStore` row: ``a``, ``b``, ``hash_a``, ``hash_b``,
        ``measure``, ``params`` (dict), ``value``, ``ci_low``, ``ci_high``,
        ``p_value`` (None when not computed), ``n_stimuli``, ``seconds`` and
        ``library_version``. A symmetric measure has one row per unordered pair.
    statistics : bool
        Whether p-values and intervals were asked for.

    Examples
    --------
    >>> import numpy as np, repalign
    >>> X = np.random.default_rng(0).standard_normal((30, 4))
    >>> result = repalign.grid({"a": X, "b": X ** 3}, ["cka"])
    >>> result.to_dataframe()[["a", "b", "measure"]].values.tolist()
    [['a', 'a', 'cka'], ['a', 'b', 'cka'], ['b', 'b', 'cka']]
    >>> result.to_xarray("cka").shape
    (2, 2)
    """

    representations: tuple
    rows: tuple
    statistics: bool = False

    def to_dataframe(self):
        """A tidy :class:`pandas.DataFrame`, one row per pair and measure.

        Returns
        -------
        pandas.DataFrame
            Columns ``a``, ``b``, ``measure``, ``params`` (canonical JSON text,
            sorted keys), ``value``, then ``ci_low``, ``ci_high`` and ``p_value``
            when statistics were asked for, then ``n_stimuli``, ``seconds``,
            ``hash_a`` and ``hash_b``.
        """
        import pandas as pd

        from .store.results import canonical_params

        columns = _GRID_COLUMNS + (_GRID_STATS if self.statistics else ()) + _GRID_EXTRA
        records = [{c: canonical_params(row[c]) if c == "params" else row[c] for c in columns}
                   for row in self.rows]
        return pd.DataFrame.from_records(records, columns=list(columns))

    def to_xarray(self, measure: str, params: dict | None = None):
        """The representation x representation matrix of one measure.

        Parameters
        ----------
        measure : str
            A measure of the grid.
        params : dict, optional
            Its parameters (defaults filled in), needed when the grid ran it with
            several configurations.

        Returns
        -------
        xarray.DataArray of shape (n_representations, n_representations)
            Dimensions ``a`` and ``b``, both labelled with the representation
            names; entry ``[a, b]`` is the measure between ``a`` and ``b``,
            mirrored to ``[b, a]`` for a symmetric measure; NaN where no pair was
            computed. The attributes hold the measure, its kind and parameters.

        Raises
        ------
        ValueError
            If the grid has no row of ``measure`` (with ``params``), or ran it with
            several configurations and ``params`` is None.
        """
        import xarray as xr

        from .store.results import canonical_params

        configurations = {canonical_params(r["params"]) for r in self.rows
                          if r["measure"] == measure}
        if params is not None:
            wanted = canonical_params(get(measure, **params).params)
            configurations &= {wanted}
        if len(configurations) != 1:
            found = sorted({(r["measure"], canonical_params(r["params"])) for r in self.rows})
            problem = "no" if not configurations else "several configurations of"
            raise ValueError(
                f"to_xarray: the grid has {problem} measure={measure!r}"
                f"{'' if params is None else f' with params={params!r}'}; it holds {found}"
                + ("; pass params to choose one" if configurations else "")
            )
        (chosen,) = configurations
        rows = [r for r in self.rows
                if r["measure"] == measure and canonical_params(r["params"]) == chosen]
        m = get(measure, **rows[0]["params"])
        index = {name: k for k, name in enumerate(self.representations)}
        matrix = np.full((len(index), len(index)), np.nan)
        for r in rows:
            i, j = index[r["a"]], index[r["b"]]
            matrix[i, j] = r["value"]
            if m.symmetric:
                matrix[j, i] = r["value"]
        names = list(self.representations)
        return xr.DataArray(matrix, dims=("a", "b"), coords={"a": names, "b": names},
                            name=measure, attrs={"measure": measure, "kind": m.kind,
                                                 "params": chosen})
