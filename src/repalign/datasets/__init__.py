"""Real human and brain data shipped with repalign, with attribution.

Every dataset is loaded from files inside the package (no download, ever). Each
folder under ``data/`` has a README with the source, licence and citation.
"""

from .digits import DigitsData, digits
from .kriegeskorte92 import Kriegeskorte92Data, kriegeskorte92
from .kriegeskorte92 import images_path as kriegeskorte92_images_path
from .things import ThingsData, things
from .word_similarity import WordSimilarityData, word_similarity, word_similarity_names

__all__ = [
    "things",
    "ThingsData",
    "kriegeskorte92",
    "Kriegeskorte92Data",
    "kriegeskorte92_images_path",
    "word_similarity",
    "word_similarity_names",
    "WordSimilarityData",
    "digits",
    "DigitsData",
]
