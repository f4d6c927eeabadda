"""`nakt phantoms`: write a seeded synthetic ultrasound phantom set."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nakt_edge.cli._app import command, console
from nakt_edge.cli._options import ForceOpt, SeedOpt
from nakt_edge.cli._progress import RichReporter


@command("phantoms")
def phantoms(
    out: Annotated[Path, typer.Option("--out", help="Output folder (images/, masks/, manifest.csv).")],
    n: Annotated[int, typer.Option("--n", min=1, help="Number of images.")] = 100,
    domain: Annotated[str, typer.Option("--domain", help="breast, thyroid or natural.")] = "breast",
    size: Annotated[int, typer.Option("--size", min=16, help="Image size in pixels (square).")] = 256,
    seed: SeedOpt = 0,
    force: ForceOpt = False,
) -> None:
    """Generate seeded ultrasound-like phantoms with lesion masks (the built-in demo data)."""
    from nakt_edge.data.phantoms import write_phantom_set

    with RichReporter() as reporter:
        manifest = write_phantom_set(out, n, domain, size, seed, force=force, reporter=reporter)
    console.print(f"wrote {n} {domain} phantoms ({size}x{size}) to {out}; manifest {manifest}")
