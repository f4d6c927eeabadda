"""Output folders as transactions: atomic writers, the folder guard, and the one-run-per-folder lock.

Every file nakt-edge writes goes through here, so an interrupted run never leaves a half-written
output behind: a reader sees either the old file or the complete new one. ``claim`` gives one run
at a time an output folder (or file): an exclusive ``fcntl.flock`` on a lock file there, which the
kernel releases when the holder dies, so a second run is refused at once with the holder named and
a dead run's lock is taken over with a note; the temp files a killed run left are removed then.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import logging
import math
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from nakt_edge.errors import OutputExistsError, OutputLockedError, RunError

log = logging.getLogger("nakt_edge")
LOCK_NAME = ".nakt.lock"
TEMP_SUFFIX = ".tmp"  # atomic_path's temp files: .<name>.<random>.tmp beside their target


def _read_umask() -> int:
    """The process umask, read from /proc without setting it (os.umask would flip it process-wide for a
    moment, racing with the labeler's writer thread); the flip is the fallback where /proc lacks it."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask




def _fsync(path: Path, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | Path, *, durable: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    The file gets the usual permissions (0666 less the umask), not mkstemp's private 0600. With
    ``durable`` (files a resume relies on) the data is fsynced before the rename and the folder
    after it, so a power cut cannot leave the new name pointing at unwritten blocks."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.is_file():
            os.chmod(tmp_path, 0o666 & ~_read_umask())
            if durable:
                _fsync(tmp_path)
        os.replace(tmp_path, path)
        if durable:
            _fsync(path.parent, directory=True)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_bytes(path: str | Path, data: bytes, *, durable: bool = False) -> Path:
    with atomic_path(path, durable=durable) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def encode_png(image: np.ndarray) -> bytes:
    """A uint8/uint16 (H, W) or (H, W, 3) array as PNG bytes (the same bytes wherever it is encoded)."""
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise ValueError(f"could not encode a {image.dtype} {image.shape} array as PNG")
    return encoded.tobytes()


def write_png(path: str | Path, image: np.ndarray) -> Path:
    """Encode a uint8/uint16 (H, W) or (H, W, 3) array as PNG and write it atomically."""
    return write_bytes(path, encode_png(image))


def write_text(path: str | Path, text: str, *, durable: bool = False) -> Path:
    return write_bytes(path, text.encode("utf-8"), durable=durable)


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _finite(value: Any) -> Any:
    """Replace NaN/inf by None so that the JSON is standard (json.dumps would write NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def to_json(data: Any) -> str:
    return json.dumps(_finite(data), indent=2, default=_json_default) + "\n"


def write_json(path: str | Path, data: Any) -> Path:
    return write_text(path, to_json(data))


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def rows_to_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    columns = list(columns) if columns is not None else _columns_of(rows)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_cell(row.get(k)) for k in columns})
    return buffer.getvalue()


def write_csv(path: str | Path, rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> Path:
    return write_text(path, rows_to_csv(rows, columns))


def _columns_of(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    return list(columns)


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if not math.isfinite(value) else f"{value:.6g}"
    return value


def guard_file(path: str | Path, force: bool) -> Path:
    """Refuse to overwrite an existing output file unless ``force`` (the atomic write replaces it)."""
    path = Path(path)
    if path.exists() and not force:
        raise OutputExistsError(
            "output file already exists", hint="choose another --out or pass --force to overwrite", path=path
        )
    return path


def check_folder(path: str | Path, force: bool, outputs: Sequence[str]) -> list[Path]:
    """Raise unless ``force`` when ``path`` holds any of this stage's ``outputs``; return those found."""
    path = Path(path)
    existing = [path / name for name in outputs if (path / name).exists()]
    if existing and not force:
        raise OutputExistsError(
            "output folder already holds results",
            hint="choose another --out, pass --force to overwrite, or --resume where the command has it",
            path=existing[0],
        )
    return existing


def guard_folder(path: str | Path, force: bool, outputs: Sequence[str]) -> Path:
    """``check_folder``, then (with ``force``) remove the stage's old outputs and create the folder.

    Only the names in ``outputs`` are removed, never anything else the user keeps there.
    """
    for item in check_folder(path, force, outputs):
        if item.is_dir():
            shutil.rmtree(item)
        else:
            item.unlink()
    Path(path).mkdir(parents=True, exist_ok=True)
    return Path(path)


# --- one run per output folder -----------------------------------------------------------------

_HELD: dict[Path, int] = {}  # lock files this process holds (a claim inside a claim of the same path is a no-op)


def _lock_file(target: Path, folder: bool) -> Path:
    return target / LOCK_NAME if folder else target.parent / f".{target.name}.nakt.lock"


def _holder_text(fd: int) -> dict[str, Any]:
    os.lseek(fd, 0, os.SEEK_SET)
    try:
        return json.loads(os.read(fd, 65536).decode("utf-8") or "{}")
    except (ValueError, UnicodeDecodeError):
        return {}


def _describe(holder: dict[str, Any]) -> str:
    if not holder:
        return "a run that has not written its name yet"
    return (f"PID {holder.get('pid')} on {holder.get('host')}, `{holder.get('command')}`, "
            f"since {holder.get('started')}")


def _acquire(lock: Path, target: Path) -> int:
    """An fd holding an exclusive flock on ``lock``; a held lock raises OutputLockedError at once."""
    for _ in range(10):
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666 & ~_read_umask())
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder_text(fd)
            os.close(fd)
            raise OutputLockedError(f"in use by another nakt run ({_describe(holder)})",
                                    hint="wait for it to finish, or choose another --out", path=target) from None
        try:  # the previous holder may have unlinked the file just before we locked it: retry on the new one
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)
    raise RunError("could not take the output lock (it kept changing)", hint="retry the command", path=target)


