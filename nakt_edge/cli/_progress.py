"""The rich progress bars behind the library's ``Reporter`` interface (drawn on stderr)."""

from __future__ import annotations

from types import TracebackType

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from nakt_edge.cli._app import SECONDARY_RANK, err_console
from nakt_edge.progress import Reporter


class RichReporter(Reporter):
    """A ``Reporter`` that draws one bar per key and prints notes above the bars."""

    def __init__(self) -> None:
        self.progress = Progress(
            SpinnerColumn(), TextColumn("[progress.description]{task.description}"), BarColumn(),
            MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
            console=err_console, transient=True, disable=SECONDARY_RANK,
        )
        self.tasks: dict[str, int] = {}

    def __enter__(self) -> RichReporter:
        self.progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.progress.stop()

    def start(self, key: str, description: str, total: int | None = None) -> None:
        self.finish(key)
        self.tasks[key] = self.progress.add_task(description, total=total)

    def advance(self, key: str, steps: int = 1, description: str | None = None) -> None:
        if key in self.tasks:
            self.progress.update(self.tasks[key], advance=steps, description=description)

    def finish(self, key: str) -> None:
        if key in self.tasks:
            self.progress.remove_task(self.tasks.pop(key))

    def note(self, message: str) -> None:
        if not SECONDARY_RANK:
            self.progress.console.print(message, highlight=False)
