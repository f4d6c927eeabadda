"""`nakt predict`: a student on new images, DICOM cine loops and videos; masks, overlays, per-frame CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from nakt_edge.cli._app import command, console
from nakt_edge.cli._options import DeviceOpt, ForceOpt, ThreadsOpt
from nakt_edge.cli._progress import RichReporter


@command("predict")
def predict_command(
    model: Annotated[Path, typer.Argument(help="Student ONNX file (nakt export).")],
    inputs: Annotated[list[Path], typer.Argument(help="Image, DICOM or video files, or folders of them.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder (masks/, overlays/, <input>.csv).")],
    overlay: Annotated[bool, typer.Option("--overlay", help="Also write overlays (PNG; MP4 for loops).")] = False,
    threshold: Annotated[Optional[float], typer.Option(
        "--threshold", help="Foreground cut on the probability (default: the model's nakt.threshold).")] = None,
    device: DeviceOpt = "auto",
    batch: Annotated[int, typer.Option("--batch", min=1, help="Frames per model call.")] = 8,
    flag_below: Annotated[Optional[float], typer.Option(
        "--flag-below", min=0.0, max=1.0, help="Flag frames whose confidence is below this (CSV + overlay).")] = None,
    threads: ThreadsOpt = None,
    force: ForceOpt = False,
) -> None:
    """Segment every frame of images, DICOM files (multi-frame too) and videos with a student."""
    from nakt_edge.predict import predict

    with RichReporter() as reporter:
        result = predict(model, inputs, out, threshold=threshold, overlay_images=overlay, device=device,
                         batch=batch, threads=threads, flag_below=flag_below, force=force, reporter=reporter)
    summary = result.summary()
    table = Table(title=f"predict {model.name}")
    for column in ("frames", "inputs", "already done", "failed", "frames/s", "p50 ms", "p95 ms", "provider"):
        table.add_column(column)
    table.add_row(str(summary["frames"]), str(summary["inputs_done"]), str(len(summary["inputs_already_done"])),
                  str(len(summary["failed"])), str(summary["frames_per_s"]), str(summary["p50_ms"]),
                  str(summary["p95_ms"]), summary["provider"])
    console.print(table)
    if summary["out_of_domain_frames"]:
        console.print(f"[yellow]{summary['out_of_domain_frames']} frame(s) out of domain[/] (unlike the model's "
                      "calibration images; flagged in the CSV and overlays)")
    console.print(f"wrote {out}/masks, {out}/<input>.csv, {out}/summary.json")
    if summary["failed"]:
        raise typer.Exit(code=1)
