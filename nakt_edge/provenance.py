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


_INT8_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")  # what ORT's INT8 kernels dispatch on


def machine(cpuinfo: Path = Path("/proc/cpuinfo")) -> dict[str, str | int]:
    """CPU model, the CPU flags INT8 speed depends on, logical core count and OS: enough to tell two
    benchmark hosts apart (INT8 speed-ups differ between AVX2 and AVX512-VNNI hosts)."""
    fields: dict[str, str] = {}
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    flags = set(fields.get("flags", "").split())
    return {"cpu": fields.get("model name") or platform.processor() or platform.machine(),
            "cpu_flags": " ".join(f for f in _INT8_FLAGS if f in flags), "cores": os.cpu_count() or 1,
            "os": platform.platform()}


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
