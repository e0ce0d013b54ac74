"""Any model in: tiny Hugging Face text and vision models, sentence-transformers, plain
modules with a transform, timm-style ``pretrained_cfg`` preprocessing, DataLoaders.

Every model is built here and saved to a temporary folder; nothing is downloaded. The
references are the models' own outputs (``output_hidden_states``, ``encode``) or the
submodules called by hand, on inputs preprocessed by the model's own processor or by the
transform called by hand.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import repalign  # noqa: E402
from repalign.extraction import (  # noqa: E402
    ImagePreprocess,
    ModuleAdapter,
    SentenceTransformerAdapter,
    TransformersAdapter,
    as_adapter,
)

from ._models import (  # noqa: E402
    TEXTS,
    TinyCNN,
    images,
    save_tiny_bert,
    save_tiny_gpt2,
    save_tiny_sentence_transformer,
    save_tiny_vit,
)

Image = pytest.importorskip("PIL.Image")


def assert_close(a, b, tol=1e-5):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=tol, atol=tol)


def pil_images(sizes, seed=0):
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for h, w in sizes]


def pooled(h, pool):
    """``h`` of shape (1, T, D) (one text, no padding) pooled over its tokens."""
    return {"mean": h[0].mean(0), "cls": h[0, 0], "last": h[0, -1]}[pool]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    pytest.importorskip("transformers")
    pytest.importorskip("tokenizers")
    root = tmp_path_factory.mktemp("models")
    return {"bert": save_tiny_bert(root / "bert"), "gpt2": save_tiny_gpt2(root / "gpt2"),
            "vit": save_tiny_vit(root / "vit"), "root": root}


# --- Hugging Face text models -----------------------------------------------------------


@pytest.mark.parametrize("pool", ["mean", "cls", "last"])
def test_bert_folder_defaults_are_its_hidden_states(folders, pool):
    bert = repalign.load_model(folders["bert"])
    assert isinstance(bert, TransformersAdapter) and bert.source == str(folders["bert"])
    assert repalign.layers(bert) == ["embeddings", "encoder.layer.0", "encoder.layer.1"]
    acts = repalign.extract(bert, TEXTS, pool=pool, batch_size=4)  # padded batches
    for i, text in enumerate(TEXTS):  # each text alone: no padding to mask
        with torch.no_grad():
            hidden = bert.module(**bert.tokenizer([text], return_tensors="pt"),
                                 output_hidden_states=True).hidden_states
        for layer, h in zip(acts, hidden):
            assert_close(acts[layer][i], pooled(h, pool))


@pytest.mark.parametrize("side", ["right", "left"])
def test_gpt2_without_a_pad_token_gives_the_last_real_token(folders, side):
    from transformers import AutoTokenizer

    assert AutoTokenizer.from_pretrained(folders["gpt2"]).pad_token is None
    gpt2 = repalign.load_model(folders["gpt2"])
    assert gpt2.tokenizer.pad_token == gpt2.tokenizer.eos_token  # a padding copy
    gpt2.tokenizer.padding_side = side  # texts are padded on the right all the same
    # no "embeddings" module: the first block's input is the embedding layer
    assert repalign.layers(gpt2) == ["h.0:input", "h.0", "h.1"]
    acts = repalign.extract(gpt2, TEXTS, pool="last", batch_size=3)
    for i, text in enumerate(TEXTS):
        with torch.no_grad():
            hidden = gpt2.module(**gpt2.tokenizer([text], return_tensors="pt"),
                                 output_hidden_states=True).hidden_states
        assert_close(acts["h.0:input"][i], hidden[0][0, -1])
        assert_close(acts["h.0"][i], hidden[1][0, -1])
        # the last hidden state has the final norm applied (per token) to h.1's output
        with torch.no_grad():
            normed = gpt2.module.ln_f(torch.from_numpy(acts["h.1"][i]))
        assert_close(normed, hidden[2][0, -1])


def test_sentence_transformers_folder_and_instance(folders):
    pytest.importorskip("sentence_transformers")
    folder = save_tiny_sentence_transformer(folders["root"] / "st", folders["bert"])
    model = repalign.load_model(folder)
    assert isinstance(model, SentenceTransformerAdapter)
    stream = ["0.model.embeddings", "0.model.encoder.layer.0", "0.model.encoder.layer.1"]
    assert repalign.layers(model) == stream + ["2"]
    acts = repalign.extract(model, TEXTS, batch_size=4)
    assert_close(acts["2"], model.module.encode(TEXTS))
    bert = repalign.load_model(folders["bert"])  # the same weights, as transformers
    reference = repalign.extract(bert, TEXTS)
    for layer, same in zip(stream, reference):
        assert_close(acts[layer], reference[same])
    instance = as_adapter(model.module)
    assert isinstance(instance, SentenceTransformerAdapter)
    assert repalign.layers(instance) == repalign.layers(model)
    images = np.zeros((2, 8, 8, 3), dtype=np.uint8)
    with pytest.raises(TypeError, match=r"stimuli: a sentence-transformers model takes texts "
                                        r"\(a list of str\).*Tensor of shape \(2, 8, 8, 3\)"):
        repalign.extract(model, images)


# --- Hugging Face vision models -----------------------------------------------------------


def test_vit_folder_applies_its_image_processor(folders):
    vit = repalign.load_model(folders["vit"])
    assert vit.image_processor is not None and vit.tokenizer is None
    layers = repalign.layers(vit)
    assert len(layers) == 3 and layers[0] == "embeddings"
    photos = pil_images([(40, 50), (32, 32), (64, 20), (33, 45), (50, 50)])
    acts = repalign.extract(vit, photos, pool="cls", batch_size=2)
    pixels = vit.image_processor(images=photos, return_tensors="pt")["pixel_values"]
    assert pixels.shape == (5, 3, 32, 32)
    with torch.no_grad():
        hidden = vit.module(pixel_values=pixels, output_hidden_states=True).hidden_states
    for layer, h in zip(layers, hidden):
        assert_close(acts[layer], h[:, 0])
    # uint8 arrays (N, H, W, 3) are raw images too; float tensors are pixel values
    same_size = np.stack([np.asarray(p) for p in pil_images([(50, 50)] * 3, seed=1)])
    from_array = repalign.extract(vit, same_size, pool="cls")
    from_pil = repalign.extract(vit, [Image.fromarray(a) for a in same_size], pool="cls")
    for layer in layers:
        assert_close(from_array[layer], from_pil[layer])
    from_pixels = repalign.extract(vit, pixels, pool="cls")
    assert_close(from_pixels[layers[-1]], acts[layers[-1]])
    # a DataLoader of PIL images (collated as lists) gives the same rows
    loader = torch.utils.data.DataLoader(photos, batch_size=3, collate_fn=list)
    assert_close(repalign.extract(vit, loader, pool="cls", batch_size=2)[layers[-1]],
                 acts[layers[-1]])


def test_raw_images_need_an_image_processor(folders):
    vit = repalign.load_model(folders["vit"])
    bare = TransformersAdapter(vit.module)
    with pytest.raises(TypeError, match="has no image processor.*preprocessor_config.json"):
        repalign.extract(bare, pil_images([(32, 32)]))
    with pytest.raises(TypeError, match="has no image processor"):
        repalign.extract(bare, np.zeros((2, 32, 32, 3), np.uint8))


# --- a plain torch.nn.Module with a transform -------------------------------------------


def to_tensor_8(image):
    """A hand-written transform: PIL image -> (3, 8, 8) float, normalised."""
    small = np.asarray(image.convert("RGB").resize((8, 8), Image.BILINEAR), np.float32)
    return (torch.from_numpy(small).permute(2, 0, 1) / 255.0 - 0.5) / 0.25


def test_module_with_a_transform_on_pil_images_datasets_and_loaders():
    model = TinyCNN()
    photos = pil_images([(12, 20), (8, 8), (30, 9), (16, 16), (10, 11), (9, 40), (20, 20)])
    x = torch.stack([to_tensor_8(p) for p in photos])
    with torch.no_grad():
        model.eval()
        want = model.features(x).mean(dim=(2, 3))
    got = repalign.extract(model, photos, layers=["features"], transform=to_tensor_8,
                           batch_size=3)["features"]
    assert_close(got, want)

    class Labelled(torch.utils.data.Dataset):
        def __len__(self):
            return len(photos)

        def __getitem__(self, i):
            return photos[i], i  # (input, target)

    for stimuli in (Labelled(), iter(photos),
                    torch.utils.data.DataLoader(photos, batch_size=4, collate_fn=list)):
        got = repalign.extract(model, stimuli, layers=["features"], transform=to_tensor_8,
                               batch_size=3)["features"]
        assert_close(got, want)


def test_pil_images_need_preprocessing_and_transform_must_be_callable():
    photos = pil_images([(8, 8), (8, 8)])
    with pytest.raises(TypeError, match="stimuli are PIL images, but TinyCNN has no image "
                                        "preprocessing: pass extract\\(..., transform=...\\)"):
        repalign.extract(TinyCNN(), photos)
    with pytest.raises(TypeError, match="transform must be a callable .* got str"):
        repalign.extract(TinyCNN(), photos, transform="resize")
    with pytest.raises(ValueError, match="transform= applies to single stimuli .* mapping"):
        repalign.extract(TinyCNN(), {"x": images()}, transform=to_tensor_8)
    with pytest.raises(TypeError, match="stimuli mix PIL images with other items"):
        repalign.extract(TinyCNN(), [photos[0], np.zeros((3, 8, 8))])


# --- timm-style pretrained_cfg, read by duck typing -------------------------------------


class CfgCNN(TinyCNN):
    """A module that describes its preprocessing as timm models do."""

    pretrained_cfg = {"mean": (0.4, 0.5, 0.6), "std": (0.2, 0.25, 0.3),
                      "input_size": (3, 8, 8), "crop_pct": 0.8, "interpolation": "bilinear"}


def by_hand(image, top, left):
    """Crop 8 x 8 at (top, left), scale to [0, 1] and normalise with CfgCNN's cfg."""
    arr = np.asarray(image, np.float32)[top:top + 8, left:left + 8] / 255.0
    cfg = CfgCNN.pretrained_cfg
    return ((arr - np.array(cfg["mean"])) / np.array(cfg["std"])).transpose(2, 0, 1)


