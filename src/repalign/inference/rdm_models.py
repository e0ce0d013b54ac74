"""Model RDMs against multi-subject data: scores on the noise ceiling's scale, a
two-factor bootstrap over subjects and stimuli, and paired model comparisons.

A model is scored against each subject's RDM and the scores are averaged, as
the noise ceiling is computed (Nili et al. 2014; rsatoolbox's ``eval_fixed``):
a model RDM compared with the *group-mean* RDM is on another scale (the mean
of noisy RDMs is less noisy than any subject's) and can seem to reach a
ceiling it does not reach.

The uncertainty of such a score has two sources, the subjects and the stimuli,
both samples of larger populations. Bootstrapping both at once counts the
measurement noise twice; Schuett et al. (2023) combine the variances of three
bootstraps (subjects only, stimuli only, both) into

.. math::

    \\hat\\sigma^2 = 2 (\\hat\\sigma^2_S + \\hat\\sigma^2_C) - \\hat\\sigma^2_{SC},

kept between ``max(sigma2_S, sigma2_C)`` and ``sigma2_SC``. Stimulus resamples
leave out the pairs of a stimulus with its own copy (their dissimilarity is 0
by construction, not measured).

References
----------
Nili, Wingfield, Walther, Su, Marslen-Wilson & Kriegeskorte (2014). A toolbox
for representational similarity analysis. PLoS Comput. Biol. 10(4): e1003553.

Schuett, Kipnis, Diedrichsen & Kriegeskorte (2023). Statistical inference on
representational geometries. eLife 12:e82566.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from .._array_api import to_numpy
from .._validation import Interval, Options
from ..measures._rdm import COMPARATORS, check_rdm, compare_prepared, prepare_rdm_vector
from ..measures._rdm import resample_condensed as _resample
from .noise_ceiling import _check_rdm_stack, _pooling_vector

__all__ = ["RDMScore", "ModelComparison", "score_rdm", "compare_models",
           "two_factor_variance", "BOOTSTRAPS", "CORRECTIONS"]

#: Which factors a bootstrap resamples.
BOOTSTRAPS = ("both", "subjects", "stimuli")
#: Multiple-comparison corrections of the pairwise tests.
CORRECTIONS = ("fdr", "bonferroni", None)


@dataclass(frozen=True)
class RDMScore:
    """A model RDM scored against subject RDMs, on the scale of their noise ceiling.

    Attributes
    ----------
    model : str
    per_subject : tuple of float
        The comparison of the model RDM with each subject's RDM.
    mean : float
        Their mean: the score.
    sem : float
        Its standard error (from the bootstrap of :func:`compare_models`, or the
        spread over subjects, ``std(ddof=1) / sqrt(S)``, for :func:`score_rdm`).
    ci_low, ci_high : float
        The t-interval ``mean -+ t_{dof} sem`` at the comparison's level.
    ceiling : (float, float)
        The noise ceiling's lower and upper bound, computed the same way.
    normalized : float
        ``mean / ceiling[0]``: 1 for a model as good as the other subjects' mean
        RDM predicts a held-out subject.
    compare : str
        The RDM comparator.
    definition : str
        What the score is, in words.
    p_value : float or None
        One-sided permutation p-value of the mean score, the model RDM's stimuli
        permuted (None when no permutation was asked for).
    """

    model: str
    per_subject: tuple
    mean: float
    sem: float
    ci_low: float
    ci_high: float
    ceiling: tuple
    normalized: float
    compare: str
    definition: str
    p_value: float | None = None


def _stack(rdms) -> np.ndarray:
    """Subject RDMs as a host (S, m) array of condensed vectors."""
    return np.stack([np.asarray(to_numpy(v), dtype=np.float64) for v in _check_rdm_stack(rdms)])


def _model_vectors(models: Mapping, m: int) -> dict:
    if not isinstance(models, Mapping) or not models:
        raise TypeError("models must be a non-empty dict of name -> model RDM; got "
                        f"{type(models).__name__}")
    out = {}
    for name, rdm in models.items():
        if not isinstance(name, str):
            raise TypeError(f"models: names must be str; got {name!r}")
        v = np.asarray(to_numpy(check_rdm(rdm, f"models[{name!r}]")[0]), dtype=np.float64)
        if v.shape[0] != m:
            raise ValueError(f"models[{name!r}] is an RDM of {v.shape[0]} pairs but the "
                             f"subject RDMs have {m}; they must be over the same stimuli")
        out[name] = v
    return out


def _scores(models: dict, subjects: np.ndarray, compare: str, ids=None):
    """Per-subject model scores (S, M) and per-subject lower and upper ceilings (S,).

    ``ids`` names the subject behind each row (a bootstrap sample repeats some):
    a subject's lower bound compares it with the mean of the *other* subjects,
    without its own copies, as a stimulus resample leaves out the pairs of a
    stimulus with its copy.
    """
    S = subjects.shape[0]
    ids = np.arange(S) if ids is None else np.asarray(ids)
    prepared = [prepare_rdm_vector(v, compare, np, f"subject {s}") for s, v in
                enumerate(subjects)]
    pooled = np.stack([_pooling_vector(v, p, compare, np) for v, p in zip(subjects, prepared)])
    scores = np.empty((S, len(models)))
    for j, (name, v) in enumerate(models.items()):
        model = prepare_rdm_vector(v, compare, np, f"models[{name!r}]")
        scores[:, j] = [float(compare_prepared(model, p, compare, np)) for p in prepared]
    lower, upper = np.empty(S), np.empty(S)
    if len(np.unique(ids)) > 1:
        total = pooled.sum(axis=0)
        everyone = prepare_rdm_vector(total / S, compare, np, "the mean RDM")
        for s, p in enumerate(prepared):
            other = ids != ids[s]
            others = prepare_rdm_vector(pooled[other].mean(axis=0), compare, np,
                                        "the mean RDM of the other subjects")
            upper[s] = float(compare_prepared(p, everyone, compare, np))
            lower[s] = float(compare_prepared(p, others, compare, np))
    else:
        lower[:] = upper[:] = np.nan
    return scores, lower, upper


def two_factor_variance(both, subjects, stimuli):
    """The corrected variance of a two-factor bootstrap (Schuett et al. 2023).

    ``2 (v_subjects + v_stimuli) - v_both``, kept between
    ``max(v_subjects, v_stimuli)`` and ``v_both``: bootstrapping both factors
    at once counts the measurement noise twice, each alone once.

    Parameters
    ----------
    both, subjects, stimuli : float or ndarray
        The variances of the same quantity over the three bootstraps.

    Returns
    -------
    float or ndarray
    """
    both, subjects, stimuli = (np.asarray(v, dtype=float) for v in (both, subjects, stimuli))
    corrected = 2 * (subjects + stimuli) - both
    return np.minimum(np.maximum(corrected, np.maximum(subjects, stimuli)), both)


def score_rdm(model, subject_rdms, compare: str = "spearman", *, name: str = "model",
              ci: float = 0.95, n_permutations: int = 0, seed=None) -> RDMScore:
    """A model RDM's score against subject RDMs, on the scale of their noise ceiling.

    Parameters
    ----------
    model : array of shape (n, n) or (n(n-1)/2,)
        The model RDM.
    subject_rdms : array of shape (S, n, n) or (S, n(n-1)/2)
        One RDM per subject (at least 2), over the same stimuli in the same order.
    compare : {"spearman", "pearson", "kendall_tau_a", "rho_a", "cosine"}, default="spearman"
    name : str, default="model"
    ci : float in (0, 1), default=0.95
        Level of the t-interval over subjects.
    n_permutations : int, default=0
        Permutations of the model RDM's stimuli (rows and columns together)
        for a one-sided p-value of the mean score, ``(1 + #{null >= score}) /
        (1 + N)``; 0 skips the test.
    seed : None, int or numpy.random.Generator

    Returns
    -------
    RDMScore
        The mean over subjects of ``compare(model, subject RDM)`` with its
        spread over subjects (``sem``), and the noise ceiling
        (:func:`repalign.noise_ceiling`) computed the same way.

    Examples
    --------
    >>> import repalign
    >>> data = repalign.datasets.kriegeskorte92()
    >>> it = data.human_it.mean(axis=1)                  # 4 subjects, sessions averaged
    >>> score = repalign.score_rdm(data.monkey_it, it)
    >>> round(score.mean, 3), [round(c, 3) for c in score.ceiling]
    (0.296, [0.372, 0.666])
    """
    Options(*COMPARATORS).check("score_rdm", "compare", compare)
    Interval(0, 1, closed="neither").check("score_rdm", "ci", ci)
    Interval(0, None, integer=True).check("score_rdm", "n_permutations", n_permutations)
    subjects = _stack(subject_rdms)
    models = _model_vectors({name: model}, subjects.shape[1])
    scores, lower, upper = _scores(models, subjects, compare)
    S = scores.shape[0]
    sem = float(scores[:, 0].std(ddof=1) / math.sqrt(S))
    result = _result(name, scores[:, 0], sem, S - 1, (lower.mean(), upper.mean()), compare,
                     ci, f"mean over {S} subjects of {compare}(model RDM, subject RDM), with "
                     "the spread over subjects; the noise ceiling is computed the same way "
                     "(Nili et al. 2014)")
    if not n_permutations:
        return result
    prepared = [prepare_rdm_vector(v, compare, np, f"subject {s}") for s, v in
                enumerate(subjects)]
    v = models[name]
    n = int(round((1 + math.sqrt(1 + 8 * v.shape[0])) / 2))
    rng = np.random.default_rng(seed)
    null = np.empty(n_permutations)
    for k in range(n_permutations):
        permuted = prepare_rdm_vector(_resample(v, rng.permutation(n), np), compare, np)
        null[k] = np.mean([float(compare_prepared(permuted, p, compare, np))
                           for p in prepared])
    tolerance = 100 * np.finfo(np.float64).eps * abs(result.mean)
    p = (1 + np.count_nonzero(null >= result.mean - tolerance)) / (1 + n_permutations)
    return dataclasses.replace(result, p_value=float(p))


def _result(name, per_subject, sem, dof, ceiling, compare, ci, definition) -> RDMScore:
    from scipy.stats import t as student_t

    mean = float(np.mean(per_subject))
    half = float(student_t.ppf((1 + ci) / 2, max(dof, 1)) * sem)
    lower = float(ceiling[0])
    return RDMScore(model=name, per_subject=tuple(float(v) for v in per_subject), mean=mean,
                    sem=float(sem), ci_low=mean - half, ci_high=mean + half,
                    ceiling=(lower, float(ceiling[1])),
                    normalized=mean / lower if lower > 0 else float("nan"),
                    compare=compare, definition=definition)


@dataclass(frozen=True)
class ModelComparison:
    """Model RDMs scored against the same subject RDMs and tested against each other.

    Attributes
    ----------
    scores : dict of str to RDMScore
        Each model's per-subject score, with the bootstrap's standard error.
    pairs : list of dict
        One entry per pair of models: ``a``, ``b``, ``difference`` (score of a
        minus score of b), ``se``, ``t``, ``p`` (two-sided paired test) and
        ``p_corrected`` (over all pairs).
    within_ceiling : dict of str to bool
        Whether each model is not significantly below the lower bound of the
        noise ceiling (one-sided paired test at ``alpha``, corrected over models).
    p_below_ceiling : dict of str to float
        The corrected p-values of those tests.
    bootstrap : str
        Which factors were resampled.
    correction : str or None
    dof : int
        Degrees of freedom of the t-tests: ``min(S, n) - 1``.
    """

    scores: dict
    pairs: list
    within_ceiling: dict
    p_below_ceiling: dict
    bootstrap: str
    correction: str | None
    dof: int
    n_bootstrap: int = field(default=0)

    def to_dataframe(self):
        """One row per model: score, sem, interval, ceiling, normalized, within ceiling."""
        import pandas as pd

        return pd.DataFrame([{
            "model": s.model, "score": s.mean, "sem": s.sem, "ci_low": s.ci_low,
            "ci_high": s.ci_high, "ceiling_low": s.ceiling[0], "ceiling_high": s.ceiling[1],
            "normalized": s.normalized, "within_ceiling": self.within_ceiling[name],
            "p_below_ceiling": self.p_below_ceiling[name], "compare": s.compare,
        } for name, s in self.scores.items()])


def _correct(p: np.ndarray, correction: str | None) -> np.ndarray:
    if correction is None or p.size == 0:
        return p
    from scipy.stats import false_discovery_control

    if correction == "bonferroni":
        return np.minimum(1.0, p * p.size)
    return false_discovery_control(p, method="bh")


def compare_models(models: Mapping, subject_rdms, compare: str = "spearman", *,
                   bootstrap: str = "both", n_bootstrap: int = 1000,
                   correction: str | None = "fdr", alpha: float = 0.05, ci: float = 0.95,
                   seed=None) -> ModelComparison:
    """Score model RDMs against subject RDMs and test them against each other and the ceiling.

    Parameters
    ----------
    models : dict of str to array
        Model RDMs (square or condensed) over the subjects' stimuli.
    subject_rdms : array of shape (S, n, n) or (S, n(n-1)/2)
        One RDM per subject (at least 2).
    compare : {"spearman", "pearson", "kendall_tau_a", "rho_a", "cosine"}, default="spearman"
    bootstrap : {"both", "subjects", "stimuli"}, default="both"
        Which factors the variance generalises over: ``"both"`` (new subjects
        and new stimuli; the corrected two-factor variance of Schuett et al.
        2023), or one of them.
    n_bootstrap : int, default=1000
    correction : {"fdr", "bonferroni", None}, default="fdr"
        Over the pairwise tests, and over the tests against the ceiling:
        Benjamini-Hochberg (``scipy.stats.false_discovery_control``) or Bonferroni.
    alpha : float in (0, 1), default=0.05
        Level of the tests against the ceiling.
    ci : float in (0, 1), default=0.95
        Level of each score's t-interval.
    seed : None, int or numpy.random.Generator

    Returns
    -------
    ModelComparison

    Notes
    -----
    Scores are the means over subjects of each model's comparison with each
    subject's RDM (as :func:`score_rdm`). Each bootstrap sample resamples the
    subjects, the stimuli, or both with replacement and recomputes every
    model's mean score and the per-subject noise ceilings; the variance of a
    score, of a difference between two models and of a model's distance to
    the lower ceiling bound is taken over the samples, and for ``"both"``
    combined with the one-factor variances by :func:`two_factor_variance`. The
    tests are t-tests on those variances with ``min(S, n) - 1`` degrees of
    freedom (as rsatoolbox). Pairs are tested two-sided; the ceiling
    one-sided (a model is within the ceiling unless it is significantly below
    its lower bound). In a subject resample, a subject's lower bound compares
    it with the mean of the other subjects *without its own copies* (rsatoolbox's
    ``boot_noise_ceiling`` keeps them, which pulls the lower bound toward the
    upper one in every resample that repeats a subject: with the 4 human-IT
    subjects of the 92 images, the standard error of V1's distance to the
    lower bound is then about 0.16 instead of 0.05).

    References
    ----------
    Schuett, Kipnis, Diedrichsen & Kriegeskorte (2023). Statistical inference on
    representational geometries. eLife 12:e82566.

    Nili et al. (2014). A toolbox for representational similarity analysis.
    PLoS Comput. Biol. 10(4): e1003553.

    Benjamini & Hochberg (1995). Controlling the false discovery rate. J. R.
    Stat. Soc. B 57(1):289-300.
    """
    from scipy.stats import t as student_t

    Options(*COMPARATORS).check("compare_models", "compare", compare)
    Options(*BOOTSTRAPS).check("compare_models", "bootstrap", bootstrap)
    Options(*CORRECTIONS).check("compare_models", "correction", correction)
    Interval(2, None, integer=True).check("compare_models", "n_bootstrap", n_bootstrap)
    Interval(0, 1, closed="neither").check("compare_models", "alpha", alpha)
    Interval(0, 1, closed="neither").check("compare_models", "ci", ci)
    subjects = _stack(subject_rdms)
    vectors = _model_vectors(models, subjects.shape[1])
    S, m = subjects.shape
    n = int(round((1 + math.sqrt(1 + 8 * m)) / 2))
    scores, lower, upper = _scores(vectors, subjects, compare)
    rng = np.random.default_rng(seed)
    kinds = ("both", "subjects", "stimuli") if bootstrap == "both" else (bootstrap,)
    # Per bootstrap kind: (B, M + 1) samples of the model means and the lower bound.
    samples = {kind: _bootstrap(vectors, subjects, compare, kind, n_bootstrap, rng)
               for kind in kinds}
    names = list(vectors)
    M = len(names)
    contrasts = [("score", j, None) for j in range(M)]
    contrasts += [("pair", i, j) for i in range(M) for j in range(i + 1, M)]
    contrasts += [("ceiling", j, None) for j in range(M)]

    def variance(kind, contrast):
        draws = samples[kind]
        what, i, j = contrast
        if what == "score":
            values = draws[:, i]
        elif what == "pair":
            values = draws[:, i] - draws[:, j]
        else:
            values = draws[:, M] - draws[:, i]
        return np.nanvar(values, ddof=1)

    variances = {}
    for contrast in contrasts:
        per_kind = {kind: variance(kind, contrast) for kind in kinds}
        variances[contrast] = float(two_factor_variance(
            per_kind["both"], per_kind["subjects"], per_kind["stimuli"])
            if bootstrap == "both" else per_kind[bootstrap])
    dof = min(S, n) - 1
    means = scores.mean(axis=0)
    definition = (f"mean over {S} subjects of {compare}(model RDM, subject RDM); standard "
                  f"error from a bootstrap over {bootstrap} ({n_bootstrap} samples"
                  + (", corrected two-factor variance, Schuett et al. 2023)" if
                     bootstrap == "both" else ")"))
    results = {name: _result(name, scores[:, j], math.sqrt(variances["score", j, None]), dof,
                             (lower.mean(), upper.mean()), compare, ci, definition)
               for j, name in enumerate(names)}
    pair_stats = []
    for i in range(M):
        for j in range(i + 1, M):
            diff = float(means[i] - means[j])
            se = math.sqrt(variances["pair", i, j])
            t = diff / se if se > 0 else math.copysign(math.inf, diff) if diff else 0.0
            pair_stats.append({"a": names[i], "b": names[j], "difference": diff, "se": se,
                               "t": t, "p": float(2 * student_t.sf(abs(t), dof))})
    corrected = _correct(np.array([p["p"] for p in pair_stats]), correction)
    for entry, p in zip(pair_stats, corrected):
        entry["p_corrected"] = float(p)
    below = []
    for j in range(M):
        gap = float(lower.mean() - means[j])
        se = math.sqrt(variances["ceiling", j, None])
        t = gap / se if se > 0 else (math.inf if gap > 0 else -math.inf)
        below.append(float(student_t.sf(t, dof)))
    below = _correct(np.array(below), correction)
    return ModelComparison(
        scores=results, pairs=pair_stats,
        within_ceiling={name: bool(p >= alpha) for name, p in zip(names, below)},
        p_below_ceiling={name: float(p) for name, p in zip(names, below)},
        bootstrap=bootstrap, correction=correction, dof=dof, n_bootstrap=n_bootstrap)


def _bootstrap(vectors: dict, subjects: np.ndarray, compare: str, kind: str, B: int,
               rng) -> np.ndarray:
    """(B, M + 1): each sample's model means and mean lower ceiling bound."""
    S, m = subjects.shape
    n = int(round((1 + math.sqrt(1 + 8 * m)) / 2))
    out = np.full((B, len(vectors) + 1), np.nan)
    for b in range(B):
        chosen = rng.integers(0, S, S) if kind in ("both", "subjects") else np.arange(S)
        if len(np.unique(chosen)) < 2:
            continue  # a single distinct subject has no ceiling
        sample, models = subjects[chosen], vectors
        if kind in ("both", "stimuli"):
            idx = rng.integers(0, n, n)
            if len(np.unique(idx)) < 3:
                continue
            sample = np.stack([_resample(v, idx, np) for v in sample])
            models = {k: _resample(v, idx, np) for k, v in vectors.items()}
        try:
            scores, lower, _ = _scores(models, sample, compare, ids=chosen)
        except ValueError:  # a constant resampled RDM: the comparison is undefined
            continue
        out[b, :-1] = scores.mean(axis=0)
        out[b, -1] = lower.mean()
    return out
