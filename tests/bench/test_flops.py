from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nakt_edge.bench.flops import count_gflops
from nakt_edge.bench.timing import time_callable


def test_conv_flops_by_hand(tmp_path: Path) -> None:
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 1, 1))
    path = tmp_path / "c.onnx"
    torch.onnx.export(model, (torch.zeros(1, 3, 16, 16),), str(path), dynamo=False,
                      dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}}, input_names=["x"])
    expected = 2 * (8 * 32 * 32 * 3 * 9 + 1 * 32 * 32 * 8) / 1e9  # at 32 x 32, not the export size
    assert count_gflops(path, 3, 32, 32) == pytest.approx(expected)


def test_timing_respects_minimum_runs() -> None:
    calls = []
    timing = time_callable(lambda: calls.append(1), warmup=2, min_time_s=0.0, min_runs=7)
    assert timing.runs == 7 and len(calls) == 9 and timing.p50_ms <= timing.p95_ms <= timing.p99_ms