def test_pretrained_cfg_preprocessing_resizes_crops_and_normalises():
    model = CfgCNN()
    adapter = as_adapter(model)
    assert isinstance(adapter.preprocess, ImagePreprocess)
    # floor(8 / 0.8) = 10: a 10 x 10 image is only cropped (offset 1), a 10 x 20 one keeps
    # its shorter side and is cropped at (1, 6)
    photos = pil_images([(10, 10), (10, 20)])
    want = np.stack([by_hand(photos[0], 1, 1), by_hand(photos[1], 1, 6)])
    assert_close(adapter.preprocess(photos), want)
    x = torch.from_numpy(want).float()
    with torch.no_grad():
        model.eval()
        reference = model.features(x).mean(dim=(2, 3))
    assert_close(repalign.extract(model, photos, layers=["features"])["features"], reference)
    # larger images are resized (antialiased) so that the shorter side is 10: as PIL does,
    # up to the difference between torch's and PIL's resampling
    big = pil_images([(40, 40)], seed=3)[0]
    resized = big.resize((10, 10), Image.BILINEAR)
    assert_close(adapter.preprocess([big]), by_hand(resized, 1, 1)[None], tol=0.05)
    # integer arrays are raw images too; float tensors pass through
    arr = np.stack([np.asarray(photos[0])] * 2)
    assert_close(adapter.preprocess(torch.from_numpy(arr)), np.stack([want[0]] * 2))
    assert adapter.preprocess(x) is x


