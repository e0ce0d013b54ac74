"""Raw images (PIL images, integer arrays) and the preprocessing a model's package describes.

Raw images are PIL images and integer (``uint8``, 0-255) arrays or tensors of shape
``(N, H, W, C)`` or ``(N, C, H, W)``. Floating-point images are taken to be
preprocessed already (the output of a ``transform=``, or ``pixel_values``) and are
never touched here.

timm models describe their preprocessing in a ``pretrained_cfg`` (older versions:
``default_cfg``) dict: ``mean``, ``std``, ``input_size``, ``crop_pct``, ``interpolation``,
``crop_mode``. :func:`preprocess_from_cfg` builds :class:`ImagePreprocess` from it by duck
typing: neither timm nor torchvision is imported (or needed), so any ``nn.Module`` that
carries such a dict is preprocessed the same way.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping

import numpy as np
import torch

__all__ = ["ImagePreprocess", "preprocess_from_cfg", "is_pil_image", "is_image_list",
           "pil_to_tensor"]


def is_pil_image(x) -> bool:
    """Whether ``x`` is a PIL image (without importing PIL)."""
    module = sys.modules.get("PIL.Image")
    cls = getattr(module, "Image", None) if module is not None else None
    return cls is not None and isinstance(x, cls)


def is_image_list(batch) -> bool:
    """Whether ``batch`` is a non-empty list of PIL images."""
    return isinstance(batch, list) and len(batch) > 0 and all(is_pil_image(x) for x in batch)


def pil_to_tensor(image) -> torch.Tensor:
    """A PIL image as an RGB ``uint8`` tensor of shape ``(H, W, 3)``."""
    return torch.from_numpy(np.array(image.convert("RGB"), dtype=np.uint8))


def _channels_first(x: torch.Tensor, what: str) -> torch.Tensor:
    """``(N, H, W, C)`` or ``(N, C, H, W)`` integer images -> ``(N, C, H, W)``."""
    if x.ndim != 4 or not ({x.shape[1], x.shape[3]} & {1, 3, 4}):
        raise ValueError(
            f"stimuli: integer images for {what} must have shape (N, H, W, C) or "
            f"(N, C, H, W) with C = 1, 3 or 4; got {tuple(x.shape)}"
        )
    if x.shape[1] not in (1, 3, 4) or (x.shape[3] in (1, 3, 4) and x.shape[1] > x.shape[3]):
        x = x.permute(0, 3, 1, 2)
    if x.shape[1] == 4:  # RGBA: drop alpha
        x = x[:, :3]
    return x


class ImagePreprocess:
    """Resize, centre-crop and normalise raw images, as timm's evaluation transform does.

    ``images / 255`` are resized so that they cover ``floor(size / crop_pct)`` keeping
    their aspect ratio (for a square ``size``: the shorter side), centre-cropped to
    ``size`` and normalised with ``mean`` and ``std``, like ``timm.data.create_transform(
    **resolve_data_config(model), is_training=False)``. Resizing uses torch's antialiased
    interpolation rather than PIL's, so values differ from timm's by a little; for an
    exact match pass timm's own transform as ``extract(..., transform=...)``.

    Parameters
    ----------
    mean, std : sequence of float
        Per channel, on the 0-1 scale.
    input_size : sequence of int
        ``(C, H, W)`` or ``(H, W)``.
    crop_pct : float, default=0.875
    interpolation : {"bilinear", "bicubic", "nearest"}, default="bilinear"
    crop_mode : {"center", "squash"}, default="center"
        ``"squash"`` resizes to ``floor(size / crop_pct)`` exactly, ignoring the aspect
        ratio, before the crop.

    Calling it on a batch returns ``(N, C, H, W)`` float32: integer arrays/tensors of
    shape ``(N, H, W, C)`` or ``(N, C, H, W)``, and lists of PIL images (converted to RGB),
    are preprocessed; floating-point tensors are returned unchanged.
    """

    def __init__(self, mean, std, input_size, crop_pct=0.875, interpolation="bilinear",
                 crop_mode="center"):
        self.mean = torch.as_tensor(mean, dtype=torch.float32).reshape(-1, 1, 1)
        self.std = torch.as_tensor(std, dtype=torch.float32).reshape(-1, 1, 1)
        size = tuple(int(s) for s in input_size)
        if len(size) not in (2, 3):
            raise ValueError(f"input_size must be (C, H, W) or (H, W); got {input_size!r}")
        self.size = size[-2:]
        self.crop_pct = float(crop_pct) if crop_pct else 0.875
        self.interpolation = interpolation if interpolation in ("bilinear", "bicubic",
                                                                "nearest") else "bilinear"
        self.crop_mode = crop_mode or "center"

    @classmethod
    def from_cfg(cls, cfg: Mapping) -> ImagePreprocess:
        """From a timm ``pretrained_cfg`` mapping (``mean``, ``std``, ``input_size``, ...)."""
        return cls(cfg["mean"], cfg["std"], cfg["input_size"], cfg.get("crop_pct"),
                   cfg.get("interpolation"), cfg.get("crop_mode"))

    def __repr__(self) -> str:
        return (f"ImagePreprocess(mean={self.mean.flatten().tolist()}, "
                f"std={self.std.flatten().tolist()}, size={self.size}, "
                f"crop_pct={self.crop_pct}, interpolation={self.interpolation!r})")

    def _resize_size(self, h: int, w: int) -> tuple[int, int]:
        th, tw = (math.floor(s / self.crop_pct) for s in self.size)
        if self.crop_mode == "squash":
            return th, tw
        if th == tw:  # torchvision Resize(int): the shorter side
            if h <= w:
                return th, int(th * w / h)
            return int(th * h / w), th
        ratio = min(h / th, w / tw)  # timm ResizeKeepRatio: cover the target
        return round(h / ratio), round(w / ratio)

    def _one_size(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) float in [0, 1] of one size -> resized, cropped, normalised."""
        size = self._resize_size(x.shape[2], x.shape[3])
        if size != tuple(x.shape[2:]):
            mode = self.interpolation
            x = torch.nn.functional.interpolate(
                x, size=size, mode=mode, antialias=mode != "nearest",
                **({} if mode == "nearest" else {"align_corners": False})).clamp(0, 1)
        ch, cw = self.size
        pad_h, pad_w = max(ch - x.shape[2], 0), max(cw - x.shape[3], 0)
        if pad_h or pad_w:
            x = torch.nn.functional.pad(x, (pad_w // 2, pad_w - pad_w // 2,
                                            pad_h // 2, pad_h - pad_h // 2))
        top = int(round((x.shape[2] - ch) / 2.0))
        left = int(round((x.shape[3] - cw) / 2.0))
        x = x[:, :, top:top + ch, left:left + cw]
        if x.shape[1] == 1 and self.mean.shape[0] == 3:
            x = x.expand(-1, 3, -1, -1)
        return (x - self.mean) / self.std

    def __call__(self, batch):
        if is_image_list(batch):
            return torch.cat([self(pil_to_tensor(image)[None]) for image in batch])
        if isinstance(batch, np.ndarray):
            batch = torch.from_numpy(batch)
        if not isinstance(batch, torch.Tensor) or batch.is_floating_point():
            return batch
        x = _channels_first(batch, "this preprocessing").to(torch.float32) / 255.0
        return self._one_size(x)


def preprocess_from_cfg(module) -> ImagePreprocess | None:
    """:class:`ImagePreprocess` from a module's timm ``pretrained_cfg`` or ``default_cfg``.

    Returns None unless the module has such a mapping with ``mean``, ``std`` and
    ``input_size``. Found by duck typing: timm is not imported.
    """
    for attr in ("pretrained_cfg", "default_cfg"):
        try:
            cfg = getattr(module, attr, None)
        except Exception:  # a property that fails
            cfg = None
        if isinstance(cfg, Mapping) and all(cfg.get(k) is not None
                                            for k in ("mean", "std", "input_size")):
            return ImagePreprocess.from_cfg(cfg)
    return None
