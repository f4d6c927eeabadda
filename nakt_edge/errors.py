"""Typed errors: each carries a one-line message and a hint that names the fix.

The CLI's single error boundary (``nakt_edge.cli.main``) prints ``error: <message> (<hint>)`` and
exits with ``exit_code``: 2 for bad usage or bad input, 1 for a run that failed.
"""

from __future__ import annotations

from pathlib import Path


class NaktError(Exception):
    """Base class of every error nakt-edge raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, hint: str = "", path: str | Path | None = None) -> None:
        self.message = message
        self.hint = hint
        self.path = Path(path) if path is not None else None
        super().__init__(self.one_line())

    def one_line(self) -> str:
        text = f"{self.path}: {self.message}" if self.path is not None else self.message
        return f"{text} ({self.hint})" if self.hint else text


class InputError(NaktError):
    """Bad input or bad usage: a file, folder, option or model the run cannot use."""

    exit_code = 2


class OutputExistsError(InputError):
    """The output already exists and would be overwritten."""


class OutputLockedError(InputError):
    """Another run holds the output folder or file."""


class ModelSpecError(InputError):
    """A model (architecture name, ONNX teacher contract, checkpoint) cannot be used as given."""


class DeviceError(InputError):
    """The requested device or execution provider is not usable on this machine."""


class RunError(NaktError):
    """The run started but could not finish."""

    exit_code = 1


class ParityError(RunError):
    """An exported model disagrees with its PyTorch source beyond the tolerance."""


class GateError(RunError):
    """A reduced-precision model failed its accuracy or speed gate."""
