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


def _hold(target: str, ready: str, folder: bool) -> None:
    import time as _time

    from nakt_edge.outputs import claim

    with claim(target, folder=folder):
        Path(ready).write_text("held")
        _time.sleep(30)


def _holding_child(target: Path, tmp_path: Path, folder: bool = True):  # noqa: ANN202
    import multiprocessing
    import time

    ready = tmp_path / "ready"
    # spawned, not forked: a fork of the threaded test process can deadlock on a lock held at fork time
    child = multiprocessing.get_context("spawn").Process(target=_hold, args=(str(target), str(ready), folder))
    child.start()
    for _ in range(3000):
        if ready.exists():
            return child
        time.sleep(0.01)
    child.kill()
    raise AssertionError("the child never took the lock")


def test_a_held_folder_is_refused_at_once_naming_the_holder(tmp_path: Path) -> None:
    from nakt_edge.errors import OutputLockedError
    from nakt_edge.outputs import claim

    child = _holding_child(tmp_path / "out", tmp_path)
    try:
        with pytest.raises(OutputLockedError) as info, claim(tmp_path / "out"):
            pass
        text = info.value.one_line()
        assert f"PID {child.pid}" in text and "since" in text and "choose another --out" in text
        assert info.value.exit_code == 2
        file_child = _holding_child(tmp_path / "model.onnx", tmp_path / "out", folder=False)
        with pytest.raises(OutputLockedError, match="model.onnx"), claim(tmp_path / "model.onnx", folder=False):
            pass
        file_child.kill()
    finally:
        child.kill()
        child.join()


def test_a_dead_runs_lock_is_taken_over_with_a_note_and_its_temp_files_removed(tmp_path: Path,
                                                                               caplog: pytest.LogCaptureFixture
                                                                               ) -> None:
    import logging

    from nakt_edge.outputs import LOCK_NAME, claim

    out = tmp_path / "out"
    child = _holding_child(out, tmp_path)
    (out / "masks").mkdir()
    (out / "masks" / ".a.png.x1y2.tmp").write_bytes(b"half a mask")
    (out / "keep.png").write_bytes(b"done")
    os.kill(child.pid, 9)  # SIGKILL: no clean-up ran, the lock file still names it
    child.join()
    assert (out / LOCK_NAME).exists()
    with caplog.at_level(logging.INFO, logger="nakt_edge"), claim(out):
        assert json.loads((out / LOCK_NAME).read_text())["pid"] == os.getpid()
    assert f"PID {child.pid}" in caplog.text and "no longer running" in caplog.text
    assert not (out / "masks" / ".a.png.x1y2.tmp").exists() and (out / "keep.png").exists()
    assert not (out / LOCK_NAME).exists()


def test_a_claim_that_fails_inside_leaves_no_folder_behind(tmp_path: Path) -> None:
    from nakt_edge.outputs import claim

    with pytest.raises(ValueError), claim(tmp_path / "new" / "out"):
        raise ValueError("refused")
    assert not (tmp_path / "new").exists()
    with claim(tmp_path / "x"), claim(tmp_path / "x"):  # re-entrant in one process
        pass
