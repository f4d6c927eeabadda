"""In-memory training sets at the working size, and the torch Dataset that augments them.

Images and targets are held as uint8 (targets as round(255 p)), so a 20,000-image set at 384 px
fits in a few GB; they are decoded once, in threads, and augmented on the fly.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from nakt_edge.data.augment import PairAugmenter
from nakt_edge.data.images import read_masks_merged, read_soft_mask, resize_to
from nakt_edge.data.pairing import Sample
from nakt_edge.errors import InputError
from nakt_edge.progress import Reporter


@dataclass
class ArraySet:
    """Images (N, S, S) uint8 and targets (N, S, S) uint8 = round(255 p), with names and groups."""

    images: np.ndarray
    targets: np.ndarray
    stems: list[str]
    groups: list[str]

    def __len__(self) -> int:
        return len(self.stems)

    def subset(self, indices: Sequence[int]) -> ArraySet:
        index = np.asarray(indices, dtype=np.int64)
        return ArraySet(
            self.images[index], self.targets[index], [self.stems[i] for i in index], [self.groups[i] for i in index]
        )


def _load_labeled(sample: Sample, size: int) -> tuple[np.ndarray, np.ndarray]:
    image = sample.image.read_gray_u8()
    mask = read_masks_merged(sample.masks)
    if mask.shape != image.shape:
        raise InputError(
            f"mask is {mask.shape[1]}x{mask.shape[0]} but its image is {image.shape[1]}x{image.shape[0]}",
            hint=f"resize the mask to the size of {sample.image.name} or fix the pairing",
            path=sample.masks[0],
        )
    target = resize_to(mask.astype(np.float32), size, size) >= 0.5
    return resize_to(image, size, size), target.astype(np.uint8) * 255


def _load_soft(sample: Sample, size: int) -> tuple[np.ndarray, np.ndarray]:
    image = sample.image.read_gray_u8()
    target = resize_to(read_soft_mask(sample.masks[0]), size, size)
    return resize_to(image, size, size), np.round(np.clip(target, 0, 1) * 255).astype(np.uint8)


def _load_unlabeled(sample: Sample, size: int) -> tuple[np.ndarray, np.ndarray]:
    return resize_to(sample.image.read_gray_u8(), size, size), np.zeros((size, size), np.uint8)


def load_samples(
    samples: Sequence[Sample],
    size: int,
    *,
    soft_targets: bool = False,
    unlabeled: bool = False,
    reporter: Reporter | None = None,
    workers: int | None = None,
) -> ArraySet:
    """Decode and resize ``samples`` to ``size`` x ``size``.

    Args:
        samples: images with their mask files (binary label masks, or one stored pseudo mask
            when ``soft_targets``).
        size: working size S.
        soft_targets: read masks as probabilities (pseudo masks, stored at any size) instead of
            binary labels (which must have the size of their image).
        unlabeled: images only (targets all zero: a teacher in the loop labels them later).
    """
    if not samples:
        raise InputError("no samples to load", hint="check the image folder and the manifest split")
    loader: Callable[[Sample, int], tuple[np.ndarray, np.ndarray]] = (
        _load_unlabeled if unlabeled else _load_soft if soft_targets else _load_labeled)
    reporter = reporter or Reporter()
    reporter.start("load", f"loading {len(samples)} images", len(samples))
    images = np.empty((len(samples), size, size), np.uint8)
    targets = np.empty((len(samples), size, size), np.uint8)
    with ThreadPoolExecutor(max_workers=workers or min(4, os.cpu_count() or 1)) as pool:
        for index, (image, target) in enumerate(pool.map(lambda s: loader(s, size), samples)):
            images[index], targets[index] = image, target
            reporter.advance("load")
    reporter.finish("load")
    return ArraySet(images, targets, [s.stem for s in samples], [s.group or s.stem for s in samples])


def split_by_group(groups: Sequence[str], val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Split indices into (train, val) so that no group crosses: whole groups go to validation.

    Groups are shuffled with ``seed`` and added to validation until it holds ``val_fraction`` of
    the images (at least one image when the fraction is positive and there are two groups).
    """
    unique = sorted(set(groups))
    if val_fraction <= 0 or len(unique) < 2:
        return list(range(len(groups))), []
    order = np.random.default_rng(seed).permutation(len(unique))
    wanted = max(1, round(val_fraction * len(groups)))
    members: dict[str, list[int]] = {}
    for index, group in enumerate(groups):
        members.setdefault(group, []).append(index)
    val: list[int] = []
    for position in order:
        group = members[unique[position]]
        if len(val) >= wanted:
            break
        if len(val) + len(group) < len(groups):
            val.extend(group)
    val_set = set(val)
    return [i for i in range(len(groups)) if i not in val_set], sorted(val)


class AugmentedDataset:
    """Map-style dataset over an ``ArraySet``: (image (C, S, S), target (1, S, S)) float32 tensors.

    Images are scaled by 1/255 (the ``unit`` normalization of our models) and repeated to
    ``in_channels``; targets stay soft unless ``hard_targets`` (thresholded at 0.5 after
    augmentation).
    """

    def __init__(
        self,
        arrays: ArraySet,
        augmenter: PairAugmenter | None = None,
        *,
        in_channels: int = 1,
        hard_targets: bool = False,
    ) -> None:
        self.arrays = arrays
        self.augmenter = augmenter
        self.in_channels = in_channels
        self.hard_targets = hard_targets

    def __len__(self) -> int:
        return len(self.arrays)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = torch.from_numpy(self.arrays.images[index]).float().div_(255.0)[None]
        target = torch.from_numpy(self.arrays.targets[index]).float().div_(255.0)[None]
        if self.augmenter is not None:
            image, target = self.augmenter(image, target)
        if self.hard_targets:
            target = (target >= 0.5).float()
        if self.in_channels != 1:
            image = image.expand(self.in_channels, -1, -1).contiguous()
        return image, target
