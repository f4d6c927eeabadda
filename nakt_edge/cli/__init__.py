"""The `nakt` command line: one small module per command over the Python API."""

from __future__ import annotations

from nakt_edge.cli import bench, demo, distill, evaluate, export, label, models, phantoms, train  # noqa: F401  (registers commands)
from nakt_edge.cli._app import app


def main() -> None:
    """Console-script entry point."""
    app()
