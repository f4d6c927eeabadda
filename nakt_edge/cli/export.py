"""`nakt export`: a training run -> one ONNX file, checked against PyTorch."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from nakt_edge.cli._app import command, console
from nakt_edge.cli._options import ForceOpt


@command("export")
def export(
    run: Annotated[Path, typer.Argument(help="Run folder written by nakt train/distill/finetune.")],
    out: Annotated[Path, typer.Option("--out", help="The .onnx file to write.")],
    calib: Annotated[Optional[Path], typer.Option(
        "--calib", help="Folder of real images for the parity check (default: generated phantoms).")] = None,
    opset: Annotated[int, typer.Option("--opset", help="ONNX opset (>= 17).")] = 17,
    exporter: Annotated[str, typer.Option("--exporter", help="legacy (fast, default) or dynamo.")] = "legacy",
    atol: Annotated[float, typer.Option("--atol", help="Max |logit difference| allowed vs PyTorch.")] = 1e-3,
    force: ForceOpt = False,
) -> None:
    """Export a run to ONNX (dynamic batch and H/W, nakt.* metadata) and check parity in ONNX Runtime."""
    from nakt_edge.export.exporter import export_model

    result = export_model(run, out, calib=calib, atol=atol, opset=opset, exporter=exporter, force=force)
    for check in result.parity.checks:
        console.print(check.line(), highlight=False)
    console.print(f"wrote {result.path} ({result.size_bytes / 1e6:.2f} MB, {result.precision}, "
                  f"parity on {result.parity.images} images)")
