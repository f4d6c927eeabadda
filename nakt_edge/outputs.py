"""Atomic writers (temp file in the same folder + rename) and the output-folder guard.

Every file nakt-edge writes goes through here, so an interrupted run never leaves a half-written
output behind: a reader sees either the old file or the complete new one.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from nakt_edge.errors import OutputExistsError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    The file gets the usual permissions (0666 less the umask), not mkstemp's private 0600."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.is_file():
            os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_png(path: str | Path, image: np.ndarray) -> Path:
    """Encode a uint8/uint16 (H, W) or (H, W, 3) array as PNG and write it atomically."""
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise ValueError(f"could not encode {path} as PNG")
    return write_bytes(path, encoded.tobytes())


def write_text(path: str | Path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


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
