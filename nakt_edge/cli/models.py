"""`nakt models`: the architecture registry with parameter counts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from nakt_edge.cli._app import command
from nakt_edge.cli._options import WidthOpt
from nakt_edge.cli._render import print_table
from nakt_edge.errors import InputError

ZOO = Path(__file__).resolve().parents[2] / "models"  # the checkout's models/ folder (the model zoo)


@command("models")
def models(
    width: WidthOpt = 1.0,
    in_channels: Annotated[int, typer.Option("--in-channels", help="1 (gray) or 3.")] = 1,
    zoo: Annotated[bool, typer.Option("--zoo", help="List the trained models in models/ instead.")] = False,
    zoo_dir: Annotated[Path, typer.Option("--zoo-dir", help="Folder of the zoo (ONNX + <name>.json cards).")] = ZOO,
) -> None:
    """List the architectures a teacher or student can have, with parameters at this width."""
    if zoo:
        _list_zoo(zoo_dir)
        return
    from nakt_edge.models.registry import ModelSpec, list_archs, parameter_count

    rows = []
    for info in list_archs():
        try:
            params = f"{parameter_count(ModelSpec(info.name, None, in_channels, width)) / 1e6:.2f} M"
        except Exception as error:  # noqa: BLE001  (e.g. a width this architecture cannot scale)
            params = f"n/a ({type(error).__name__})"
        rows.append([info.name, info.family, info.default_encoder or "-", info.divisor, params, info.description])
    print_table(f"architectures (width {width:g}, {in_channels} input channel(s))",
                ["name", "family", "default encoder", "H/W divisor", "parameters", "description"], rows)


def _list_zoo(folder: Path) -> None:
    cards = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not cards:
        raise InputError("no model cards (<name>.json) found", hint="pass the zoo folder with --zoo-dir", path=folder)
    rows = []
    for path in cards:
        card = json.loads(path.read_text())
        model = folder / card["file"]
        test = card["test"]
        p50 = next((r["p50_ms"] for r in card["latency"]["rows"] if r["threads"] == 1 and r["batch"] == 1), None)
        rows.append([card["name"], card["role"], f"{test['dice']:.3f}", f"{test['ktc']:.3f}",
                     f"{test['ktc_lesion']:.3f}", f"{p50} ms" if p50 else "-",
                     f"{model.stat().st_size / 1e6:.1f} MB" if model.is_file() else "missing", str(model)])
    print_table(f"model zoo ({folder}; BUSI test split; latency 256 px, batch 1, 1 thread)",
                ["name", "role", "Dice", "KTC", "KTC lesion", "p50", "ONNX", "file"], rows)
