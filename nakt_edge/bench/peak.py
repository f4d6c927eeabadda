"""This machine's SGEMM peak in ONNX Runtime on a given thread count: the yardstick for GFLOP/s ratios."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

from nakt_edge.bench.timing import time_callable
from nakt_edge.runtime.providers import create_session


def _matmul_model(n: int) -> bytes:
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, [n, n])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, [n, n])
    c = helper.make_tensor_value_info("c", TensorProto.FLOAT, [n, n])
    graph = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["c"])], "sgemm", [a, b], [c])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 10  # onnx 1.23 writes IR 14, which ONNX Runtime 1.31 rejects (ENVIRONMENT.md)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def sgemm_peak_gflops(threads: int | None, sizes: tuple[int, ...] = (768, 1536), min_time_s: float = 0.5) -> float:
    """Best GFLOP/s of n x n x n float32 MatMuls in ONNX Runtime (CPU) at ``threads`` (median run per size).

    Sizes avoid powers of two: n = 1024 aliases in the cache and ran up to 1.5x slower here,
    which put convolutions above "peak"."""
    best = 0.0
    rng = np.random.default_rng(0)
    for n in sizes:
        session = create_session(_matmul_model(n), device="cpu", threads=threads).session
        feeds = {"a": rng.random((n, n), dtype=np.float32), "b": rng.random((n, n), dtype=np.float32)}
        timing = time_callable(lambda s=session, f=feeds: s.run(None, f), warmup=2, min_time_s=min_time_s,
                               min_runs=5)
        best = max(best, 2.0 * n**3 / (timing.p50_ms / 1000.0) / 1e9)
    return best
