"""The `nakt` command line: one small module per command over the Python API."""

from __future__ import annotations

from nakt_edge.cli import (  # noqa: F401  (registers commands)
    bench,
    calibrate,
    demo,
    distill,
    evaluate,
    export,
    label,
    models,
    phantoms,
    predict,
    train,
)
from nakt_edge.cli._app import app


def main() -> None:
    """Console-script entry point."""
    app()
