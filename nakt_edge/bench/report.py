"""Writing a benchmark: JSON (rows + machine), CSV and Markdown beside it, and a latency-vs-Dice plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nakt_edge.bench.harness import BenchReport
from nakt_edge.outputs import atomic_path, write_csv, write_json, write_text

COLUMNS = ("model", "precision", "runtime", "provider", "batch", "threads", "size", "p50_ms", "p95_ms", "p99_ms",
           "images_per_s", "e2e_p50_ms", "e2e_images_per_s", "onnx_mb", "parameters", "gflops", "gflops_per_s",
           "peak_ratio", "dice")


def _cell(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}" if abs(value) >= 0.01 or value == 0 else f"{value:.2e}"
    return str(value)


def markdown(report: BenchReport, title: str = "Benchmark") -> str:
    m = report.context.get("machine", {})
    v = report.context.get("versions", {})
    peaks = ", ".join(f"{t}: {g:.1f} GFLOP/s" for t, g in report.peaks.items())
    lines = [f"# {title}", "",
             f"Machine: {m.get('cpu')}, {m.get('cores')} cores. onnxruntime "
             f"{v.get('onnxruntime-gpu', v.get('onnxruntime'))}, torch {v.get('torch')}. SGEMM peak (best ORT MatMul "
             f"of 768^3 and 1536^3) by threads: {peaks}. gflops counts the same multiply-accumulates for every "
             "precision, so peak_ratio (gflops_per_s / FP32 SGEMM peak) can exceed 1 for INT8.", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in report.rows:
        lines.append("| " + " | ".join(_cell(row.get(c), 4 if c in ("dice", "peak_ratio") else 2)
                                       for c in COLUMNS) + " |")
    if report.skipped:
        lines += ["", "Skipped: " + "; ".join(report.skipped)]
    return "\n".join(lines) + "\n"


def plot_latency_vs_dice(report: BenchReport, path: str | Path) -> Path | None:
    """p50 latency (batch 1, most threads) against Dice, one point per model and precision."""
    points = [r for r in report.rows if r.get("dice") is not None and r["batch"] == 1]
    if not points:
        return None
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    best: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in points:
        key = (row["model"], row["precision"], row["runtime"])
        if key not in best or row["p50_ms"] < best[key]["p50_ms"]:
            best[key] = row
    figure, axis = plt.subplots(figsize=(7, 4.5), dpi=110)
    for (model, precision, runtime), row in sorted(best.items()):
        axis.scatter(row["p50_ms"], row["dice"], s=40)
        axis.annotate(f"{model} {precision} {runtime}", (row["p50_ms"], row["dice"]), fontsize=7,
                      xytext=(4, 2), textcoords="offset points")
    axis.set_xscale("log")
    axis.set_xlabel("p50 latency, batch 1 (ms, log scale)")
    axis.set_ylabel("Dice")
    axis.set_title("latency vs Dice")
    axis.grid(alpha=0.3)
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")
    plt.close(figure)
    return Path(path)


def write_bench(report: BenchReport, out: str | Path, *, plot: bool = False, title: str = "Benchmark") -> list[Path]:
    """FILE.json, FILE.csv and FILE.md (and FILE.png with ``plot``); returns what was written."""
    out = Path(out)
    written = [write_json(out, report.to_dict()), write_csv(out.with_suffix(".csv"), report.rows, COLUMNS),
               write_text(out.with_suffix(".md"), markdown(report, title))]
    if plot:
        png = plot_latency_vs_dice(report, out.with_suffix(".png"))
        if png is not None:
            written.append(png)
    return written