def remove_stale_temps(target: Path, folder: bool) -> int:
    """Delete the temp files a killed run left (``.<name>.<random>.tmp``); only call it holding the lock."""
    if folder:
        stale = [p for p in target.rglob(f".*{TEMP_SUFFIX}") if p.is_file()]
    else:
        stale = [p for p in target.parent.glob(f".{glob_escape(target.name)}.*{TEMP_SUFFIX}") if p.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    if stale:
        log.info("removed %d temp file(s) a stopped run left in %s", len(stale), target)
    return len(stale)


def glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "[]*?" else c for c in text)


@contextlib.contextmanager
def claim(target: str | Path, *, folder: bool = True) -> Iterator[Path]:
    """Own the output ``target`` (a folder, or with ``folder=False`` a file) for the block.

    A second run on a held target gets ``OutputLockedError`` (exit 2) naming the holder; a lock a
    dead run left is taken over with a note (the kernel released its flock; nothing of a live run is
    ever deleted). A folder the claim created and the block left empty is removed again, so a run
    refused inside the block leaves no trace.
    """
    target = Path(target).absolute()
    lock = _lock_file(target, folder)
    if lock in _HELD:
        yield target
        return
    made = [p for p in (lock.parent, *lock.parent.parents) if not p.exists()]  # removed again if left empty
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = _acquire(lock, target)
    _HELD[lock] = fd
    try:
        previous = _holder_text(fd)
        if previous.get("pid"):
            log.info("took over the lock of %s on %s, which is no longer running", _describe(previous), target)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "command": " ".join(["nakt", *sys.argv[1:]])
              if Path(sys.argv[0]).name in ("nakt", "__main__.py") else " ".join(sys.argv),
              "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(me).encode("utf-8"))
        remove_stale_temps(target, folder)
        yield target
    finally:
        lock.unlink(missing_ok=True)  # while still holding it: a waiting opener retries on a fresh file
        _HELD.pop(lock, None)
        os.close(fd)
        for folder_made in made:
            if folder_made.is_dir() and not any(folder_made.iterdir()):
                folder_made.rmdir()
