"""Where a result came from: package versions, machine, file hashes. Written into every output."""

from __future__ import annotations

import hashlib
import os
import platform
from importlib import metadata
from pathlib import Path

_PACKAGES = ("nakt-edge", "torch", "segmentation-models-pytorch", "onnx", "onnxruntime-gpu", "onnxruntime", "numpy")


def versions() -> dict[str, str]:
    """Installed versions of the packages that shape results (absent ones are left out)."""
    found = {}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    found["python"] = platform.python_version()
    return found


def machine() -> dict[str, str | int]:
    """CPU model, logical core count and OS: enough to tell two benchmark hosts apart."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"cpu": cpu, "cores": os.cpu_count() or 1, "os": platform.platform()}


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. a container's share), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
