"""The public API resolves lazily, and `import nakt_edge` stays light (no torch)."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

import nakt_edge


@pytest.mark.parametrize("name", sorted(set(nakt_edge.__all__) - {"__version__"}))
def test_every_public_name_resolves(name: str) -> None:
    assert callable(getattr(nakt_edge, name))


def test_no_submodule_shadows_a_public_name() -> None:
    """Importing a submodule binds it on the package; none may be named like an API function."""
    for info in pkgutil.walk_packages(nakt_edge.__path__, "nakt_edge."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    for name in set(nakt_edge.__all__) - {"__version__"}:
        assert callable(getattr(nakt_edge, name)), f"nakt_edge.{name} is shadowed by a submodule"


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        nakt_edge.nope  # noqa: B018


def test_import_and_help_do_not_load_torch() -> None:
    code = "import sys, nakt_edge.cli; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
