from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path

import pytest

from nakt_edge.errors import OutputExistsError
from nakt_edge.outputs import atomic_path, guard_file, guard_folder, write_csv, write_json


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    write_json(target, {"v": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash")
    assert json.loads(target.read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_written_files_get_the_umask_permissions_not_private_ones(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        written = write_json(tmp_path / "r.json", {"a": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE(written.stat().st_mode) == 0o644


def test_json_is_standard_and_csv_is_flat(tmp_path: Path) -> None:
    write_json(tmp_path / "x.json", {"nan": math.nan, "path": Path("p")})
    assert json.loads((tmp_path / "x.json").read_text()) == {"nan": None, "path": "p"}
    write_csv(tmp_path / "x.csv", [{"a": 1.23456789, "b": None}, {"a": math.inf, "c": "z"}])
    assert (tmp_path / "x.csv").read_text() == "a,b,c\n1.23457,,\n,,z\n"


def test_guards_refuse_without_force_and_remove_only_stage_outputs(tmp_path: Path) -> None:
    (tmp_path / "model.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match="model.json"):
        guard_folder(tmp_path, False, ["model.json", "history.csv"])
    guard_folder(tmp_path, True, ["model.json", "history.csv"])
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    with pytest.raises(OutputExistsError, match="--force"):
        guard_file(tmp_path / "notes.txt", False)
    assert guard_file(tmp_path / "notes.txt", True) == tmp_path / "notes.txt"
