"""`nakt evaluate`: Dice / IoU / HD95 of an ONNX file or a run on labeled images, and KTC vs a reference."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from nakt_edge.cli._app import command, console
from nakt_edge.cli._options import DeviceOpt, ForceOpt, ImagesOpt, ManifestOpt, MasksOpt, SplitOpt, ThreadsOpt
from nakt_edge.cli._progress import RichReporter
from nakt_edge.cli._render import fmt, pm, print_table
from nakt_edge.errors import InputError


def default_report_path(model: Path, split: str | None) -> Path:
    """RUN/eval[-split].json for a run, MODEL.eval[-split].json beside an ONNX file."""
    suffix = f"-{split}" if split else ""
    return model / f"eval{suffix}.json" if model.is_dir() else model.with_name(f"{model.stem}.eval{suffix}.json")


def parse_spacing(text: str | None) -> tuple[float, float] | None:
    """'0.1' or '0.1,0.12' (row, column mm per pixel) -> a pair; None stays None."""
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or min(values, default=0) <= 0:
        raise InputError(f"--spacing '{text}' is not one or two positive numbers",
                         hint="e.g. --spacing 0.1 or --spacing 0.1,0.12 (row, column mm per pixel)")
    return (values[0], values[-1])


@command("evaluate")
def evaluate(
    model: Annotated[Path, typer.Argument(help="An .onnx file (ONNX Runtime) or a run folder (PyTorch).")],
    images: ImagesOpt,
    masks: MasksOpt = None,
    reference: Annotated[Optional[Path], typer.Option(
        "--reference", help="A second model (e.g. the teacher): adds its scores and KTC = Dice / reference Dice.")
    ] = None,
    manifest: ManifestOpt = None,
    split: SplitOpt = None,
    size: Annotated[Optional[int], typer.Option(
        "--size", help="Working size for ONNX models with a dynamic input and no nakt.size.")] = None,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = None,
    spacing: Annotated[Optional[str], typer.Option(
        "--spacing", help="Pixel size of the masks in mm, ROW,COL (or one number): HD95/ASSD in mm.")] = None,
    out: Annotated[Optional[Path], typer.Option(
        "--out", help="Report JSON (per-image CSV beside it). Default: beside the model.")] = None,
    force: ForceOpt = False,
) -> None:
    """Score a model on labeled images at their native resolution."""
    from nakt_edge.evaluation import EMPTY_RULE
    from nakt_edge.evaluation import evaluate as evaluate_api
    from nakt_edge.outputs import guard_file

    pixel = parse_spacing(spacing)
    out = guard_file(out or default_report_path(model, split), force)
    with RichReporter() as reporter:
        report = evaluate_api(model, images, masks, reference=reference, manifest=manifest, split=split, size=size,
                              device=device, threads=threads, spacing=pixel, out=out, reporter=reporter)
    summary = report.summary()
    rows = []
    for key in ("model", "reference"):
        if key in summary:
            s = summary[key]
            rows.append([s["model"], s["images"], pm(s["dice_mean"], s["dice_std"]),
                         pm(s["dice_lesion_mean"], s["dice_lesion_std"]), pm(s["iou_mean"], s["iou_std"]),
                         pm(s["hd95_mean"], s["hd95_std"], 1), pm(s["assd_mean"], s["assd_std"], 1)])
    unit = "mm" if pixel else "px"
    print_table("evaluation (native resolution)", ["model", "images", "Dice", "Dice (lesion images)", "IoU",
                                                   f"HD95 {unit}", f"ASSD {unit}"], rows)
    if "ktc" in summary:
        console.print(f"KTC = {fmt(summary['ktc'])} (lesion images: {fmt(summary['ktc_lesion'])})")
    console.print(f"[dim]{EMPTY_RULE}[/]\nwrote {out} and {out.with_suffix('.csv')}")
