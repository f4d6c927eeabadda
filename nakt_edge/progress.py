"""How long-running library functions report progress without printing.

Library code calls a ``Reporter``; the CLI passes one that draws rich progress bars, Python users
get ``Reporter()`` which only logs notes. Keys name bars ("train", "label"), so a function may
drive several at once.
"""

from __future__ import annotations

import logging

log = logging.getLogger("nakt_edge")


class Reporter:
    """Progress sink. The base class is silent, except that notes go to the ``nakt_edge`` logger."""

    def start(self, key: str, description: str, total: int | None = None) -> None:
        """Open (or reset) the bar ``key`` with ``total`` steps (None: unknown)."""

    def advance(self, key: str, steps: int = 1, description: str | None = None) -> None:
        """Move the bar ``key`` on by ``steps``, optionally changing its text."""

    def finish(self, key: str) -> None:
        """Close the bar ``key``."""

    def note(self, message: str) -> None:
        """A line worth showing to the user (an epoch's metrics, a fallback)."""
        log.info(message)
