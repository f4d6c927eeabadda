"""`nakt train`: supervised training on labeled images (teachers, baselines)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nakt_edge.cli._app import command
from nakt_edge.cli._options import (
    AmpOpt,
    ArchOpt,
    BatchOpt,
    CompileOpt,
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
    ModelArgOpt,
    NoAugmentOpt,
    QatModeOpt,
    QatOpt,
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


@command("train")
def train(
    images: ImagesOpt,
    arch: ArchOpt,
    out: Annotated[Path, typer.Option("--out", help="Run folder to create.")],
    masks: MasksOpt = None,
    encoder: EncoderOpt = None,
    width: WidthOpt = 1.0,
    in_channels: InChannelsOpt = 1,
    model_arg: ModelArgOpt = [],  # noqa: B006 (typer needs a list)
    size: SizeOpt = 384,
    epochs: EpochsOpt = 50,
    batch_size: BatchOpt = 4,
    lr: LrOpt = 1e-4,
    val_fraction: ValFractionOpt = 0.2,
    manifest: ManifestOpt = None,
    split: SplitOpt = None,
    limit: LimitOpt = None,
    device: DeviceOpt = "auto",
    amp: AmpOpt = "auto",
    seed: SeedOpt = 0,
    workers: WorkersOpt = 0,
    max_steps: MaxStepsOpt = None,
    no_augment: NoAugmentOpt = False,
    qat: QatOpt = False,
    qat_mode: QatModeOpt = "round",
    compile_forward: CompileOpt = False,
    resume: ResumeOpt = False,
    force: ForceOpt = False,
) -> None:
    """Train a segmentation model on labeled images (Dice + BCE, Adam, the paper's augmentations)."""
    from nakt_edge.config import TrainConfig
    from nakt_edge.models.registry import parse_model_args
    from nakt_edge.training.train import train as train_api

    config = TrainConfig(size=size, epochs=epochs, batch_size=batch_size, lr=lr, val_fraction=val_fraction,
                         seed=seed, device=device, amp=amp, augment=not no_augment, workers=workers,
                         max_steps_per_epoch=max_steps, qat=qat, qat_mode=qat_mode, compile=compile_forward)  # type: ignore[arg-type]
    with RichReporter() as reporter:
        result = train_api(images, masks, arch, out, encoder=encoder, width=width, in_channels=in_channels,
                           model_kwargs=parse_model_args(model_arg), config=config, manifest=manifest, split=split,
                           limit=limit, resume=resume, force=force, reporter=reporter)
    print_fit(result)
