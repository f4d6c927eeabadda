from __future__ import annotations

import json
from pathlib import Path

import pytest

from nakt_edge.bench.harness import bench
from nakt_edge.bench.report import write_bench
from nakt_edge.runtime.providers import gpu_present


def test_rows_for_onnx_and_torch_with_dice_and_peak_ratio(tiny_onnx: Path, tiny_run: Path, phantom_set: Path,
                                                          tmp_path: Path) -> None:
    report = bench([tiny_onnx, tiny_run], runtimes=["ort-cpu", "torch"], batches=[1, 2], threads=[1],
                   images=phantom_set / "images", masks=phantom_set / "masks", min_time_s=0.05, min_runs=3)
    by = {(r["model"], r["precision"], r["runtime"], r["batch"]) for r in report.rows}
    assert ("tiny.onnx", "fp32", "ort-cpu", 2) in by and ("tiny", "torch", "torch-cpu", 1) in by
    assert ("tiny", "fp32", "ort-cpu", 1) in by  # a run folder is also exported and timed in ORT
    onnx_row = next(r for r in report.rows if r["model"] == "tiny.onnx" and r["batch"] == 1)
    assert onnx_row["provider"] == "CPUExecutionProvider" and onnx_row["gflops"] > 0
    assert 0 < onnx_row["peak_ratio"] < 1.5 and onnx_row["images_per_s"] > 0 and 0 <= onnx_row["dice"] <= 1
    assert onnx_row["p50_ms"] <= onnx_row["p99_ms"] and onnx_row["e2e_p50_ms"] > 0
    written = write_bench(report, tmp_path / "b.json", plot=True)
    assert [p.suffix for p in written] == [".json", ".csv", ".md", ".png"]
    assert json.loads((tmp_path / "b.json").read_text())["sgemm_peak_gflops"]["1"] > 0


def test_dice_is_scored_at_the_models_own_size_whatever_size_is_timed(tiny_onnx: Path, phantom_set: Path) -> None:
    def row(size: int | None) -> dict:
        report = bench([tiny_onnx], threads=[1], size=size, images=phantom_set / "images",
                       masks=phantom_set / "masks", min_time_s=0.02, min_runs=2)
        return report.rows[0]

    own, larger = row(None), row(96)
    assert (own["size"], larger["size"]) == (64, 96)
    assert larger["dice"] == own["dice"]


def test_rounds_time_every_configuration_round_robin_and_report_the_median(tiny_onnx: Path, tiny_run: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from nakt_edge.bench import harness
    from nakt_edge.bench.timing import Timing

    p50s = iter([5.0, 1.0, 3.0, 9.0, 4.0, 2.0])  # model A: 5, 3, 4 -> median 4; model B: 1, 9, 2 -> median 2

    def fake_time(fn, **_: object) -> Timing:
        if fn.__name__ == "pure":
            value = next(p50s)
            return Timing(value, value + 1, value + 2, value, 0.0, 4, 3)
        return Timing(1.0, 1.0, 1.0, 1.0, 0.0, 2, 1)

    monkeypatch.setattr(harness, "time_callable", fake_time)
    report = bench([tiny_onnx, tiny_run], threads=[1], rounds=3, min_time_s=0.01, min_runs=1)
    assert [(r["model"], r["rounds"], r["round_p50_ms"], r["p50_ms"]) for r in report.rows] == [
        ("tiny.onnx", 3, [5.0, 3.0, 4.0], 4.0), ("tiny", 3, [1.0, 9.0, 2.0], 2.0)]
    assert report.rows[0]["p95_ms"] == 5.0 and report.to_dict()["rounds"] == 3
    import torch

    threads = []
    monkeypatch.setattr(harness, "time_callable", lambda fn, **_: (threads.append(torch.get_num_threads()),
                                                                   Timing(1.0, 1.0, 1.0, 1.0, 0.0, 1, 1))[1])
    bench([tiny_run], runtimes=["torch"], threads=[1, 2], rounds=2, min_time_s=0.01, min_runs=1)
    assert threads == [1, 1, 2, 2, 1, 1, 2, 2]  # each torch runner is timed on its own thread count
    with pytest.raises(Exception, match="--rounds must be at least 1"):
        bench([tiny_onnx], rounds=0)


@pytest.mark.skipif(gpu_present(), reason="checks the fallback on a machine without a GPU")
def test_unavailable_gpu_runtime_is_skipped_with_a_reason(tiny_onnx: Path) -> None:
    report = bench([tiny_onnx], runtimes=["ort-cpu", "ort-cuda"], threads=[1], min_time_s=0.02, min_runs=2)
    assert {r["runtime"] for r in report.rows} == {"ort-cpu"}
    assert report.skipped and "CUDAExecutionProvider" in report.skipped[0]


@pytest.mark.gpu
def test_cuda_runtimes_really_run_on_the_gpu(tiny_onnx: Path, tiny_run: Path) -> None:
    report = bench([tiny_onnx, tiny_run], runtimes=["ort-cuda", "torch-cuda"], threads=[1], min_time_s=0.2)
    providers = {r["provider"] for r in report.rows}
    assert "CUDAExecutionProvider" in providers and "torch-cuda" in providers
