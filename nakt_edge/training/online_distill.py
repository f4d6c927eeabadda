"""On-the-fly ("consistent") distillation: the ONNX teachers label every augmented view the student sees.

Beyer et al. (2022), "Knowledge distillation: A good teacher is patient and consistent"
(arXiv:2106.05237): a fixed, precomputed teacher output lets the student overfit; matching the
teacher's function on the very view the student is trained on (same crop, flip, rotation,
photometric change, optionally a mixup blend of two transferal images) does not. Here the teachers
run under ONNX Runtime inside the training loop, once per batch (batched), and the paper's rules
(fusion, alpha/beta exclusion) are applied to each view: a view the offline path would have
excluded is dropped from the batch. The offline pseudo-labeled set (``distill``) stays the
paper's path and the default.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nakt_edge.config import LabelConfig, TrainConfig
from nakt_edge.data.datasets import ArraySet, load_samples, split_by_group
from nakt_edge.data.pairing import collect_unlabeled
from nakt_edge.errors import InputError
from nakt_edge.labeling.filters import Assessment, assess, min_pixels_for, quantize
from nakt_edge.labeling.fusion import fuse, normalised_weights
from nakt_edge.labeling.labeler import predict_teacher
from nakt_edge.models.registry import ModelSpec, resolve_spec
from nakt_edge.progress import Reporter
from nakt_edge.provenance import sha256_file
from nakt_edge.runtime.onnx_segmenter import OnnxSegmenter
from nakt_edge.training.loop import FitResult, fit
from nakt_edge.training.run import initial_model, prepare_run_dir
from nakt_edge.training.train import check_size_for


class TeacherInTheLoop:
    """A ``ViewLabeler``: fused teacher probabilities of each view, the exclusion rules per view.

    Args:
        segmenters: the ONNX teachers.
        config: fusion, weights, alpha/beta rules and TTA, as for ``nakt label``.
        size: working size (alpha is scaled to it).
        hard_targets: threshold the fused probabilities at 0.5.
        mixup: Beta(mixup, mixup) blend weight of each view with another view of the batch (0: off).
    """

    def __init__(self, segmenters: Sequence[OnnxSegmenter], config: LabelConfig, size: int, *,
                 hard_targets: bool = False, mixup: float = 0.0, seed: int = 0) -> None:
        if mixup < 0:
            raise InputError(f"--mixup must be >= 0 (got {mixup})", hint="0 switches it off; 0.2-1.0 is usual")
        normalised_weights(config.weights, len(segmenters))
        self.segmenters = list(segmenters)
        self.config = config
        self.alpha = min_pixels_for(size, size, min_pixels=config.min_pixels, min_fraction=config.min_fraction)
        self.hard_targets = hard_targets
        self.mixup = mixup
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self._stats = {"views": 0, "views_kept": 0, "teacher_seconds": 0.0}

    def begin_epoch(self, epoch: int) -> None:
        """Reseed from (seed, epoch), so a resumed run blends the same pairs as an uninterrupted one."""
        self.rng = np.random.default_rng([self.seed, epoch])

    def fused(self, gray: np.ndarray) -> np.ndarray:
        """Fused foreground probabilities (N, S, S) of gray images (N, S, S) in [0, 1]."""
        probs = np.stack([predict_teacher(s, gray, self.config.tta) for s in self.segmenters])
        return fuse(probs, self.config.fusion, self.config.weights)

    def assess(self, fused: np.ndarray) -> list[Assessment]:
        return [assess(quantize(p), self.alpha, self.config.max_entropy, enabled=self.config.filter) for p in fused]

    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        started = time.perf_counter()
        views = images
        if self.mixup > 0 and len(images) > 1:
            weight = torch.from_numpy(self.rng.beta(self.mixup, self.mixup, len(images)).astype(np.float32))
            views = weight[:, None, None, None] * images + (1 - weight[:, None, None, None]) * \
                images[torch.from_numpy(self.rng.permutation(len(images)))]
        fused = self.fused(np.ascontiguousarray(views[:, 0].numpy(), np.float32))
        keep = torch.tensor([a.kept for a in self.assess(fused)])
        targets = torch.from_numpy(fused)[:, None]
        if self.hard_targets:
            targets = (targets >= 0.5).float()
        self._stats["views"] += len(images)
        self._stats["views_kept"] += int(keep.sum())
        self._stats["teacher_seconds"] += time.perf_counter() - started
        return views[keep], targets[keep]

    def take_stats(self) -> dict[str, float]:
        stats = {**self._stats, "teacher_seconds": round(self._stats["teacher_seconds"], 3)}
        self._stats = {"views": 0, "views_kept": 0, "teacher_seconds": 0.0}
        return stats

    def label_validation(self, arrays: ArraySet, batch: int = 16) -> ArraySet:
        """``arrays`` with the teachers' fused masks as targets, un-augmented; like the offline path's
        validation it keeps the kept and the few-pixel images (where a student must stay empty)."""
        targets, keep = [], []
        for start in range(0, len(arrays), batch):
            fused = self.fused(arrays.images[start:start + batch].astype(np.float32) / 255.0)
            targets.append(quantize(fused))
            keep += [a.kept or a.reason == "few_pixels" for a in self.assess(fused)]
        labeled = ArraySet(arrays.images, np.concatenate(targets), arrays.stems, arrays.groups)
        return labeled.subset([i for i, k in enumerate(keep) if k])


def distill_online(
    teachers: Sequence[str | Path],
    images: Sequence[str | Path],
    arch: str,
    out: str | Path,
    *,
    encoder: str | None = None,
    width: float = 1.0,
    in_channels: int = 1,
    model_kwargs: dict[str, Any] | None = None,
    config: TrainConfig | None = None,
    label_config: LabelConfig | None = None,
    targets: str = "soft",
    mixup: float = 0.0,
    manifest: str | Path | None = None,
    split: str | None = None,
    overrides: dict[str, str] | None = None,
    resume: bool = False,
    force: bool = False,
    init: str | Path | None = None,
    reporter: Reporter | None = None,
) -> FitResult:
    """Train a student ``arch`` while the ONNX ``teachers`` label each augmented view (function matching).

    Args:
        teachers: ONNX files (contracts from metadata, sidecar or ``overrides``).
        images: one or more folders of unlabeled transferal images.
        label_config: fusion, weights, alpha/beta rules, TTA, ORT device and threads (its ``size``
            is ignored: the teachers label views at the training size).
        targets: ``soft`` (fused probabilities) or ``hard`` (> 0.5).
        mixup: Beta parameter of a blend of two transferal views labeled as one (0: off).
        manifest, split: select the images of the folders the manifest lists (others are taken whole).
        init: start from the best weights of this earlier run of the same model (e.g. for --qat).
    """
    if targets not in ("soft", "hard"):
        raise InputError(f"unknown --targets '{targets}'", hint="use soft or hard")
    if not teachers:
        raise InputError("no teacher given", hint="pass at least one --teacher MODEL.onnx")
    config = (config or TrainConfig()).with_(hard_targets=False)
    config.validate()
    label_config = (label_config or LabelConfig()).validate()
    spec = resolve_spec(ModelSpec(arch, encoder, in_channels, width, dict(model_kwargs or {})))
    check_size_for(spec, config.size)
    for teacher in teachers:
        if not Path(teacher).is_file():
            raise InputError("teacher model not found", hint="check the --teacher path", path=teacher)
    samples = collect_unlabeled(images, manifest=manifest, split=split)
    segmenters = [OnnxSegmenter(t, overrides=overrides, device=label_config.device, threads=label_config.threads,
                                size=config.size) for t in teachers]
    labeler = TeacherInTheLoop(segmenters, label_config, config.size, hard_targets=targets == "hard", mixup=mixup,
                               seed=config.seed)
    prepare_run_dir(out, resume=resume, force=force, check_only=True)
    arrays = load_samples(samples, config.size, unlabeled=True, reporter=reporter)
    train_idx, val_idx = split_by_group(arrays.groups, config.val_fraction, config.seed)
    val_set = labeler.label_validation(arrays.subset(val_idx)) if val_idx else None
    torch.manual_seed(config.seed)
    model, start = initial_model(spec, init)
    counts = {str(folder): sum(1 for s in samples if s.image.path.parent == Path(folder)) for folder in images}
    meta = {"lineage": {"mode": "on-the-fly", "teachers": [{"path": str(t), "sha256": sha256_file(t)}
                                                           for t in teachers],
                        "teacher_contracts": [s.describe() for s in segmenters],
                        "label_settings": {**label_config.identity(), "size": config.size}, "targets": targets,
                        "mixup": mixup, **start},
            "data": {"images": [str(i) for i in images], "per_folder": counts, "manifest": str(manifest) if manifest
                     else None, "split": split, "count": len(train_idx),
                     "validation": "teacher-labeled slice (kept and few-pixel views, not augmented)"}}
    return fit(model, spec, arrays.subset(train_idx), val_set, config, out, task="distill", meta=meta,
               resume=resume, force=force, reporter=reporter, labeler=labeler)
