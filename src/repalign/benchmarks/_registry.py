"""The registry of named benchmarks."""

from __future__ import annotations

import difflib
import functools

from ._base import Benchmark

__all__ = ["list_benchmarks", "get_benchmark"]


@functools.lru_cache(maxsize=1)
def _registry() -> dict:
    from . import kriegeskorte92, things, word_similarity

    found = (*kriegeskorte92.benchmarks(), *things.benchmarks(), *word_similarity.benchmarks())
    return {b.name: b for b in found}


def list_benchmarks() -> list[Benchmark]:
    """The named benchmarks: stimuli, target data, measure, ceiling, layer rule, citation.

    Returns
    -------
    list of Benchmark
        ``kriegeskorte92.human_it``, ``kriegeskorte92.monkey_it``,
        ``kriegeskorte92.human_judgments`` (92 images; Kriegeskorte et al. 2008,
        Mur et al. 2013), ``things.odd_one_out`` (1854 concept words; Hebart et
        al. 2020) and one ``word_similarity.<set>`` per bundled word-similarity set
        (:func:`repalign.datasets.word_similarity_names`), in that order. Each has
        ``name``, ``title``, ``modality``, ``measure``, ``chance``, ``citation``,
        ``layer_rule``, and :meth:`~Benchmark.ceiling` computed from its data.

    Examples
    --------
    >>> import repalign
    >>> names = [b.name for b in repalign.list_benchmarks()]
    >>> names[:3]
    ['kriegeskorte92.human_it', 'kriegeskorte92.monkey_it', 'kriegeskorte92.human_judgments']
    >>> names[3], names[-1]
    ('things.odd_one_out', 'word_similarity.yp130')
    >>> len(names)
    17
    """
    return list(_registry().values())


def get_benchmark(benchmark) -> Benchmark:
    """The benchmark named ``benchmark`` (a :class:`Benchmark` is returned as it is).

    Raises
    ------
    TypeError
        If ``benchmark`` is neither a string nor a Benchmark.
    ValueError
        If no benchmark has that name; the message lists the names.
    """
    if isinstance(benchmark, Benchmark):
        return benchmark
    if not isinstance(benchmark, str):
        raise TypeError(f"benchmark must be a benchmark name (see repalign.list_benchmarks()) "
                        f"or a Benchmark; got {type(benchmark).__name__}")
    registry = _registry()
    if benchmark in registry:
        return registry[benchmark]
    close = difflib.get_close_matches(benchmark, list(registry), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValueError(f"benchmark {benchmark!r} is not a known benchmark{hint}; expected one "
                     f"of {', '.join(registry)}")
