"""`nakt demo`: the whole pipeline on generated phantoms, offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nakt_edge.cli._app import command, console
from nakt_edge.cli._options import ForceOpt
from nakt_edge.cli._progress import RichReporter
from nakt_edge.cli._render import pm, print_table


@command("demo")
def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for data, models and report.md.")] = Path("nakt-demo"),
    quick: Annotated[bool, typer.Option("--quick", help="Smaller, faster version (under 3 minutes on 2 cores).")
                     ] = False,
    force: ForceOpt = False,
) -> None:
    """Teacher -> ONNX -> pseudo labels on another domain -> student -> ONNX -> Dice, KTC, latency."""
    from nakt_edge.demo import run_demo

    with RichReporter() as reporter:
        result = run_demo(out, quick=quick, force=force, reporter=reporter)
    teacher, student = result.rows
    c = result.pseudo_counts
    print_table("nakt-edge demo (test: held-out breast phantoms)",
                ["model", "Dice±std", "KTC", "kept", "params", "MB", "p50 ms", "speed-up"],
                [[f"teacher {result.settings.teacher_arch}", pm(teacher["dice_mean"], teacher["dice_std"], 3)
                  .replace(" ", ""), "-", "-", f"{teacher['parameters'] / 1e6:.2f}M", f"{teacher['onnx_mb']:.1f}",
                  f"{teacher['p50_ms']:.1f}", "1.00x"],
                 [f"student {result.settings.student_arch}", pm(student["dice_mean"], student["dice_std"], 3)
                  .replace(" ", ""), f"{result.ktc:.3f}", f"{c['kept']}/{c['labeled']}",
                  f"{student['parameters'] / 1e6:.2f}M", f"{student['onnx_mb']:.1f}", f"{student['p50_ms']:.1f}",
                  f"{teacher['p50_ms'] / student['p50_ms']:.2f}x"]])
    console.print(f"report: {out / 'report.md'} (stage seconds: {result.seconds})")
