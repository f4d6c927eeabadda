"""``python -m nakt_edge`` is the ``nakt`` command."""

from nakt_edge.cli import main

main()
