"""Named benchmarks: stimuli + target data + measure + ceiling + layer rule + citation.

``repalign.list_benchmarks()`` lists them; ``repalign.score(model, "kriegeskorte92.human_it")``
extracts a model's layers for the benchmark's stimuli, chooses the layer on held-out
stimuli and scores it on the ceiling's scale; ``repalign.leaderboard(models)`` scores
many models on many benchmarks, with a table and a figure.

=================================  ==========================================================
benchmark                          target, measure, ceiling
=================================  ==========================================================
kriegeskorte92.human_it            human IT fMRI RDMs of the 92 images (4 subjects), Spearman
                                   rho of correlation-distance RDMs per subject; leave-one-
                                   subject-out ceiling (:mod:`.kriegeskorte92`)
kriegeskorte92.monkey_it           monkey IT RDM (674 cells); no ceiling (one RDM)
kriegeskorte92.human_judgments     similarity-judgment RDMs (16 subjects), as human IT
things.odd_one_out                 1000 repeated THINGS triplets: agreement with the human
                                   choices per triplet; ceiling 0.6722 (:mod:`.things`)
word_similarity.<set>              13 sets of word pairs: Spearman rho of cosine similarity
                                   with mean ratings; no ceiling (:mod:`.word_similarity`)
=================================  ==========================================================
"""

from ._base import LAYER_RULE, Benchmark, BenchmarkScore
from ._registry import get_benchmark, list_benchmarks
from ._score import Leaderboard, leaderboard, score

__all__ = [
    "score",
    "leaderboard",
    "list_benchmarks",
    "get_benchmark",
    "Benchmark",
    "BenchmarkScore",
    "Leaderboard",
    "LAYER_RULE",
]
