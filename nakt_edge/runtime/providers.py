"""Creating ONNX Runtime sessions on the provider the user asked for, and proving which one runs.

``get_available_providers()`` lists CUDA even on machines without a GPU, and a session asked
for CUDA silently falls back to the CPU (microsoft/onnxruntime#23372). The only truth is
``session.get_providers()`` after creation, so ``cuda`` checks it and fails loudly, and
``auto`` records what it got.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort

from nakt_edge.errors import DeviceError, ModelSpecError
from nakt_edge.runtime.model_file import check_external_data

log = logging.getLogger("nakt_edge")
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"
ORT_DEFAULT_SEVERITY = 2  # warnings; ORT has no getter to save the user's own level


def gpu_present() -> bool:
    """Cheap check for an NVIDIA driver (no torch import, no CUDA initialisation)."""
    return Path("/dev/nvidiactl").exists() or Path("/proc/driver/nvidia/version").exists()


def _preload_cuda_libraries() -> None:
    """Let ORT find the CUDA/cuDNN libraries that ship with torch (same CUDA 13 / cuDNN 9 build)."""
    preload = getattr(ort, "preload_dlls", None)
    if preload is None:
        return
    try:
        preload()
    except Exception as error:  # noqa: BLE001  (a failed preload only means CUDA will not load)
        log.debug("onnxruntime.preload_dlls failed: %s", error)


def session_options(threads: int | None) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.inter_op_num_threads = 1
    if threads:
        options.intra_op_num_threads = threads
    return options


@dataclass(frozen=True)
class SessionInfo:
    session: ort.InferenceSession
    provider: str  # the provider that actually runs the graph
    fell_back: bool  # a GPU provider was asked for (auto) and the CPU was used instead


def _create(model: str | bytes, providers: list[str], options: ort.SessionOptions, where: str) -> ort.InferenceSession:
    ort.set_default_logger_severity(4)  # hide ORT's two stderr lines on a silent CUDA fallback
    try:
        return ort.InferenceSession(model, sess_options=options, providers=providers)
    except Exception as error:  # noqa: BLE001  (ORT raises its own untyped errors for bad files)
        first = str(error).strip().splitlines()[0][:200]
        raise ModelSpecError(f"ONNX Runtime cannot load the model: {first}",
                             hint="check that it is a valid ONNX file (re-export it)", path=where) from None
    finally:
        ort.set_default_logger_severity(ORT_DEFAULT_SEVERITY)


def create_session(model: str | Path | bytes, device: str = "auto", threads: int | None = None) -> SessionInfo:
    """An InferenceSession on ``device`` (auto|cpu|cuda|tensorrt).

    ``cuda`` and ``tensorrt`` raise DeviceError unless the session really runs on that provider.
    """
    if device not in ("auto", "cpu", "cuda", "tensorrt"):
        raise DeviceError(f"unknown device '{device}'", hint="use auto, cpu or cuda")
    where = str(model) if not isinstance(model, bytes) else "<in-memory model>"
    source = model if isinstance(model, bytes) else os.fspath(model)
    if not isinstance(model, bytes):
        check_external_data(model)
    options = session_options(threads)
    want_gpu = device in ("cuda", "tensorrt") or (device == "auto" and gpu_present())
    if not want_gpu:
        return SessionInfo(_create(source, [CPU], options, where), CPU, False)
    _preload_cuda_libraries()
    providers = ([TENSORRT] if device == "tensorrt" else []) + [CUDA, CPU]
    session = _create(source, providers, options, where)
    used = session.get_providers()[0]
    if device == "tensorrt" and used != TENSORRT:
        raise DeviceError(f"TensorrtExecutionProvider could not start (ONNX Runtime fell back to {used})",
                          hint="install TensorRT for CUDA 13 on a GPU machine, or bench ort-cuda instead")
    if used in (CUDA, TENSORRT):
        return SessionInfo(session, used, False)
    if device == "cuda":
        raise DeviceError(
            "--device cuda was asked for, but ONNX Runtime could not start CUDAExecutionProvider "
            f"(it fell back to {used})",
            hint="check the NVIDIA driver and that torch's CUDA 13 libraries are installed, or use --device cpu",
        )
    log.warning("no usable CUDA GPU for ONNX Runtime; running on the CPU")
    return SessionInfo(session, used, True)
