"""Rich tables for the reports the API returns."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.table import Table

from nakt_edge.cli._app import console

if TYPE_CHECKING:
    from nakt_edge.training.loop import FitResult


def fmt(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def pm(mean: float | None, std: float | None, digits: int = 4) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "-"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    table = Table(title=title, title_justify="left")
    for index, column in enumerate(columns):
        table.add_column(column, justify="left" if index == 0 else "right", no_wrap=index == 0)
    for row in rows:
        table.add_row(*(fmt(cell) for cell in row))
    console.print(table)


def print_fit(result: FitResult) -> None:
    """The epochs table and where the run is."""
    print_table(f"run {result.run_dir}", ["epoch", "train loss", "val loss", "val Dice", "s", "best"],
                [[r["epoch"], r["train_loss"], r["val_loss"], r["val_dice"], f"{r['seconds']:.1f}",
                  "*" if r["best"] else ""] for r in result.history])
    best = result.best_val_dice
    best_text = f"best val Dice {best:.4f} at epoch {result.best_epoch}" if best is not None else \
        "no validation set: kept the last epoch"
    console.print(f"{best_text}; weights in {result.run_dir}/model.safetensors")
