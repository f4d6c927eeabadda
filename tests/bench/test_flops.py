from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nakt_edge.bench.flops import count_gflops
from nakt_edge.bench.timing import time_callable
from nakt_edge.export.quantize import prepare_for_quantization, quantize_int8, to_fp16


def test_conv_flops_by_hand(tmp_path: Path) -> None:
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 1, 1))
    path = tmp_path / "c.onnx"
    torch.onnx.export(model, (torch.zeros(1, 3, 16, 16),), str(path), dynamo=False,
                      dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}}, input_names=["x"])
    expected = 2 * (8 * 32 * 32 * 3 * 9 + 1 * 32 * 32 * 8) / 1e9  # at 32 x 32, not the export size
    assert count_gflops(path, 3, 32, 32) == pytest.approx(expected)


def test_fp16_and_int8_graphs_count_the_same_work_as_fp32(tiny_onnx: Path, tmp_path: Path) -> None:
    """Static shape inference lost shapes behind Resize in FP16 graphs (FPN FP16 counted 0.9 of 4.8 GFLOPs)."""
    fp16 = to_fp16(tiny_onnx, tmp_path / "fp16.onnx")
    prepared = prepare_for_quantization(tiny_onnx, tmp_path / "prep.onnx")
    int8 = quantize_int8(prepared, tmp_path / "int8.onnx", np.random.default_rng(0).random((4, 1, 64, 64), np.float32))
    fp32_gflops = count_gflops(tiny_onnx, 1, 96, 96)
    assert fp32_gflops > 0
    assert count_gflops(fp16, 1, 96, 96) == pytest.approx(fp32_gflops)
    assert count_gflops(int8, 1, 96, 96) == pytest.approx(fp32_gflops)


def test_timing_respects_minimum_runs() -> None:
    calls = []
    timing = time_callable(lambda: calls.append(1), warmup=2, min_time_s=0.0, min_runs=7)
    assert timing.runs == 7 and len(calls) == 9 and timing.p50_ms <= timing.p95_ms <= timing.p99_ms
