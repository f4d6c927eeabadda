"""The Typer app and its single error boundary.

Commands register with ``@command()``, which wraps them so that a ``NaktError`` becomes one line
on stderr (``error: <file>: <what> (<fix>)``) and its exit code (2 bad input, 1 failed run);
anything else is a bug and keeps its traceback. ``--debug`` shows tracebacks for NaktErrors too.
"""

from __future__ import annotations

import functools
import logging
import signal
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console

from nakt_edge.errors import NaktError

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    name="nakt",
    help="Network-agnostic knowledge transfer: ONNX teachers of any framework -> small, fast ONNX students.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
# Tables keep their columns when piped to a file or a CI log (rich would assume 80 columns).
console = Console(width=None if sys.stdout.isatty() else 140)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 140)
_state = {"debug": False}


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks for errors."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only warnings and errors on stderr."),
) -> None:
    _state["debug"] = debug
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="%(message)s", force=True)


class Terminated(BaseException):
    """SIGTERM, raised like KeyboardInterrupt so that every ``finally`` (temp files, locks, the
    labeler's writer) runs before the process exits 143."""


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated()


RESUME_HINT = {"train": "re-run the same command with --resume", "distill": "re-run the same command with --resume",
               "finetune": "re-run the same command with --resume"}


def command(name: str | None = None, **kwargs: Any) -> Callable[[F], F]:
    """``app.command`` plus the error boundary and the SIGINT/SIGTERM handling (exit 130 / 143)."""

    def decorate(function: F) -> F:
        how = RESUME_HINT.get(name or function.__name__, "re-run the same command to resume")

        @functools.wraps(function)
        def wrapper(*args: Any, **inner: Any) -> Any:
            previous = signal.signal(signal.SIGTERM, _raise_terminated)
            try:
                return function(*args, **inner)
            except NaktError as error:
                if _state["debug"]:
                    raise
                err_console.print(f"[bold red]error:[/] {error.one_line()}", highlight=False, soft_wrap=True)
                raise typer.Exit(code=error.exit_code) from None
            except (KeyboardInterrupt, Terminated) as stop:
                what = "SIGTERM" if isinstance(stop, Terminated) else "SIGINT"
                err_console.print(f"[yellow]stopped by {what}:[/] what was written is complete; {how}",
                                  highlight=False, soft_wrap=True)
                raise typer.Exit(code=143 if isinstance(stop, Terminated) else 130) from None
            finally:
                signal.signal(signal.SIGTERM, previous)

        app.command(name, **kwargs)(wrapper)
        return function

    return decorate
