"""Options shared by several commands, declared once as ``Annotated`` aliases."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

ImagesOpt = Annotated[Path, typer.Option("--images", help="Folder of images (PNG/JPG/BMP/TIFF).")]
MasksOpt = Annotated[Optional[Path], typer.Option(
    "--masks", help="Folder of masks named like their image (masks/<stem>.*); default: <stem>_mask*.png beside it.")]
ManifestOpt = Annotated[Optional[Path], typer.Option(
    "--manifest", help="CSV with 'file' and 'split' (optional 'group') columns that selects images.")]
SplitOpt = Annotated[Optional[str], typer.Option("--split", help="Use only the manifest rows of this split.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite existing outputs.")]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto (GPU when usable), cpu or cuda (fails without one).")]
ThreadsOpt = Annotated[Optional[int], typer.Option("--threads", min=1, help="CPU threads for inference.")]
SizeOpt = Annotated[int, typer.Option("--size", min=16, help="Working size S: images are resized to S x S.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Random seed.")]
ArchOpt = Annotated[str, typer.Option("--arch", help="Architecture name (see `nakt models`).")]
EncoderOpt = Annotated[Optional[str], typer.Option("--encoder", help="smp encoder, e.g. resnet18, mobilenet_v2.")]
WidthOpt = Annotated[float, typer.Option("--width", min=0.01, help="Width multiplier (decoder for smp models).")]
EpochsOpt = Annotated[int, typer.Option("--epochs", min=1, help="Training epochs.")]
BatchOpt = Annotated[int, typer.Option("--batch-size", min=1, help="Images per optimizer step (paper: 4).")]
LrOpt = Annotated[float, typer.Option("--lr", help="Adam learning rate (paper: 1e-4).")]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="Continue an interrupted run from its last epoch.")]
LimitOpt = Annotated[Optional[int], typer.Option(
    "--limit", min=1, help="Use a seeded, group-aware subset of this many labeled images.")]
ValFractionOpt = Annotated[float, typer.Option("--val-fraction", min=0.0, max=0.9,
                                               help="Share held out for validation (split by group).")]
MaxStepsOpt = Annotated[Optional[int], typer.Option("--max-steps", min=1, help="Cap optimizer steps per epoch.")]
NoAugmentOpt = Annotated[bool, typer.Option("--no-augment", help="Switch off the paper's augmentations.")]
WorkersOpt = Annotated[int, typer.Option("--workers", min=0, help="DataLoader worker processes.")]
AmpOpt = Annotated[str, typer.Option(
    "--amp", help="Mixed precision: auto (bf16 on CUDA, off on the CPU), bf16, fp16 (CUDA) or off.")]
InChannelsOpt = Annotated[int, typer.Option("--in-channels", help="Model input channels: 1 (gray) or 3.")]
ModelArgOpt = Annotated[list[str], typer.Option(
    "--model-arg", help="Architecture argument KEY=VALUE (a JSON value), e.g. low_stride=4; repeatable.")]
ContractOpt = Annotated[list[str], typer.Option(
    "--contract", help="Teacher contract override KEY=VALUE (layout, channels, size, normalize, output, "
                       "activation, foreground), for every teacher.")]
QatOpt = Annotated[bool, typer.Option(
    "--qat", help="Quantization-aware: train on the INT8 export's weight grid and UINT8 activations (then export "
                  "--precision int8 loses almost nothing); usually a short run from --init or finetune.")]
QatModeOpt = Annotated[str, typer.Option(
    "--qat-mode", help="Activations under --qat: round (fake UINT8, the INT8 function) or noise (one quantization "
                       "step of uniform noise at every conv input, so the FP32 and INT8 masks agree).")]
CompileOpt = Annotated[bool, typer.Option(
    "--compile", help="torch.compile the training forward (faster steps on GPUs after a compilation epoch).")]
