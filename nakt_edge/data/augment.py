"""The paper's five augmentations, applied jointly to an image and its (soft) mask.

Random crop keeping 70-100% of the rows and of the columns (resized back), horizontal flip,
rotation in [-45, 45] degrees, gamma in [0.7, 1.3] and contrast factor in [0.7, 1.3]
(Wang et al. 2021, Sec. 4.2). Each is applied with probability ``p``; the geometric ones move
image and mask together, the photometric ones touch the image only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as TF


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the paper's augmentations and the probability of applying each."""

    crop_keep: tuple[float, float] = (0.7, 1.0)
    flip: bool = True
    rotation_deg: float = 45.0
    gamma: tuple[float, float] = (0.7, 1.3)
    contrast: tuple[float, float] = (0.7, 1.3)
    p: float = 0.5


class PairAugmenter:
    """Draws the random parameters from its own generator, so a seed reproduces an epoch."""

    def __init__(self, config: AugmentConfig | None = None, seed: int | np.random.SeedSequence = 0) -> None:
        self.config = config or AugmentConfig()
        self.rng = np.random.default_rng(seed)

    def reseed(self, seed: int | list[int]) -> None:
        self.rng = np.random.default_rng(seed)

    def _happens(self) -> bool:
        return bool(self.rng.random() < self.config.p)

    def __call__(self, image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Augment ``image`` and ``mask``, both (1, H, W) float32 in [0, 1]."""
        cfg = self.config
        height, width = image.shape[-2:]
        if self._happens():
            keep_h, keep_w = self.rng.uniform(*cfg.crop_keep, size=2)
            crop_h, crop_w = max(1, round(keep_h * height)), max(1, round(keep_w * width))
            top = int(self.rng.integers(0, height - crop_h + 1))
            left = int(self.rng.integers(0, width - crop_w + 1))
            image = TF.resized_crop(image, top, left, crop_h, crop_w, [height, width], antialias=True)
            mask = TF.resized_crop(mask, top, left, crop_h, crop_w, [height, width], antialias=True)
        if cfg.flip and self._happens():
            image, mask = TF.horizontal_flip(image), TF.horizontal_flip(mask)
        if cfg.rotation_deg > 0 and self._happens():
            angle = float(self.rng.uniform(-cfg.rotation_deg, cfg.rotation_deg))
            image = TF.rotate(image, angle, interpolation=InterpolationMode.BILINEAR, fill=0.0)
            mask = TF.rotate(mask, angle, interpolation=InterpolationMode.BILINEAR, fill=0.0)
        if self._happens():
            image = TF.adjust_gamma(image.clamp(0, 1), float(self.rng.uniform(*cfg.gamma)))
        if self._happens():
            image = TF.adjust_contrast(image, float(self.rng.uniform(*cfg.contrast)))
        return image.clamp(0, 1), mask.clamp(0, 1)
