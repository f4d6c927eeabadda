"""Fine-tuning (Algorithm 2): continue a trained student on a small labeled target set."""

from __future__ import annotations

from pathlib import Path

from nakt_edge.config import TrainConfig
from nakt_edge.data.datasets import load_samples
from nakt_edge.data.pairing import collect_samples
from nakt_edge.data.subsets import take_by_group
from nakt_edge.progress import Reporter
from nakt_edge.training.loop import FitResult, fit
from nakt_edge.training.run import load_run, prepare_run_dir
from nakt_edge.training.train import split_train_val

PAPER_FINETUNE_EPOCHS = 50


def finetune(
    run: str | Path,
    images: str | Path,
    masks: str | Path | None,
    out: str | Path,
    *,
    config: TrainConfig | None = None,
    manifest: str | Path | None = None,
    split: str | None = None,
    limit: int | None = None,
    resume: bool = False,
    force: bool = False,
    reporter: Reporter | None = None,
) -> FitResult:
    """Continue the best weights of ``run`` on labeled images into the new run ``out``.

    The working size is the student's; ``config`` defaults to the student's own recipe with the
    paper's 50 epochs and hard targets. ``limit`` picks a seeded, group-aware subset (the same
    images ``train(..., limit=)`` picks for a from-scratch baseline).
    """
    model, info = load_run(run)
    base = config or info.config.with_(epochs=PAPER_FINETUNE_EPOCHS, max_steps_per_epoch=None)
    config = base.with_(size=info.size, hard_targets=True)
    config.validate()
    samples = collect_samples(images, masks, manifest=manifest, split=split)
    if limit is not None:
        samples = take_by_group(samples, limit, config.seed)
    prepare_run_dir(out, resume=resume, force=force, check_only=True)
    arrays = load_samples(samples, config.size, reporter=reporter)
    train_set, val_set = split_train_val(arrays, config.val_fraction, config.seed)
    meta = {"lineage": {"finetuned_from": str(Path(run).resolve()), "base_task": info.task,
                        "base_lineage": info.lineage},
            "data": {"images": str(images), "masks": str(masks) if masks else None, "manifest":
                     str(manifest) if manifest else None, "split": split, "limit": limit, "count": len(arrays),
                     "files": [s.image.name for s in samples]}}
    return fit(model, info.spec, train_set, val_set, config, out, task="finetune", meta=meta, resume=resume,
               force=force, reporter=reporter)
