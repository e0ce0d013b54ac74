"""Word-similarity benchmarks: human similarity and relatedness ratings of word pairs."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np

__all__ = ["word_similarity", "word_similarity_names", "WordSimilarityData"]


@dataclass(frozen=True)
class _Benchmark:
    file: str
    rated: str
    scale: tuple
    citation: str


_WS353 = ("Finkelstein, Gabrilovich, Matias, Rivlin, Solan, Wolfman & Ruppin (2002). Placing "
          "search in context: the concept revisited. ACM Trans. Inf. Syst. 20(1):116-131.")
_WS353_SPLIT = ("Agirre, Alfonseca, Hall, Kravalova, Pasca & Soroa (2009). A study on similarity "
                "and relatedness using distributional and WordNet-based approaches. NAACL-HLT "
                "2009, 19-27. Pairs and scores from " + _WS353)

#: Canonical name -> file and metadata (see data/wordsim/README.md).
_BENCHMARKS = {
    "ws353": _Benchmark("EN-WS-353-ALL.txt", "relatedness", (0.0, 10.0), _WS353),
    "ws353sim": _Benchmark("EN-WS-353-SIM.txt", "similarity", (0.0, 10.0), _WS353_SPLIT),
    "ws353rel": _Benchmark("EN-WS-353-REL.txt", "relatedness", (0.0, 10.0), _WS353_SPLIT),
    "simlex999": _Benchmark(
        "EN-SIMLEX-999.txt", "similarity", (0.0, 10.0),
        "Hill, Reichart & Korhonen (2015). SimLex-999: evaluating semantic models with "
        "(genuine) similarity estimation. Computational Linguistics 41(4):665-695."),
    "men": _Benchmark(
        "EN-MEN-TR-3k.txt", "relatedness", (0.0, 50.0),
        "Bruni, Tran & Baroni (2014). Multimodal distributional semantics. J. Artif. Intell. "
        "Res. 49:1-47. CC-BY 3.0."),
    "simverb3500": _Benchmark(
        "EN-SimVerb-3500.txt", "similarity", (0.0, 10.0),
        "Gerz, Vulic, Hill, Reichart & Korhonen (2016). SimVerb-3500: a large-scale evaluation "
        "set of verb similarity. EMNLP 2016, 2173-2182."),
    "rw": _Benchmark(
        "EN-RW-STANFORD.txt", "similarity", (0.0, 10.0),
        "Luong, Socher & Manning (2013). Better word representations with recursive neural "
        "networks for morphology. CoNLL 2013, 104-113."),
    "mturk287": _Benchmark(
        "EN-MTurk-287.txt", "relatedness", (1.0, 5.0),
        "Radinsky, Agichtein, Gabrilovich & Markovitch (2011). A word at a time: computing word "
        "relatedness using temporal semantic analysis. WWW 2011, 337-346."),
    "mturk771": _Benchmark(
        "EN-MTurk-771.txt", "relatedness", (1.0, 5.0),
        "Halawi, Dror, Gabrilovich & Koren (2012). Large-scale learning of word relatedness "
        "with constraints. KDD 2012, 1406-1414."),
    "rg65": _Benchmark(
        "EN-RG-65.txt", "similarity", (0.0, 4.0),
        "Rubenstein & Goodenough (1965). Contextual correlates of synonymy. Commun. ACM "
        "8(10):627-633."),
    "mc30": _Benchmark(
        "EN-MC-30.txt", "similarity", (0.0, 4.0),
        "Miller & Charles (1991). Contextual correlates of semantic similarity. Lang. Cogn. "
        "Process. 6(1):1-28."),
    "yp130": _Benchmark(
        "EN-YP-130.txt", "similarity", (0.0, 4.0),
        "Yang & Powers (2006). Verb similarity on the taxonomy of WordNet. Proc. 3rd "
        "International WordNet Conference (GWC-06), 121-128."),
    "verb143": _Benchmark(
        "EN-VERB-143.txt", "similarity", (0.0, 1.0),
        "Baker, Reichart & Korhonen (2014). An unsupervised model for instance level "
        "subcategorization acquisition. EMNLP 2014, 278-289."),
}

_SOURCE = ("Files: mfaruqui/eval-word-vectors@94b3dd9 data/word-sim (MIT); cite the "
           "benchmark's original paper.")


@dataclass(frozen=True)
class WordSimilarityData:
    """One word-similarity benchmark: word pairs and their mean human rating.

    Attributes
    ----------
    name : str
        The canonical benchmark name (``"simlex999"``, ``"ws353"``, ...).
    word1, word2 : list of str, length n_pairs
        The two words of each pair, as spelled in the benchmark file (the
        WS-353 files keep capitals such as ``Jerusalem``; the others are lower
        case).
    scores : ndarray of float64, shape (n_pairs,)
        The mean human rating of each pair; higher means more similar (or more
        related, see ``rated``).
    rated : {"similarity", "relatedness"}
        What the raters were asked to judge.
    scale : tuple of float
        The rating scale ``(low, high)`` of the benchmark.
    citation : str
        The benchmark's original paper (cite it) and the files' source.
    """

    name: str
    word1: list
    word2: list
    scores: np.ndarray
    rated: str
    scale: tuple
    citation: str

    def __len__(self) -> int:
        return len(self.word1)

    @property
    def pairs(self) -> list:
        """The word pairs as a list of ``(word1, word2)`` tuples."""
        return list(zip(self.word1, self.word2))

    @property
    def vocabulary(self) -> list:
        """The distinct words of the benchmark, sorted."""
        return sorted(set(self.word1) | set(self.word2))


def _canonical(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch not in "-_ ")


def word_similarity_names() -> list[str]:
    """The names of the bundled word-similarity benchmarks, sorted.

    Returns
    -------
    list of str

    Examples
    --------
    >>> import repalign
    >>> repalign.datasets.word_similarity_names()[:4]
    ['mc30', 'men', 'mturk287', 'mturk771']
    """
    return sorted(_BENCHMARKS)


def word_similarity(name: str) -> WordSimilarityData:
    """Load a bundled word-similarity benchmark (human ratings of word pairs).

    Parameters
    ----------
    name : str
        One of :func:`word_similarity_names`: ``"simlex999"``, ``"ws353"``,
        ``"ws353sim"``, ``"ws353rel"``, ``"men"``, ``"simverb3500"``,
        ``"rw"``, ``"mturk287"``, ``"mturk771"``, ``"rg65"``, ``"mc30"``,
        ``"yp130"``, ``"verb143"``. Case, hyphens, underscores and spaces are
        ignored, so ``"SimLex-999"`` and ``"WS-353-SIM"`` work too.

    Returns
    -------
    WordSimilarityData

    Raises
    ------
    TypeError
        If ``name`` is not a string.
    ValueError
        If ``name`` is not a bundled benchmark; the message lists them.

    Notes
    -----
    The usual evaluation embeds both words of each pair, takes their cosine
    similarity and reports Spearman's rho against ``scores``, skipping pairs
    with a word the model does not know. The files and their licences are
    described in the package's ``datasets/data/wordsim/README.md``.

    References
    ----------
    Hill, Reichart & Korhonen (2015). SimLex-999: evaluating semantic models
    with (genuine) similarity estimation. Computational Linguistics
    41(4):665-695. (Each benchmark's own paper is in its ``citation``.)

    Examples
    --------
    >>> import repalign
    >>> simlex = repalign.datasets.word_similarity("SimLex-999")
    >>> len(simlex), simlex.pairs[1], float(simlex.scores[1])
    (999, ('smart', 'intelligent'), 9.2)
    """
    if not isinstance(name, str):
        raise TypeError(
            f"word_similarity: name must be a string such as 'simlex999'; "
            f"got {type(name).__name__}"
        )
    key = _canonical(name)
    if key not in _BENCHMARKS:
        raise ValueError(
            f"word_similarity: unknown benchmark name={name!r}; expected one of "
            f"{word_similarity_names()} (case, '-', '_' and spaces are ignored)"
        )
    bench = _BENCHMARKS[key]
    path = resources.files("repalign.datasets").joinpath("data", "wordsim", bench.file)
    # splitlines() handles the CRLF files; a missing final newline is harmless.
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    return WordSimilarityData(
        name=key,
        word1=[row[0] for row in rows],
        word2=[row[1] for row in rows],
        scores=np.array([float(row[2]) for row in rows]),
        rated=bench.rated,
        scale=bench.scale,
        citation=f"{bench.citation} {_SOURCE}",
    )
