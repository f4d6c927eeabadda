"""`nakt train`: supervised training on labeled images (teachers, baselines)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

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
    LimitOpt,
    LrOpt,
    ManifestOpt,
    MasksOpt,
    ResumeOpt,
    SeedOpt,
    SizeOpt,
    SplitOpt,
    WidthOpt,
)
from nakt_edge.cli._progress import RichReporter
from nakt_edge.cli._render import print_table

if TYPE_CHECKING:
    from nakt_edge.training.loop import FitResult

ValFractionOpt = Annotated[float, typer.Option("--val-fraction", min=0.0, max=0.9,
                                               help="Share held out for validation (split by group).")]
MaxStepsOpt = Annotated[Optional[int], typer.Option("--max-steps", min=1, help="Cap optimizer steps per epoch.")]
NoAugmentOpt = Annotated[bool, typer.Option("--no-augment", help="Switch off the paper's augmentations.")]
WorkersOpt = Annotated[int, typer.Option("--workers", min=0, help="DataLoader worker processes.")]
InChannelsOpt = Annotated[int, typer.Option("--in-channels", help="Model input channels: 1 (gray) or 3.")]


def print_fit(result: FitResult) -> None:
    """The epochs table and where the run is."""
    print_table(f"run {result.run_dir}", ["epoch", "train loss", "val loss", "val Dice", "s", "best"],
                [[r["epoch"], r["train_loss"], r["val_loss"], r["val_dice"], f"{r['seconds']:.1f}",
                  "*" if r["best"] else ""] for r in result.history])
    best = result.best_val_dice
    best_text = f"best val Dice {best:.4f} at epoch {result.best_epoch}" if best is not None else \
        "no validation set: kept the last epoch"
    console.print(f"{best_text}; weights in {result.run_dir}/model.safetensors")


@command("train")
def train(
    images: ImagesOpt,
    arch: ArchOpt,
    out: Annotated[Path, typer.Option("--out", help="Run folder to create.")],
    masks: MasksOpt = None,
    encoder: EncoderOpt = None,
    width: WidthOpt = 1.0,
    in_channels: InChannelsOpt = 1,
    size: SizeOpt = 384,
    epochs: EpochsOpt = 50,
    batch_size: BatchOpt = 4,
    lr: LrOpt = 1e-4,
    val_fraction: ValFractionOpt = 0.2,
    manifest: ManifestOpt = None,
    split: SplitOpt = None,
    limit: LimitOpt = None,
    device: DeviceOpt = "auto",
    seed: SeedOpt = 0,
    workers: WorkersOpt = 0,
    max_steps: MaxStepsOpt = None,
    no_augment: NoAugmentOpt = False,
    resume: ResumeOpt = False,
    force: ForceOpt = False,
) -> None:
    """Train a segmentation model on labeled images (Dice + BCE, Adam, the paper's augmentations)."""
    from nakt_edge.config import TrainConfig
    from nakt_edge.training.train import train as train_api

    config = TrainConfig(size=size, epochs=epochs, batch_size=batch_size, lr=lr, val_fraction=val_fraction,
                         seed=seed, device=device, augment=not no_augment, workers=workers,
                         max_steps_per_epoch=max_steps)  # type: ignore[arg-type]
    with RichReporter() as reporter:
        result = train_api(images, masks, arch, out, encoder=encoder, width=width, in_channels=in_channels,
                           config=config, manifest=manifest, split=split, limit=limit, resume=resume, force=force,
                           reporter=reporter)
    print_fit(result)
