"""`nakt distill` (Algorithm 1) and `nakt finetune` (Algorithm 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from nakt_edge.cli._app import command, console
from nakt_edge.cli._options import (
    ArchOpt,
    BatchOpt,
    DeviceOpt,
    EncoderOpt,
    EpochsOpt,
    ForceOpt,
    ImagesOpt,
    InChannelsOpt,
    LimitOpt,
    LrOpt,
    ManifestOpt,
    MasksOpt,
    MaxStepsOpt,
    NoAugmentOpt,
    ResumeOpt,
    SeedOpt,
    SizeOpt,
    SplitOpt,
    ValFractionOpt,
    WidthOpt,
    WorkersOpt,
)
from nakt_edge.cli._progress import RichReporter
from nakt_edge.cli._render import print_fit


@command("distill")
def distill(
    pseudo: Annotated[Path, typer.Option("--pseudo", help="Pseudo-labeled set written by nakt label.")],
    arch: ArchOpt,
    out: Annotated[Path, typer.Option("--out", help="Run folder of the student.")],
    encoder: EncoderOpt = None,
    width: WidthOpt = 1.0,
    in_channels: InChannelsOpt = 1,
    targets: Annotated[str, typer.Option("--targets", help="soft (fused probabilities) or hard (> 0.5).")] = "soft",
    include_excluded: Annotated[bool, typer.Option(
        "--include-excluded", help="Also train on images the alpha/beta rules excluded (ablation).")] = False,
    images: Annotated[Optional[Path], typer.Option(
        "--images", help="Where the labeled images are now, if they moved since nakt label.")] = None,
    val_images: Annotated[Optional[Path], typer.Option("--val-images", help="Real labeled validation images.")] = None,
    val_masks: Annotated[Optional[Path], typer.Option("--val-masks", help="Masks of --val-images.")] = None,
    finetune_images: Annotated[Optional[Path], typer.Option(
        "--finetune-images", help="Then fine-tune on these labeled images (Algorithm 2).")] = None,
    finetune_masks: Annotated[Optional[Path], typer.Option("--finetune-masks", help="Masks of --finetune-images.")
                              ] = None,
    finetune_epochs: Annotated[int, typer.Option("--finetune-epochs", min=1, help="Fine-tuning epochs (paper: 50).")
                               ] = 50,
    finetune_out: Annotated[Optional[Path], typer.Option(
        "--finetune-out", help="Run folder of the fine-tuned student (default: OUT-finetuned).")] = None,
    size: SizeOpt = 384,
    epochs: EpochsOpt = 50,
    batch_size: BatchOpt = 4,
    lr: LrOpt = 1e-4,
    val_fraction: ValFractionOpt = 0.2,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
    workers: WorkersOpt = 0,
    max_steps: MaxStepsOpt = None,
    no_augment: NoAugmentOpt = False,
    resume: ResumeOpt = False,
    force: ForceOpt = False,
) -> None:
    """Train a student of any architecture on a pseudo-labeled set (optionally then fine-tune it)."""
    from nakt_edge.config import TrainConfig
    from nakt_edge.training.distill import distill as distill_api
    from nakt_edge.training.finetune import finetune as finetune_api

    config = TrainConfig(size=size, epochs=epochs, batch_size=batch_size, lr=lr, val_fraction=val_fraction,
                         seed=seed, device=device, augment=not no_augment, workers=workers,
                         max_steps_per_epoch=max_steps)  # type: ignore[arg-type]
    with RichReporter() as reporter:
        result = distill_api(pseudo, arch, out, encoder=encoder, width=width, in_channels=in_channels, config=config,
                             targets=targets, include_excluded=include_excluded, images=images,
                             val_images=val_images, val_masks=val_masks, resume=resume, force=force,
                             reporter=reporter)
    print_fit(result)
    if finetune_images is not None:
        target = finetune_out or out.with_name(out.name + "-finetuned")
        with RichReporter() as reporter:
            tuned = finetune_api(out, finetune_images, finetune_masks, target,
                                 config=config.with_(epochs=finetune_epochs), resume=resume, force=force,
                                 reporter=reporter)
        print_fit(tuned)


@command("finetune")
def finetune(
    run: Annotated[Path, typer.Argument(help="Student run folder to continue from.")],
    images: ImagesOpt,
    out: Annotated[Path, typer.Option("--out", help="Run folder of the fine-tuned student.")],
    masks: MasksOpt = None,
    manifest: ManifestOpt = None,
    split: SplitOpt = None,
    limit: LimitOpt = None,
    epochs: EpochsOpt = 50,
    batch_size: BatchOpt = 4,
    lr: LrOpt = 1e-4,
    val_fraction: ValFractionOpt = 0.2,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
    max_steps: MaxStepsOpt = None,
    resume: ResumeOpt = False,
    force: ForceOpt = False,
) -> None:
    """Fine-tune a trained student on a small labeled target set (Algorithm 2, paper: 50 epochs)."""
    from nakt_edge.training.finetune import finetune as finetune_api
    from nakt_edge.training.run import read_run_info

    base = read_run_info(run).config
    config = base.with_(epochs=epochs, batch_size=batch_size, lr=lr, val_fraction=val_fraction, device=device,
                        seed=seed, max_steps_per_epoch=max_steps)
    with RichReporter() as reporter:
        result = finetune_api(run, images, masks, out, config=config, manifest=manifest, split=split, limit=limit,
                              resume=resume, force=force, reporter=reporter)
    print_fit(result)
    console.print(f"fine-tuned from {run}")
