"""`nakt export`: a training run -> one ONNX file (FP32, FP16 or INT8), checked before it is written."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from nakt_edge.cli._app import command, console, err_console
from nakt_edge.cli._options import ForceOpt, ManifestOpt, SplitOpt, ThreadsOpt
from nakt_edge.cli.calibrate import CalibrateMasksOpt, print_calibration


@command("export")
def export(
    run: Annotated[Path, typer.Argument(help="Run folder written by nakt train/distill/finetune.")],
    out: Annotated[Path, typer.Option("--out", help="The .onnx file to write.")],
    precision: Annotated[str, typer.Option("--precision", help="fp32, fp16 (for GPUs) or int8 (static QDQ).")] = "fp32",
    calib: Annotated[Optional[Path], typer.Option(
        "--calib", help="Real images for parity and INT8 calibration, e.g. the transferal set.")] = None,
    val: Annotated[Optional[Path], typer.Option("--val", help="Images for the accuracy gate (default: --calib).")
                   ] = None,
    calib_images: Annotated[int, typer.Option("--calib-images", min=1, help="Calibration images used.")] = 32,
    manifest: ManifestOpt = None,
    split: SplitOpt = None,
    calib_method: Annotated[str, typer.Option("--calib-method", help="minmax, entropy or percentile.")] = "minmax",
    max_dice_drop: Annotated[Optional[float], typer.Option(
        "--max-dice-drop", help="Accuracy gate: 1 - min mask Dice vs FP32 (default 0.02 int8, 0.005 fp16).")] = None,
    threads: ThreadsOpt = None,
    opset: Annotated[int, typer.Option("--opset", help="ONNX opset (>= 17).")] = 17,
    exporter: Annotated[str, typer.Option("--exporter", help="legacy (fast, default) or dynamo.")] = "legacy",
    atol: Annotated[float, typer.Option("--atol", help="Max |logit difference| allowed vs PyTorch.")] = 1e-3,
    file_format: Annotated[str, typer.Option(
        "--format", help="onnx, or ort: also the ONNX Runtime format (.ort, for ORT Mobile) beside it.")] = "onnx",
    calibrate: Annotated[Optional[Path], typer.Option(
        "--calibrate", help="Fit a temperature and an out-of-domain reference on this pseudo-labeled set or "
                            "labeled image folder, stored in the metadata.")] = None,
    calibrate_masks: CalibrateMasksOpt = None,
    force: ForceOpt = False,
) -> None:
    """Export a run to ONNX and check it: parity vs PyTorch, then accuracy/speed gates for FP16/INT8."""
    from nakt_edge.errors import InputError
    from nakt_edge.export.exporter import export_model

    if file_format not in ("onnx", "ort"):
        raise InputError(f"unknown --format '{file_format}'", hint="use onnx or ort")
    result = export_model(run, out, precision=precision, calib=calib, val=val, calib_images=calib_images,
                          manifest=manifest, split=split, calib_method=calib_method, max_dice_drop=max_dice_drop,
                          threads=threads, atol=atol, opset=opset, exporter=exporter,
                          ort_format=file_format == "ort", calibrate=calibrate, calibrate_masks=calibrate_masks,
                          force=force)
    for check in result.parity.checks:
        console.print(check.line(), highlight=False)
    for gate in result.gates:
        console.print(gate.line(), highlight=False)
    if result.excluded_nodes:
        console.print(f"kept in FP32 to pass the accuracy gate: {', '.join(result.excluded_nodes)}")
    if result.forced:
        err_console.print("[yellow]warning:[/] a gate failed; written anyway because of --force (recorded in "
                          "the nakt.gates metadata)")
    if result.calibration is not None:
        print_calibration(result.calibration)
    console.print(f"wrote {result.path} ({result.size_bytes / 1e6:.2f} MB, {result.precision}, "
                  f"parity on {result.parity.images} images)")
    if result.ort_path is not None and result.ort_parity is not None:
        console.print(f"wrote {result.ort_path} (ORT format; max |difference| vs the ONNX file "
                      f"{result.ort_parity['max_abs_difference']:.2g} on {result.ort_parity['images']} images, "
                      "same masks)")
