"""benchmarks/gpu/run.sh --dry-run: the GPU benchmark's code paths on the CPU provider, with tiny sizes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_gpu_benchmark_dry_run_writes_every_section(tmp_path: Path) -> None:
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu" / "run.sh"), "--dry-run", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHON": sys.executable})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["dry_run"] and results["seconds"] > 0  # its time is recorded, not tested (no timed unit tests)
    rows = results["labeling"]
    assert {(r["teacher"], r["precision"]) for r in rows} == {(t, p) for t in ("deeplabv3plus_r18", "unet_paper")
                                                             for p in ("fp32", "fp16")}
    for row in rows:
        assert row["label_images_per_s"] > 0 and row["bare_ort_images_per_s"] > 0 and row["ort_cpu_images_per_s"] > 0
        assert row["provider"] == "CPUExecutionProvider" and row["nodes"]["Conv"] == {
            "CPUExecutionProvider": row["nodes"]["Conv"]["CPUExecutionProvider"]}
        assert row.get("torch_fp32_images_per_s", 0) > 0 or results["teachers"][row["teacher"]]["source"].endswith(
            ".onnx")
    assert [r["amp"] for r in results["training"]] == ["off", "bf16"] * (len(results["training"]) // 2)
    assert all(r["steps_per_s"] > 0 for r in results["training"])
    assert {r["runtime"] for r in results["bench"]} == {"ort-cpu", "torch-cpu"}
    assert set(results["checks"]) >= {"label_vs_bare_at_that_row", "fp16_conv_matmul_all_on_cuda",
                                      "teacher_amp_speedup"}
    assert "## Labeling" in (tmp_path / "RESULTS.md").read_text() and not (tmp_path / "work").exists()