def test_image_preprocess_errors():
    with pytest.raises(ValueError, match=r"input_size must be \(C, H, W\) or \(H, W\); got \(8,\)"):
        ImagePreprocess((0.5,), (0.5,), (8,))
    prep = ImagePreprocess.from_cfg(CfgCNN.pretrained_cfg)
    with pytest.raises(ValueError, match=r"integer images .* \(N, H, W, C\) or \(N, C, H, W\)"
                                         r" with C = 1, 3 or 4; got \(2, 10, 10\)"):
        prep(torch.zeros(2, 10, 10, dtype=torch.uint8))
    with pytest.raises(TypeError, match="preprocess must be callable; got int"):
        ModuleAdapter(TinyCNN(), preprocess=3)


# --- DataLoaders ---------------------------------------------------------------------------


def test_dataloaders_in_order_give_the_rows_of_their_dataset():
    model, x = TinyCNN(), images(11)
    want = repalign.extract(model, x, layers=["head"])["head"]
    pairs = torch.utils.data.TensorDataset(x, torch.arange(11))  # (input, target) batches
    for loader in (torch.utils.data.DataLoader(x, batch_size=4),
                   torch.utils.data.DataLoader(pairs, batch_size=5)):
        for batch_size in (3, 64):
            got = repalign.extract(model, loader, layers=["head"], batch_size=batch_size)
            assert_close(got["head"], want)

    class Stream(torch.utils.data.IterableDataset):  # no length
        def __iter__(self):
            return iter(x)

    got = repalign.extract(model, torch.utils.data.DataLoader(Stream(), batch_size=4),
                           layers=["head"])
    assert_close(got["head"], want)

    class Empty(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter([])

    with pytest.raises(ValueError, match="stimuli is empty"):
        repalign.extract(model, torch.utils.data.DataLoader(Empty(), batch_size=4))


@pytest.mark.parametrize("loader, error, match", [
    (dict(shuffle=True), ValueError, r"sampler \(RandomSampler\) does not read the dataset "
                                     r"in order.*shuffle=False"),
    (dict(drop_last=True), ValueError, "drop_last=True, which leaves out"),
    (dict(collate_fn=lambda items: 3), TypeError, "yielded a batch of type int"),
    (dict(collate_fn=lambda items: (torch.stack(items)[:1],)), ValueError,
     "a DataLoader batch holds 1 inputs where 4 stimuli were expected"),
    (dict(collate_fn=lambda items: torch.tensor(1.0)), ValueError, "yielded a 0-d tensor"),
    (dict(collate_fn=lambda items: ()), ValueError, "yielded an empty batch"),
])
def test_bad_dataloaders(loader, error, match):
    data = torch.utils.data.DataLoader(list(images(10)), batch_size=4, **loader)
    with pytest.raises(error, match=match):
        repalign.extract(TinyCNN(), data, layers=["head"])


def test_transform_on_a_loader_of_model_inputs_is_refused():
    tokens = [{"input_ids": torch.ones(3, dtype=torch.long)} for _ in range(4)]
    loader = torch.utils.data.DataLoader(tokens, batch_size=2)
    with pytest.raises(ValueError, match="this DataLoader yields mappings of model inputs"):
        repalign.extract(lambda b: b["input_ids"].float(), loader, transform=lambda t: t)


# --- torchvision and timm, where installed ----------------------------------------------


def test_torchvision_transform_is_applied_to_each_image():
    transforms = pytest.importorskip("torchvision.transforms")
    transform = transforms.Compose([transforms.Resize(8), transforms.CenterCrop(8),
                                    transforms.ToTensor(),
                                    transforms.Normalize((0.5,) * 3, (0.25,) * 3)])
    model = TinyCNN()
    photos = pil_images([(12, 20), (9, 9), (30, 11)])
    with torch.no_grad():
        model.eval()
        want = model.features(torch.stack([transform(p) for p in photos])).mean(dim=(2, 3))
    got = repalign.extract(model, photos, layers=["features"], transform=transform)
    assert_close(got["features"], want)


def test_timm_model_is_preprocessed_from_its_pretrained_cfg():
    timm = pytest.importorskip("timm")
    model = timm.create_model("resnet18", pretrained=False, num_classes=3).eval()
    assert repalign.layers(model) == ["layer1", "layer2", "layer3", "layer4"]
    config = timm.data.resolve_data_config({}, model=model)
    transform = timm.data.create_transform(**config)
    photos = pil_images([(300, 260), (224, 224)])
    own = as_adapter(model).preprocess(photos)
    assert_close(own, torch.stack([transform(p) for p in photos]), tol=0.15)
    exact = repalign.extract(model, photos, layers=["fc"], transform=transform)["fc"]
    with torch.no_grad():
        assert_close(exact, model(torch.stack([transform(p) for p in photos])), 1e-4)
