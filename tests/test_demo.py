from __future__ import annotations

import json
from pathlib import Path

from nakt_edge.demo import DemoSettings, run_demo

TINY = DemoSettings(size=32, teacher_images=12, transfer_images=12, test_images=6, teacher_encoder="resnet18",
                    teacher_width=0.125, teacher_epochs=1, student_width=0.125, student_epochs=1, batch_size=4,
                    label_filter=False)


def test_demo_runs_the_whole_loop_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = run_demo(out, settings=TINY)
    assert [row["model"] for row in result.rows] == ["teacher", "student"]
    assert result.rows[1]["parameters"] < result.rows[0]["parameters"]
    assert result.ktc == result.rows[1]["dice_mean"] / result.rows[0]["dice_mean"]
    report = json.loads((out / "report.json").read_text())
    assert report["pseudo_counts"]["labeled"] == 12 and report["models"][0]["p50_ms"] > 0
    text = (out / "report.md").read_text()
    assert "KTC" in text and (out / "figures" / "test_predictions.png").is_file()
    assert (out / "figures" / "pseudo_masks.png").is_file() and (out / "pseudo" / "entropy_hist.png").is_file()
    again = run_demo(out, settings=TINY)  # resumes: nothing is retrained or relabeled
    assert json.loads((out / "teacher" / "model.json").read_text())["metrics"]["epochs_done"] == 1
    assert again.rows[0]["dice_mean"] == result.rows[0]["dice_mean"]
