"""Knowledge transfer (Algorithm 1): train a student of any architecture on a pseudo-labeled set.

The student sees only the teachers' fused masks (soft by default, or thresholded at 0.5), never a
real label; validation is a held-out slice of the pseudo set, or real labels when the user has
them. The run's model.json records the lineage: teachers (sha256), the set's counts and settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from nakt_edge.config import TrainConfig
from nakt_edge.data.datasets import ArraySet, load_samples, split_by_group
from nakt_edge.data.pairing import Sample, collect_samples
from nakt_edge.errors import InputError
from nakt_edge.labeling.pseudo_set import PseudoSet, open_pseudo_set
from nakt_edge.models.registry import ModelSpec, resolve_spec
from nakt_edge.progress import Reporter
from nakt_edge.training.loop import FitResult, fit
from nakt_edge.training.run import initial_model, prepare_run_dir
from nakt_edge.training.train import check_size_for

TARGETS = ("soft", "hard")


def pseudo_split(pseudo: PseudoSet, val_fraction: float, seed: int, include_excluded: bool = False
                 ) -> tuple[list[Sample], list[Sample]]:
    """(train, validation) samples of a pseudo set, split by image before any filtering.

    Training takes the kept rows (every labeled row with ``include_excluded``). Validation also
    keeps the rows excluded for having too few target pixels: there the teachers saw no lesion,
    and a student that marks one must score lower (kept rows all contain a lesion, so without
    them validation would never see a false positive on an empty image).
    """
    rows = [r for r in pseudo.rows if not r.reason.startswith("unreadable")]
    train_idx, val_idx = split_by_group([r.stem for r in rows], val_fraction, seed)
    train = [pseudo.sample(rows[i]) for i in train_idx if rows[i].kept or include_excluded]
    val = [pseudo.sample(rows[i]) for i in val_idx if rows[i].kept or rows[i].reason == "few_pixels"
           or include_excluded]
    if not train:
        raise InputError("the pseudo-labeled set keeps no image for training",
                         hint="relabel with a looser --max-entropy/--min-pixels or pass --include-excluded",
                         path=pseudo.path)
    return train, val


def lineage_of(pseudo: PseudoSet, targets: str, include_excluded: bool) -> dict[str, Any]:
    summary = pseudo.summary
    return {
        "pseudo_set": str(pseudo.path.resolve()),
        "teachers": [{"path": t["path"], "sha256": t["sha256"]} for t in summary.get("teachers", [])],
        "pseudo_counts": summary.get("counts"),
        "pseudo_settings": summary.get("settings"),
        "targets": targets,
        "include_excluded": include_excluded,
    }


def _pooled_lineage(lineages: list[dict[str, Any]]) -> dict[str, Any]:
    """One set's lineage as it is; several sets' side by side, with their teachers listed once."""
    if len(lineages) == 1:
        return lineages[0]
    teachers: list[dict[str, Any]] = []
    for lineage in lineages:
        teachers += [t for t in lineage["teachers"] if t not in teachers]
    return {"pseudo_sets": lineages, "teachers": teachers, "targets": lineages[0]["targets"],
            "include_excluded": lineages[0]["include_excluded"]}


def distill(
    pseudo: str | Path | Sequence[str | Path],
    arch: str,
    out: str | Path,
    *,
    encoder: str | None = None,
    width: float = 1.0,
    in_channels: int = 1,
    model_kwargs: dict[str, Any] | None = None,
    config: TrainConfig | None = None,
    targets: str = "soft",
    include_excluded: bool = False,
    images: str | Path | None = None,
    val_images: str | Path | None = None,
    val_masks: str | Path | None = None,
    resume: bool = False,
    force: bool = False,
    init: str | Path | None = None,
    reporter: Reporter | None = None,
) -> FitResult:
    """Train a student ``arch`` on the pseudo-labeled set ``pseudo`` (or several, pooled) into the run ``out``.

    Args:
        pseudo: one pseudo-labeled set, or several (e.g. BUSI transfer plus generated phantoms);
            each is split into training and validation by its own groups.
        targets: ``soft`` (the fused probabilities) or ``hard`` (thresholded at 0.5).
        include_excluded: also train on images the alpha/beta rules excluded (ablations).
        images: where the labeled images are now, if they moved since ``nakt label`` (one set only).
        val_images, val_masks: real labels for validation (else a slice of the pseudo set).
        init: start from the best weights of this earlier run of the same model (e.g. for --qat).
    """
    if targets not in TARGETS:
        raise InputError(f"unknown --targets '{targets}'", hint="use soft or hard")
    config = (config or TrainConfig()).with_(hard_targets=targets == "hard")
    config.validate()
    spec = resolve_spec(ModelSpec(arch, encoder, in_channels, width, dict(model_kwargs or {})))
    check_size_for(spec, config.size)
    paths = [pseudo] if isinstance(pseudo, (str, Path)) else list(pseudo)
    if not paths or (images is not None and len(paths) > 1):
        raise InputError("pass one --pseudo set with --images, or one or more sets without it",
                         hint="--images relocates the images of a single pseudo-labeled set")
    pseudo_sets = [open_pseudo_set(path, images) for path in paths]
    real_val = collect_samples(val_images, val_masks) if val_images is not None else None
    train_samples, val_samples = [], []
    for pseudo_set in pseudo_sets:
        train_part, val_part = pseudo_split(pseudo_set, 0.0 if real_val else config.val_fraction, config.seed,
                                            include_excluded)
        train_samples += train_part
        val_samples += val_part
    prepare_run_dir(out, resume=resume, force=force, check_only=True)
    train_set = load_samples(train_samples, config.size, soft_targets=True, reporter=reporter)
    val_set: ArraySet | None = None
    if real_val is not None:
        val_set = load_samples(real_val, config.size, reporter=reporter)
    elif val_samples:
        val_set = load_samples(val_samples, config.size, soft_targets=True, reporter=reporter)
    torch.manual_seed(config.seed)
    model, start = initial_model(spec, init)
    meta = {"lineage": {**_pooled_lineage([lineage_of(p, targets, include_excluded) for p in pseudo_sets]), **start},
            "data": {"pseudo": [str(p) for p in paths] if len(paths) > 1 else str(paths[0]),
                     "images": [str(p.images) for p in pseudo_sets] if len(paths) > 1 else str(pseudo_sets[0].images),
                     "count": len(train_set),
                     "validation": "real labels" if real_val is not None else
                     "pseudo-set slice (kept and few-pixel rows)",
                     "val_images": str(val_images) if val_images else None}}
    return fit(model, spec, train_set, val_set, config, out, task="distill", meta=meta, resume=resume,
               force=force, reporter=reporter)
