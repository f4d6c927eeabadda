"""``run_demo``: the whole loop on generated phantoms, offline, in minutes on a CPU.

breast phantoms -> teacher (DeepLabV3+) -> ONNX -> pseudo-label a transferal set of another
domain -> distill a compact student -> ONNX with parity -> evaluate both on held-out breast
phantoms -> CPU latency -> report. Every stage is the public API a user would call, and a re-run
resumes: finished stages are skipped, interrupted training continues.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nakt_edge.bench.timing import time_callable
from nakt_edge.config import LabelConfig, TrainConfig
from nakt_edge.data.phantoms import write_phantom_set
from nakt_edge.evaluation import EvalReport, evaluate
from nakt_edge.export.exporter import export_model
from nakt_edge.labeling.labeler import label
from nakt_edge.models.registry import count_parameters
from nakt_edge.outputs import claim, guard_folder, write_json
from nakt_edge.progress import Reporter
from nakt_edge.runtime.onnx_segmenter import OnnxSegmenter
from nakt_edge.training.distill import distill
from nakt_edge.training.run import load_run
from nakt_edge.training.train import train

DEMO_OUTPUTS = ("data", "teacher", "teacher.onnx", "pseudo", "student", "student.onnx", "eval", "report.md",
                "report.json", "figures")


@dataclass(frozen=True)
class DemoSettings:
    """Sizes of the demo; ``quick`` is the 3-minute version, the default the 12-minute one."""

    size: int = 96
    teacher_images: int = 240
    transfer_images: int = 240
    test_images: int = 60
    transfer_domain: str = "thyroid"
    teacher_arch: str = "deeplabv3plus"
    teacher_encoder: str = "resnet18"
    teacher_width: float = 0.5
    teacher_epochs: int = 30
    student_arch: str = "sdu_net"
    student_width: float = 0.25
    student_epochs: int = 60
    label_filter: bool = True  # the paper's alpha/beta exclusion (tests switch it off for 1-epoch teachers)
    lr: float = 1e-3
    batch_size: int = 8
    seed: int = 0

    @classmethod
    def quick(cls) -> DemoSettings:
        return cls(teacher_images=160, transfer_images=200, test_images=40, teacher_epochs=12, student_epochs=30)


@dataclass
class DemoResult:
    out: Path
    settings: DemoSettings
    rows: list[dict[str, Any]]
    ktc: float
    pseudo_counts: dict[str, Any]
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"settings": asdict(self.settings), "models": self.rows, "ktc": self.ktc,
                "pseudo_counts": self.pseudo_counts, "seconds": self.seconds}


def _latency_ms(model: Path, size: int) -> float:
    segmenter = OnnxSegmenter(model, device="cpu", size=size)
    batch = segmenter.preprocess(np.random.default_rng(0).random((1, size, size), dtype=np.float32))
    return time_callable(lambda: segmenter.run(batch), warmup=3, min_time_s=1.0, min_runs=20).p50_ms


def _model_row(name: str, run: Path, onnx_file: Path, report: EvalReport, size: int) -> dict[str, Any]:
    summary = report.summary()["model"]
    model, _ = load_run(run)
    return {"model": name, "run": str(run), "onnx": str(onnx_file), "parameters": count_parameters(model),
            "onnx_mb": onnx_file.stat().st_size / 1e6, "dice_mean": summary["dice_mean"],
            "dice_std": summary["dice_std"], "dice_lesion_mean": summary["dice_lesion_mean"],
            "p50_ms": _latency_ms(onnx_file, size)}


def run_demo(out: str | Path = "nakt-demo", *, quick: bool = False, settings: DemoSettings | None = None,
             force: bool = False, reporter: Reporter | None = None) -> DemoResult:
    """Run the whole pipeline on phantoms into ``out``; a re-run resumes, ``force`` starts over."""
    out = Path(out)
    with claim(out):
        return _run_demo(out, settings or (DemoSettings.quick() if quick else DemoSettings()), force,
                         reporter or Reporter())


def _run_demo(out: Path, settings: DemoSettings, force: bool, reporter: Reporter) -> DemoResult:
    if force:
        guard_folder(out, True, DEMO_OUTPUTS)
    out.mkdir(parents=True, exist_ok=True)
    s, seconds = settings, {}
    data = out / "data"

    def stage(name: str) -> None:
        seconds[name] = time.perf_counter()
        reporter.note(f"[demo] {name}")

    def done(name: str) -> None:
        seconds[name] = round(time.perf_counter() - seconds[name], 1)

    stage("phantoms")
    for part, domain, count, seed in (("teacher", "breast", s.teacher_images, s.seed),
                                      ("transfer", s.transfer_domain, s.transfer_images, s.seed + 1),
                                      ("test", "breast", s.test_images, s.seed + 2)):
        if not (data / part / "manifest.csv").is_file():
            write_phantom_set(data / part, count, domain, s.size, seed, force=True, reporter=reporter)
    done("phantoms")

    stage("teacher")
    teacher_config = TrainConfig(size=s.size, epochs=s.teacher_epochs, batch_size=s.batch_size, lr=s.lr,
                                 seed=s.seed, device="cpu")
    train(data / "teacher" / "images", data / "teacher" / "masks", s.teacher_arch, out / "teacher",
          encoder=s.teacher_encoder, width=s.teacher_width, config=teacher_config, resume=True, reporter=reporter)
    if not (out / "teacher.onnx").is_file():
        export_model(out / "teacher", out / "teacher.onnx", calib=data / "test" / "images")
    done("teacher")

    stage("label")
    pseudo = label([out / "teacher.onnx"], data / "transfer" / "images", out / "pseudo",
                   LabelConfig(size=s.size, device="cpu", batch=8, filter=s.label_filter), reporter=reporter)
    done("label")

    stage("student")
    student_config = teacher_config.with_(epochs=s.student_epochs)
    distill(out / "pseudo", s.student_arch, out / "student", width=s.student_width, config=student_config,
            resume=True, reporter=reporter)
    if not (out / "student.onnx").is_file():
        export_model(out / "student", out / "student.onnx", calib=data / "transfer" / "images")
    done("student")

    stage("evaluate")
    test = data / "test"
    reports = {name: evaluate(out / f"{name}.onnx", test / "images", test / "masks", device="cpu",
                              out=out / "eval" / f"{name}.json", reporter=reporter)
               for name in ("teacher", "student")}
    rows = [_model_row(name, out / name, out / f"{name}.onnx", reports[name], s.size) for name in reports]
    done("evaluate")
    ktc = rows[1]["dice_mean"] / rows[0]["dice_mean"] if rows[0]["dice_mean"] else float("nan")
    result = DemoResult(out, settings, rows, ktc, pseudo.summary["counts"], seconds)
    write_json(out / "report.json", result.to_dict())
    from nakt_edge.demo_report import write_report

    write_report(result, reports)
    return result
