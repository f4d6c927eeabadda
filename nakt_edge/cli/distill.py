"""`nakt distill` (Algorithm 1) and `nakt finetune` (Algorithm 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from nakt_edge.cli._app import command, console
from nakt_edge.cli._options import (
    AmpOpt,
    ArchOpt,
    BatchOpt,
    CompileOpt,
    ContractOpt,
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
from nakt_edge.cli.label import parse_contract, parse_weights
from nakt_edge.errors import InputError


@command("distill")
def distill(
    arch: ArchOpt,
    out: Annotated[Path, typer.Option("--out", help="Run folder of the student.")],
    pseudo: Annotated[list[Path], typer.Option(
        "--pseudo", help="Pseudo-labeled set written by nakt label (the paper's path); repeat to pool several.")
                      ] = [],  # noqa: B006 (typer needs a list)
    teacher: Annotated[list[Path], typer.Option(
        "--teacher", help="On the fly instead: ONNX teacher that labels every augmented view; repeat for several.")
                       ] = [],  # noqa: B006
    images: Annotated[list[Path], typer.Option(
        "--images", help="With --teacher: transferal image folder (repeat for several). With --pseudo: where the "
                         "labeled images are now, if they moved.")] = [],  # noqa: B006
    encoder: EncoderOpt = None,
    width: WidthOpt = 1.0,
    in_channels: InChannelsOpt = 1,
    model_arg: ModelArgOpt = [],  # noqa: B006
    targets: Annotated[str, typer.Option("--targets", help="soft (fused probabilities) or hard (> 0.5).")] = "soft",
    include_excluded: Annotated[bool, typer.Option(
        "--include-excluded", help="Also train on images the alpha/beta rules excluded (ablation).")] = False,
    mixup: Annotated[float, typer.Option(
        "--mixup", min=0.0, help="With --teacher: blend pairs of views, weight ~ Beta(m, m); 0 = off.")] = 0.0,
    fusion: Annotated[str, typer.Option("--fusion", help="With --teacher: mean (paper), vote or staple.")] = "mean",
    weights: Annotated[Optional[str], typer.Option("--weights", help="With --teacher: teacher weights, e.g. 2,1.")
                       ] = None,
    min_pixels: Annotated[Optional[int], typer.Option(
        "--min-pixels", help="With --teacher: alpha per view (default: 256 px at 384x384, scaled).")] = None,
    max_entropy: Annotated[float, typer.Option("--max-entropy", help="With --teacher: beta per view, bits.")] = 2.5,
    no_filter: Annotated[bool, typer.Option("--no-filter", help="With --teacher: keep every view.")] = False,
    teacher_threads: Annotated[Optional[int], typer.Option(
        "--teacher-threads", min=1, help="With --teacher: ONNX Runtime threads of each teacher.")] = None,
    contract: ContractOpt = [],  # noqa: B006
    manifest: ManifestOpt = None,
    split: SplitOpt = None,
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
    amp: AmpOpt = "auto",
    seed: SeedOpt = 0,
    workers: WorkersOpt = 0,
    max_steps: MaxStepsOpt = None,
    no_augment: NoAugmentOpt = False,
    init: Annotated[Optional[Path], typer.Option(
        "--init", help="Start from the best weights of this earlier run of the same student.")] = None,
    qat: QatOpt = False,
    qat_mode: QatModeOpt = "round",
    compile_forward: CompileOpt = False,
    resume: ResumeOpt = False,
    force: ForceOpt = False,
) -> None:
    """Train a student of any architecture on teacher outputs (Algorithm 1), optionally then fine-tune it.

    --pseudo trains on a stored pseudo-labeled set (the paper); --teacher runs the ONNX teachers in the
    training loop on every augmented view of the --images folders (function matching)."""
    from nakt_edge.config import LabelConfig, TrainConfig
    from nakt_edge.models.registry import parse_model_args
    from nakt_edge.training.distill import distill as distill_api
    from nakt_edge.training.finetune import finetune as finetune_api
    from nakt_edge.training.online_distill import distill_online

    if bool(pseudo) == bool(teacher):
        raise InputError("pass either --pseudo SET (stored pseudo masks) or --teacher MODEL.onnx --images DIR "
                         "(on the fly)", hint="see nakt distill --help")
    if teacher and not images:
        raise InputError("--teacher needs the transferal images", hint="add --images DIR (repeat for several)")
    if pseudo and len(images) > 1:
        raise InputError("--pseudo takes at most one --images (where its images moved)",
                         hint="pool several sets with several --pseudo instead")
    config = TrainConfig(size=size, epochs=epochs, batch_size=batch_size, lr=lr, val_fraction=val_fraction,
                         seed=seed, device=device, amp=amp, augment=not no_augment, workers=workers,
                         max_steps_per_epoch=max_steps, qat=qat, qat_mode=qat_mode, compile=compile_forward)  # type: ignore[arg-type]
    kwargs = parse_model_args(model_arg)
    with RichReporter() as reporter:
        if teacher:
            label_config = LabelConfig(size=size, fusion=fusion, weights=parse_weights(weights),
                                       min_pixels=min_pixels, max_entropy=max_entropy, filter=not no_filter,
                                       device=device, threads=teacher_threads)  # type: ignore[arg-type]
            result = distill_online(teacher, images, arch, out, encoder=encoder, width=width,
                                    in_channels=in_channels, model_kwargs=kwargs, config=config,
                                    label_config=label_config, targets=targets, mixup=mixup, manifest=manifest,
                                    split=split, overrides=parse_contract(contract), resume=resume, force=force,
                                    init=init, reporter=reporter)
        else:
            result = distill_api(pseudo, arch, out, encoder=encoder, width=width, in_channels=in_channels,
                                 model_kwargs=kwargs, config=config, targets=targets,
                                 include_excluded=include_excluded, images=images[0] if images else None,
                                 val_images=val_images, val_masks=val_masks, resume=resume, force=force,
                                 init=init, reporter=reporter)
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
    amp: AmpOpt = "auto",
    seed: SeedOpt = 0,
    max_steps: MaxStepsOpt = None,
    qat: QatOpt = False,
    qat_mode: QatModeOpt = "round",
    compile_forward: CompileOpt = False,
    resume: ResumeOpt = False,
    force: ForceOpt = False,
) -> None:
    """Fine-tune a trained student on a small labeled target set (Algorithm 2, paper: 50 epochs)."""
    from nakt_edge.training.finetune import finetune as finetune_api
    from nakt_edge.training.run import read_run_info

    base = read_run_info(run).config
    config = base.with_(epochs=epochs, batch_size=batch_size, lr=lr, val_fraction=val_fraction, device=device,
                        amp=amp, seed=seed, max_steps_per_epoch=max_steps, qat=qat or base.qat,
                        qat_mode=qat_mode if qat else base.qat_mode, compile=compile_forward)
    with RichReporter() as reporter:
        result = finetune_api(run, images, masks, out, config=config, manifest=manifest, split=split, limit=limit,
                              resume=resume, force=force, reporter=reporter)
    print_fit(result)
    console.print(f"fine-tuned from {run}")
