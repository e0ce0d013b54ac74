"""repalign.extract and repalign.layers on tiny models built here: hooks, pooling, stimuli."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import repalign  # noqa: E402
from repalign.extraction import as_adapter  # noqa: E402
from repalign.extraction.pooling import select_tensor  # noqa: E402

from ._models import (  # noqa: E402
    TinyCNN,
    TinyResNet,
    TinyTransformer,
    images,
    raw_outputs,
    token_batch,
)

CNN_LAYERS = ["features", "features.0", "features.1", "features.2", "features.3",
              "features.4", "features.5", "avgpool", "head"]


def assert_close(a, b, tol=1e-5):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=tol, atol=tol)


# --- the public names -------------------------------------------------------------------


def test_public_functions_are_the_extraction_functions():
    import inspect

    import repalign.extraction

    assert repalign.extract is repalign.extraction.hooks.extract
    params = list(inspect.signature(repalign.extract).parameters)
    assert params[:8] == ["model", "stimuli", "layers", "pool", "batch_size", "device", "store",
                          "name"]
    assert repalign.layers is repalign.extraction.layers
    assert repalign.load_model is repalign.extraction.load_model


# --- layers ---------------------------------------------------------------------------


def test_layers_lists_every_named_submodule_in_registration_order():
    assert repalign.layers(TinyCNN(), all_modules=True) == CNN_LAYERS
    assert repalign.layers(lambda x: x) == ["output"]
    assert repalign.layers(as_adapter(TinyCNN()), all_modules=True) == CNN_LAYERS


def test_default_layers_of_a_network_without_blocks_are_its_opened_top_level_modules():
    model, x = TinyCNN(), images()
    assert repalign.layers(model) == [n for n in CNN_LAYERS if n != "features"]
    acts = repalign.extract(model, x)
    assert list(acts) == repalign.layers(model)
    assert all(a.dtype == np.float32 and a.shape[0] == 10 for a in acts.values())
    raw = raw_outputs(model, x, ["features.4", "head"])
    assert_close(acts["features.4"], raw["features.4"].mean(dim=(2, 3)))
    assert_close(acts["head"], raw["head"])
    # a network that is an nn.Sequential is a pipeline: its entries, blocks kept whole
    block = lambda: torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Tanh())  # noqa: E731
    net, v = torch.nn.Sequential(block(), block(), torch.nn.Linear(4, 2)), torch.randn(5, 4)
    assert repalign.layers(net) == ["0", "1", "2"]
    acts = repalign.extract(net, v)
    with torch.no_grad():
        assert_close(acts["1"], net[1](net[0](v)))


def test_default_layers_of_a_resnet_are_its_stage_outputs():
    model, x = TinyResNet(), torch.randn(5, 3, 16, 16)
    assert repalign.layers(model) == ["layer1", "layer2", "layer3"]
    acts = repalign.extract(model, x, batch_size=2)
    with torch.no_grad():  # the stages called by hand
        h1 = model.layer1(model.relu(model.conv1(x)))
        h2 = model.layer2(h1)
        h3 = model.layer3(h2)
    for layer, h in zip(["layer1", "layer2", "layer3"], [h1, h2, h3]):
        assert_close(acts[layer], h.mean(dim=(2, 3)))


def test_default_layers_of_a_transformer_are_its_residual_stream():
    model, tokens = TinyTransformer(), token_batch()
    # no "embeddings" module: the first block's input is the embedding layer
    assert repalign.layers(model) == ["blocks.0:input", "blocks.0", "blocks.1"]
    acts = repalign.extract(model, tokens, pool="last", batch_size=3)
    ids, mask = tokens["input_ids"], tokens["attention_mask"]
    last = mask.sum(1) - 1
    rows = torch.arange(len(ids))
    with torch.no_grad():  # the residual stream computed by hand
        x = model.embed(ids) + model.position(torch.arange(ids.shape[1]))
        stream = [x]
        for block in model.blocks:
            x, _ = block(x, mask == 0)
            stream.append(x)
    for layer, h in zip(acts, stream):
        assert_close(acts[layer], h[rows, last])
    # a pattern with ":input" takes every matching module's input
    inputs = repalign.extract(model, tokens, layers="blocks.*:input", pool="last")
    assert list(inputs) == ["blocks.0:input", "blocks.1:input"]
    assert_close(inputs["blocks.1:input"], acts["blocks.0"])


def test_glob_patterns_select_in_network_order_without_duplicates():
    acts = repalign.extract(TinyCNN(), images(), layers=["head", "features.[04]", "features.0"])
    assert list(acts) == ["features.0", "features.4", "head"]  # network order
    acts = repalign.extract(TinyCNN(), images(), layers="features.?")
    assert list(acts) == [f"features.{i}" for i in range(6)]
    # "*" stays within one name component, "**" crosses dots
    assert list(repalign.extract(TinyCNN(), images(), layers=["feat*"])) == ["features"]
    assert list(repalign.extract(TinyCNN(), images(), layers=["features.**"])) == \
        CNN_LAYERS[1:7]


# --- pooling on a CNN -----------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [3, 64])
def test_cnn_pooling_matches_manual_computation(batch_size):
    model, x = TinyCNN(), images()
    raw = raw_outputs(model, x, ["features.4", "avgpool", "head"])
    conv = raw["features.4"]  # (10, 6, 4, 4)
    expected = {"mean": conv.mean((2, 3)), "max": conv.amax((2, 3)),
                "flatten": conv.reshape(10, -1)}
    for pool, want in expected.items():
        got = repalign.extract(model, x, layers=["features.4", "avgpool", "head"], pool=pool,
                               batch_size=batch_size)
        assert_close(got["features.4"], want)
        assert got["head"].shape == (10, 5)  # (N, D) outputs are kept as they are
        assert_close(got["head"], raw["head"])
    pooled = repalign.extract(model, x, layers=["avgpool"])["avgpool"]
    assert_close(pooled, raw["avgpool"].reshape(10, 6))


def test_model_runs_in_eval_mode_and_its_modes_are_restored():
    model, x = TinyCNN(), images()
    model.train()
    model.head.eval()
    acts = repalign.extract(model, x, layers=["features.1"])
    assert model.training and model.features[1].training and not model.head.training
    assert_close(acts["features.1"], raw_outputs(model, x, ["features.1"])["features.1"].mean((2, 3)))
    with torch.no_grad():  # in train mode, batch norm would use the batch statistics
        train_mode = model.features[1](model.features[0](x)).mean((2, 3))
    assert not np.allclose(acts["features.1"], train_mode, atol=1e-3)


def test_callable_pool_and_float64_models():
    model, x = TinyCNN().double(), images()
    got = repalign.extract(model, x.numpy(), layers=["features.4"],
                           pool=lambda t: t.std(dim=(2, 3)))["features.4"]
    assert got.dtype == np.float32
    assert_close(got, raw_outputs(model, x.double(), ["features.4"])["features.4"].std(dim=(2, 3)))


# --- token outputs: tuples, dicts, attention masks ------------------------------------


@pytest.fixture
def transformer():
    return TinyTransformer()


def _masked_reference(model, batch, name):
    raw = raw_outputs(model, batch, [name])[name]
    return select_tensor(raw, name), batch["attention_mask"].bool()


@pytest.mark.parametrize("batch_size", [2, 64])
def test_masked_mean_max_cls_last_match_manual(transformer, batch_size):
    batch = token_batch()
    h, mask = _masked_reference(transformer, batch, "blocks.1")  # tuple -> hidden states
    lengths = mask.sum(1)
    expected = {
        "mean": torch.stack([h[i, :lengths[i]].mean(0) for i in range(7)]),
        "max": torch.stack([h[i, :lengths[i]].amax(0) for i in range(7)]),
        "cls": h[:, 0],
        "last": torch.stack([h[i, lengths[i] - 1] for i in range(7)]),
        "flatten": h.reshape(7, -1),
    }
    for pool, want in expected.items():
        got = repalign.extract(transformer, batch, layers=["blocks.1"], pool=pool,
                               batch_size=batch_size)["blocks.1"]
        assert_close(got, want)
    # padding really is skipped: the unmasked mean differs where rows are padded
    assert not np.allclose(expected["mean"][lengths < 6], h.mean(1)[lengths < 6])


def test_mask_finds_first_and_last_real_tokens_under_left_padding(transformer):
    batch = token_batch()
    flipped = {k: v.flip(1) for k, v in batch.items()}
    h, mask = _masked_reference(transformer, flipped, "norm")
    first = mask.int().argmax(1)
    got = repalign.extract(transformer, flipped, layers=["norm"], pool="cls")["norm"]
    assert_close(got, h[torch.arange(7), first])
    got = repalign.extract(transformer, flipped, layers=["norm"], pool="last")["norm"]
    assert_close(got, h[:, -1])


def test_dict_and_tuple_outputs_and_callable_pool_with_mask(transformer):
    batch = token_batch()
    callable_model = repalign.extract(lambda b: transformer(**b), batch)["output"]
    h, mask = _masked_reference(transformer, batch, "norm")
    # the dict's last_hidden_state (not the first entry, logits) is taken
    assert_close(callable_model, repalign.extract(transformer, batch, layers=["norm"])["norm"])
    assert_close(callable_model, (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True))
    # MultiheadAttention returns (output, weights): the output is taken
    attn = repalign.extract(transformer, batch, layers=["blocks.0.attn"], pool="flatten")
    assert attn["blocks.0.attn"].shape == (7, 6 * 8)

    def summed(x, attention_mask):
        return (x * attention_mask[..., None]).sum(1)

    got = repalign.extract(transformer, batch, layers=["norm"], pool=summed)["norm"]
    assert_close(got, (h * mask[..., None]).sum(1))


def test_select_tensor_rules():
    t = torch.ones(2, 3)
    ids = torch.ones(2, 3, dtype=torch.long)
    assert select_tensor({"input_ids": ids, "x": t}, "l") is t
    assert select_tensor({"token_embeddings": t, "sentence_embedding": 2 * t}, "l")[0, 0] == 2
    assert select_tensor((None, (t, ids)), "l") is t
    assert select_tensor(np.ones((2, 3)), "l").shape == (2, 3)
    with pytest.raises(TypeError, match="returned tuple with no floating-point tensor"):
        select_tensor((ids, None), "l")


# --- callables and stimuli ------------------------------------------------------------


def test_callable_models_on_text_arrays_and_dicts():
    words = ["a", "bb", "ccc", "dddd", "eeeee"]

    def featurise(batch):
        return torch.tensor([[len(w), w.count("c")] for w in batch], dtype=torch.float64)

    got = repalign.extract(featurise, words, batch_size=2)
    assert list(got) == ["output"]
    np.testing.assert_array_equal(got["output"], [[1, 0], [2, 0], [3, 3], [4, 0], [5, 0]])
    got = repalign.extract(lambda x: x.numpy() * 2, np.arange(6.0).reshape(3, 2))["output"]
    np.testing.assert_array_equal(got, np.arange(6.0).reshape(3, 2) * 2)
    got = repalign.extract(lambda b: {"y": b["a"] + b["b"]},
                           {"a": np.ones((4, 2)), "b": np.ones((4, 2))}, batch_size=3)
    np.testing.assert_array_equal(got["output"], np.full((4, 2), 2.0))


def test_dataset_list_generator_and_array_stimuli_agree():
    model, x = TinyCNN(), images()

    class Pairs(torch.utils.data.Dataset):
        def __len__(self):
            return len(x)

        def __getitem__(self, i):
            return x[i], i  # (input, target): the target is ignored

    want = repalign.extract(model, x, layers=["head"], batch_size=4)["head"]
    for stimuli in (Pairs(), list(x.numpy()), (xi for xi in x), x.numpy().astype(np.float64)):
        assert_close(repalign.extract(model, stimuli, layers=["head"], batch_size=4)["head"], want)


def test_device_argument_and_progress_bar(capsys):
    model, x = TinyCNN(), images()
    want = repalign.extract(model, x, layers=["head"], progress=False)["head"]
    capsys.readouterr()
    got = repalign.extract(model, x, layers=["head"], device=torch.device("cpu"),
                           progress=False)["head"]
    assert capsys.readouterr().err == ""  # quiet when not asked (and in CI)
    assert_close(got, want)
    assert_close(repalign.extract(model, x, layers=["head"], device="cpu", progress=True)["head"], want)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_cuda_matches_cpu():  # pragma: no cover - needs a GPU
    model, x = TinyCNN(), images()
    want = repalign.extract(model, x, layers=["features.4", "head"])
    got = repalign.extract(model, x, layers=["features.4", "head"], device="cuda")
    for layer in want:
        assert isinstance(got[layer], np.ndarray)
        assert_close(got[layer], want[layer], 1e-4)


def test_layers_that_do_not_run_are_dropped_by_default_only():
    class Skips(torch.nn.Module):  # its last block is never called
        def __init__(self):
            super().__init__()
            self.blocks = torch.nn.ModuleList(
                [torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU()) for _ in range(3)])

        def forward(self, x):
            return self.blocks[1](self.blocks[0](x))

    model, x = Skips(), torch.randn(6, 4)
    assert repalign.layers(model) == ["blocks.0", "blocks.1", "blocks.2"]
    assert list(repalign.extract(model, x)) == ["blocks.0", "blocks.1"]
    with pytest.raises(ValueError, match=r"\['blocks.2'\] did not run"):
        repalign.extract(model, x, layers=["blocks.2"])
    encoder = torch.nn.TransformerEncoder(
        torch.nn.TransformerEncoderLayer(8, 2, 16, batch_first=True), 1)
    with pytest.raises(ValueError, match=r"\['layers.0.self_attn.out_proj'\] did not run"):
        repalign.extract(encoder, torch.randn(4, 5, 8), layers=["layers.0.self_attn.out_proj"])


# --- errors ---------------------------------------------------------------------------


def test_unknown_layer_lists_close_names():
    with pytest.raises(ValueError, match=r"'features\.9' matches no layer.*close names: "
                                         r"\['features\.5'"):
        repalign.extract(TinyCNN(), images(), layers=["features.9"])
    with pytest.raises(ValueError, match=r"'nothing\*' matches no layer.*valid names include"):
        repalign.extract(TinyCNN(), images(), layers=["nothing*"])
    with pytest.raises(TypeError, match="layers must be None or a list of layer names"):
        repalign.extract(TinyCNN(), images(), layers=[3])


def test_bad_pool():
    with pytest.raises(ValueError, match=r"pool must be one of \['mean'.*got 'median'"):
        repalign.extract(TinyCNN(), images(), pool="median")
    with pytest.raises(TypeError, match="pool must be one of .* got int"):
        repalign.extract(TinyCNN(), images(), pool=3)
    with pytest.raises(ValueError, match="pool='cls' needs token outputs .* 'features.4'"):
        repalign.extract(TinyCNN(), images(), layers=["features.4"], pool="cls")
    with pytest.raises(ValueError, match="pool returned shape \\(6,\\) .* first axis"):
        repalign.extract(TinyCNN(), images(), layers=["features.4"], pool=lambda t: t.sum(
            dim=(0, 2, 3)))


def test_bad_model_and_arguments():
    with pytest.raises(TypeError, match="model must be a torch.nn.Module, a callable.*got int"):
        repalign.extract(42, images())
    with pytest.raises(ValueError, match="batch_size must be a positive integer; got 0"):
        repalign.extract(TinyCNN(), images(), batch_size=0)
    with pytest.raises(ValueError, match="store= needs name="):
        repalign.extract(TinyCNN(), images(), store=object())
    with pytest.raises(ValueError, match="name='cnn' is the model's name in a store"):
        repalign.extract(TinyCNN(), images(), name="cnn")
    with pytest.raises(ValueError, match="has no submodules"):
        repalign.extract(torch.nn.Linear(3, 2), torch.ones(4, 3))
    with pytest.raises(TypeError, match="text stimuli need a tokenizer"):
        repalign.extract(TinyCNN(), ["a cat", "a dog"])
    with pytest.raises(ValueError, match="first axis must be the batch of 3 stimuli"):
        repalign.extract(lambda b: b.T, torch.ones(3, 2))


@pytest.mark.parametrize("stimuli, error, match", [
    ([], ValueError, "stimuli is empty"),
    (np.empty((0, 3)), ValueError, "stimuli is empty"),
    (iter([]), ValueError, "stimuli is empty"),
    (np.float64(1.0), ValueError, "got a 0-d array"),
    (torch.tensor(1.0), ValueError, "got a 0-d array"),
    ({}, ValueError, "empty mapping"),
    ({"a": np.ones(3), "b": np.ones(4)}, ValueError, "one length along axis 0"),
    ("a cat", TypeError, "single string"),
    (np.array([object(), object()], dtype=object), TypeError, "dtype object"),
    ([np.ones(2), np.ones(3)], ValueError, "one shape to be batched"),
    ([["a"], np.ones(1)], TypeError, "mix strings"),
    (3, TypeError, "stimuli must be a tensor, an array"),
])
def test_bad_stimuli(stimuli, error, match):
    with pytest.raises(error, match=match):
        repalign.extract(lambda b: torch.ones(len(b), 1), stimuli)


def test_varying_widths_are_refused():
    def tokens(batch):  # (N, T, 1) with T = the longest word of the batch
        width = max(len(w) for w in batch)
        return torch.ones(len(batch), width, 1)

    with pytest.raises(ValueError, match="gave 3 features in one batch but 1 in another"):
        repalign.extract(tokens, ["a", "b", "ccc"], pool="flatten", batch_size=2)
