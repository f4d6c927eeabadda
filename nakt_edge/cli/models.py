"""`nakt models`: the architecture registry with parameter counts."""

from __future__ import annotations

from typing import Annotated

import typer

from nakt_edge.cli._app import command
from nakt_edge.cli._options import WidthOpt
from nakt_edge.cli._render import print_table


@command("models")
def models(
    width: WidthOpt = 1.0,
    in_channels: Annotated[int, typer.Option("--in-channels", help="1 (gray) or 3.")] = 1,
) -> None:
    """List the architectures a teacher or student can have, with parameters at this width."""
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
