"""The Typer app and its single error boundary.

Commands register with ``@command()``, which wraps them so that a ``NaktError`` becomes one line
on stderr (``error: <file>: <what> (<fix>)``) and its exit code (2 bad input, 1 failed run). An
``OSError`` from the file system (full disk, read-only or missing location) becomes such a line too,
exit 2; a bad option is one line naming it (exit 2). Anything else is a bug and keeps its traceback.
``--debug`` shows tracebacks for all of them.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from nakt_edge.errors import NaktError

try:  # typer >= 0.2x vendors its own click, whose errors are not the click package's
    from typer._click import exceptions as click_exceptions
except ImportError:  # older typer runs on the click package
    from click import exceptions as click_exceptions  # type: ignore[no-redef]

F = TypeVar("F", bound=Callable[..., Any])


class _OneLineUsageErrors(TyperGroup):
    """Bad options and arguments of a command as one ``error:`` line (click draws a boxed panel)."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except click_exceptions.UsageError as error:
            if _state["debug"]:
                raise
            where = error.ctx.command_path if error.ctx is not None else "nakt"
            err_console.print("[bold red]error:[/] " + escape(f"{error.format_message()} (see `{where} --help`)"),
                              highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None


app = typer.Typer(
    cls=_OneLineUsageErrors,
    name="nakt",
    help="Network-agnostic knowledge transfer: ONNX teachers of any framework -> small, fast ONNX students.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
# Tables keep their columns when piped to a file or a CI log (rich would assume 80 columns).
SECONDARY_RANK = os.environ.get("RANK", "0") != "0"  # under torchrun only rank 0 prints results and progress
console = Console(width=None if sys.stdout.isatty() else 140, quiet=SECONDARY_RANK)
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


_FILE_SYSTEM_HINTS = {
    errno.ENOSPC: "free disk space, or choose --out on another disk; re-running the command resumes",
    errno.EDQUOT: "free space within your quota, or choose --out elsewhere; re-running the command resumes",
    errno.EROFS: "choose an --out on a writable file system",
    errno.EACCES: "choose an --out you may write to, or fix its permissions",
    errno.EPERM: "choose an --out you may write to",
    errno.ENOTDIR: "a part of the path is a file, not a folder: choose another --out",
    errno.ENOENT: "check the path; folders above --out must exist or be creatable",
}
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
                err_console.print("[bold red]error:[/] " + escape(error.one_line()), highlight=False, soft_wrap=True)
                raise typer.Exit(code=error.exit_code) from None
            except OSError as error:
                if _state["debug"] or error.errno not in _FILE_SYSTEM_HINTS:
                    raise
                where = f"{error.filename}: " if error.filename else ""
                text = f"{where}{error.strerror} ({_FILE_SYSTEM_HINTS[error.errno]})"
                err_console.print("[bold red]error:[/] " + escape(text), highlight=False, soft_wrap=True)
                raise typer.Exit(code=2) from None
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
