"""Supervised training on labeled images: teachers, baselines, and training from scratch."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from nakt_edge.config import TrainConfig
from nakt_edge.data.datasets import ArraySet, load_samples, split_by_group
from nakt_edge.data.images import check_working_size
from nakt_edge.data.pairing import collect_samples
from nakt_edge.data.subsets import take_by_group
from nakt_edge.models.registry import ModelSpec, build_model, get_arch, resolve_spec
from nakt_edge.progress import Reporter
from nakt_edge.training.loop import FitResult, fit
from nakt_edge.training.run import prepare_run_dir

log = logging.getLogger("nakt_edge")


def check_size_for(spec: ModelSpec, size: int) -> None:
    """The working size must be a multiple of 16 and of the architecture's own divisor."""
    info = get_arch(spec.arch)
    check_working_size(size, max(16, info.divisor), arch=info.name if info.divisor > 16 else None)


def split_train_val(arrays: ArraySet, val_fraction: float, seed: int) -> tuple[ArraySet, ArraySet | None]:
    train_idx, val_idx = split_by_group(arrays.groups, val_fraction, seed)
    return arrays.subset(train_idx), (arrays.subset(val_idx) if val_idx else None)


def train(
    images: str | Path,
    masks: str | Path | None,
    arch: str,
    out: str | Path,
    *,
    encoder: str | None = None,
    width: float = 1.0,
    in_channels: int = 1,
    model_kwargs: dict[str, Any] | None = None,
    config: TrainConfig | None = None,
    manifest: str | Path | None = None,
    split: str | None = None,
    limit: int | None = None,
    resume: bool = False,
    force: bool = False,
    reporter: Reporter | None = None,
) -> FitResult:
    """Train ``arch`` on labeled images (masks by stem, or BUSI ``*_mask*`` files) into the run ``out``.

    Validation is a ``config.val_fraction`` slice split by the manifest's ``group`` column (near-
    duplicate frames stay on one side), or by file when there is no manifest. ``limit`` trains on
    a seeded, group-aware subset of that many images (the same one ``finetune`` picks).
    """
    config = config or TrainConfig()
    config.validate()
    spec = resolve_spec(ModelSpec(arch, encoder, in_channels, width, dict(model_kwargs or {})))
    check_size_for(spec, config.size)
    samples = collect_samples(images, masks, manifest=manifest, split=split)
    if limit is not None:
        samples = take_by_group(samples, limit, config.seed)
    prepare_run_dir(out, resume=resume, force=force, check_only=True)
    arrays = load_samples(samples, config.size, reporter=reporter)
    train_set, val_set = split_train_val(arrays, config.val_fraction, config.seed)
    torch.manual_seed(config.seed)
    model = build_model(spec)
    meta = {"data": {"images": str(images), "masks": str(masks) if masks else None, "manifest":
                     str(manifest) if manifest else None, "split": split, "limit": limit,
                     "count": len(arrays), "files": [s.image.name for s in samples] if limit else None}}
    return fit(model, spec, train_set, val_set, config, out, task="train", meta=meta, resume=resume, force=force,
               reporter=reporter)
