"""`nakt calibrate`: a calibrated copy of an exported student (temperature + out-of-domain reference)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from nakt_edge.cli._app import command, console
from nakt_edge.cli._options import ForceOpt, ManifestOpt, SplitOpt
from nakt_edge.cli._progress import RichReporter
from nakt_edge.cli._render import print_table

CalibrateOpt = Annotated[Path, typer.Option(
    "--calibrate", help="Fitting set: a pseudo-labeled set (nakt label --out) or labeled images (with masks).")]
CalibrateMasksOpt = Annotated[Optional[Path], typer.Option(
    "--calibrate-masks", help="Masks of the --calibrate images (default: BUSI-style masks beside them).")]


def print_calibration(report: dict) -> None:
    print_table("calibration (pixel level, on the fitting set)", ["images", "temperature", "BCE", "ECE",
                                                                   "threshold", "OOD distance cut"],
                [[report["images"], f"{report['temperature']:.3f}", f"{report['bce_before']:.4f} -> "
                  f"{report['bce_after']:.4f}", f"{report['ece_before']:.4f} -> {report['ece_after']:.4f}",
                  f"{report['threshold_uncalibrated']:g} (masks unchanged)", f"{report['ood_threshold']:.2f}"]])


@command("calibrate")
def calibrate(
    model: Annotated[Path, typer.Argument(help="An exported student .onnx file.")],
    calibrate_dir: CalibrateOpt,
    out: Annotated[Path, typer.Option("--out", help="The calibrated .onnx file to write.")],
    calibrate_masks: CalibrateMasksOpt = None,
    manifest: ManifestOpt = None,
    split: SplitOpt = None,
    force: ForceOpt = False,
) -> None:
    """Fit a temperature and an out-of-domain reference on a set; write them into a copy of MODEL."""
    from nakt_edge.export.calibrate import calibrate_model

    with RichReporter() as reporter:
        result = calibrate_model(model, out, calibrate_dir, calibrate_masks, manifest=manifest, split=split,
                                 force=force, reporter=reporter)
    print_calibration(result.report)
    console.print(f"wrote {result.path} (nakt.temperature {result.temperature:.4g}, nakt.threshold "
                  f"{result.threshold:.4g}, nakt.ood)")
