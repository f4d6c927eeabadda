"""results.json, RESULTS.md and pareto.png from the cells written by run.py (one code version, one bench run).

RESULTS.md is the generated tables followed by reading.md, the hand-written reading of them.
Usage: python benchmarks/compact_students/report.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from run import BENCH_SIZE, CELLS, HERE, MODES, SIZE, STUDENTS

BAR = {"gflops_ratio_to_teacher": 1 / 8, "ktc": 0.95, "ktc_lesion": 0.90, "speedup_vs_fp32_teacher": 5.0,
       "speedup_vs_int8_teacher": 2.0}


def _cell(name: str) -> dict[str, Any] | None:
    path = CELLS / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _row(rows: list[dict[str, Any]], model: str, threads: int) -> dict[str, Any] | None:
    return next((r for r in rows if r["model"] == model and r["threads"] == threads and r["batch"] == 1), None)


def _p50(rows: list[dict[str, Any]], model: str, threads: int) -> float | None:
    row = _row(rows, model, threads)
    return round(row["p50_ms"], 2) if row else None


def _best_gate(result: dict[str, Any]) -> float | None:
    """The best INT8 accuracy-gate value over the calibration methods tried (mask Dice vs FP32)."""
    import re

    values = [float(v) for t in result.get("int8_tries", [])  # older logs: "Dice vs FP32 X", now "accuracy gate: X"
              for v in re.findall(r"(?:Dice vs FP32|accuracy gate:) ([0-9.]+)", t["output"])]
    return max(values, default=None)


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def collect() -> dict[str, Any]:
    bench = _cell("bench")
    rows = bench["result"]["rows"] if bench else []
    teacher_cell = _cell("teacher")
    teacher_row = _row(rows, "teacher-fp32.onnx", 1)
    teacher = {
        "test": teacher_cell["result"]["test"] if teacher_cell else None,
        "gflops": round(teacher_row["gflops"], 3) if teacher_row else None,
        "parameters": teacher_row["parameters"] if teacher_row else None,
        "onnx_mb": round(teacher_row["onnx_mb"], 2) if teacher_row else None,
        **{f"p50_ms_{p}_{t}t": _p50(rows, f"teacher-{p}.onnx", t) for p in ("fp32", "int8") for t in (1, 2)},
        "seconds": teacher_cell["seconds"] if teacher_cell else None,
    }
    students = []
    for student in STUDENTS:
        for mode in MODES:
            cell = _cell(f"{student}-{mode}")
            if cell is None:
                continue
            result, name = cell["result"], f"{student}-{mode}"
            fp32 = _row(rows, f"{name}-fp32.onnx", 1)
            int8 = _row(rows, f"{name}-int8.onnx", 1)
            entry = {
                "student": student, "mode": mode, "arguments": " ".join(STUDENTS[student] + MODES[mode]),
                "dice": result["test"]["dice_mean"], "dice_lesion": result["test"]["dice_lesion_mean"],
                "ktc": result["test"]["ktc"], "ktc_lesion": result["test"]["ktc_lesion"],
                "dice_int8": result.get("test_int8", {}).get("dice_mean"),
                "ktc_int8": result.get("test_int8", {}).get("ktc"),
                "parameters": result["run"]["parameters"],
                "gflops": round(fp32["gflops"], 3) if fp32 else None,
                "gflops_ratio_to_teacher": _ratio(fp32["gflops"] if fp32 else None, teacher["gflops"]),
                "onnx_mb_fp32": round(fp32["onnx_mb"], 2) if fp32 else None,
                "onnx_mb_int8": round(int8["onnx_mb"], 2) if int8 else None,
                "int8_gates_passed": result["int8_written"],
                **{f"p50_ms_{p}_{t}t": _p50(rows, f"{name}-{p}.onnx", t) for p in ("fp32", "int8") for t in (1, 2)},
                "p50_ms_int8_ungated_1t": _p50(rows, f"{name}-int8-ungated.onnx", 1),
                "int8_gate_best_dice": _best_gate(result),
                "teacher_share_of_step": result["run"]["teacher_share_mean"],
                "views_kept_fraction": result["run"]["views_kept_fraction"],
                "train_seconds": result["run"]["train_seconds"], "cell_seconds": cell["seconds"],
            }
            entry["speedup_vs_fp32_teacher"] = _ratio(teacher["p50_ms_fp32_1t"], entry["p50_ms_int8_1t"])
            entry["speedup_vs_int8_teacher"] = _ratio(teacher["p50_ms_int8_1t"], entry["p50_ms_int8_1t"])
            entry["ungated_int8_speedup_vs_fp32_teacher"] = _ratio(teacher["p50_ms_fp32_1t"],
                                                                   entry["p50_ms_int8_ungated_1t"])
            entry["ungated_int8_speedup_vs_int8_teacher"] = _ratio(teacher["p50_ms_int8_1t"],
                                                                   entry["p50_ms_int8_ungated_1t"])
            entry["fp32_speedup_vs_fp32_teacher"] = _ratio(teacher["p50_ms_fp32_1t"], entry["p50_ms_fp32_1t"])
            entry["meets_bar"] = all(
                entry[k] is not None and (entry[k] <= v if k == "gflops_ratio_to_teacher" else entry[k] >= v)
                for k, v in BAR.items())
            students.append(entry)
    students += collect_qat()
    label = _cell("label")
    return {"protocol": {"train_size": SIZE, "bench_size": BENCH_SIZE, "bench": "batch 1, ORT CPU, same run",
                         "bar": BAR},
            "machine": bench["result"].get("machine") if bench else None,
            "versions": bench["result"].get("versions") if bench else None,
            "pseudo_counts": label["result"]["counts"] if label else None,
            "teacher": teacher, "students": students}


QAT_MODES = {"base": "online-all (zoo teacher)", "cont": "online-all +30 epochs", "qat": "online-all +30 epochs --qat",
             "qat-noise": "online-all +30 epochs --qat --qat-mode noise",
             "cont-hard": "online-all +30 epochs --targets hard",
             "qat-noise-hard": "online-all +30 epochs --qat --qat-mode noise --targets hard"}


def collect_qat() -> list[dict[str, Any]]:
    """The quantization-aware cell (qat.py): its three runs, timed against the teacher in its own bench run."""
    cell = _cell("qat")
    if cell is None:
        return []
    rows = cell["result"]["bench"]["rows"]
    teacher = {f"{p}_{t}t": _p50(rows, f"teacher-{p}.onnx", t) for p in ("fp32", "int8") for t in (1, 2)}
    teacher_gflops = _row(rows, "teacher-fp32.onnx", 1)["gflops"]
    entries = []
    for name, run in cell["result"]["runs"].items():
        fp32 = _row(rows, f"qat-{name}-fp32.onnx", 1)
        gated = run["int8_written"]
        int8_ms = _p50(rows, run["int8_file"], 1)
        int8_gflops = _row(rows, run["int8_file"], 1)["gflops"]  # what the INT8 file executes, after its rewrites
        entry = {
            "student": "cmunext_edge", "mode": QAT_MODES[name], "cell": "qat", "bench_run": "cells/qat.json",
            "dice": run["test"]["dice"], "dice_lesion": run["test"]["dice_lesion"], "ktc": run["test"]["ktc"],
            "ktc_lesion": run["test"]["ktc_lesion"], "dice_int8": run["int8_test"]["dice"],
            "ktc_int8": run["int8_test"]["ktc"], "ktc_lesion_int8": run["int8_test"]["ktc_lesion"],
            "parameters": fp32["parameters"], "gflops": round(fp32["gflops"], 3),
            "gflops_ratio_to_teacher": _ratio(fp32["gflops"], teacher_gflops), "int8_gflops": round(int8_gflops, 3),
            "int8_gflops_ratio_to_teacher": _ratio(int8_gflops, teacher_gflops), "int8_gates_passed": gated,
            "int8_gate_best_dice": _best_gate(run), "p50_ms_fp32_1t": _p50(rows, f"qat-{name}-fp32.onnx", 1),
            "p50_ms_fp32_2t": _p50(rows, f"qat-{name}-fp32.onnx", 2),
            "p50_ms_int8_1t": int8_ms if gated else None, "p50_ms_int8_2t": _p50(rows, run["int8_file"], 2)
            if gated else None, "p50_ms_int8_ungated_1t": None if gated else int8_ms,
            "teacher_p50_ms": teacher, "train_seconds": run["train_seconds"], "best_epoch": run["best_epoch"],
        }
        entry["speedup_vs_fp32_teacher"] = _ratio(teacher["fp32_1t"], entry["p50_ms_int8_1t"])
        entry["speedup_vs_int8_teacher"] = _ratio(teacher["int8_1t"], entry["p50_ms_int8_1t"])
        entry["ungated_int8_speedup_vs_fp32_teacher"] = _ratio(teacher["fp32_1t"], entry["p50_ms_int8_ungated_1t"])
        entry["ungated_int8_speedup_vs_int8_teacher"] = _ratio(teacher["int8_1t"], entry["p50_ms_int8_ungated_1t"])
        entry["fp32_speedup_vs_fp32_teacher"] = _ratio(teacher["fp32_1t"], entry["p50_ms_fp32_1t"])
        entry["fp32_speedup_vs_int8_teacher"] = _ratio(teacher["int8_1t"], entry["p50_ms_fp32_1t"])
        entry["meets_bar"] = all(
            entry[k] is not None and (entry[k] <= v if k == "gflops_ratio_to_teacher" else entry[k] >= v)
            for k, v in BAR.items()) and entry["int8_gflops_ratio_to_teacher"] <= BAR["gflops_ratio_to_teacher"]
        entries.append(entry)
    return entries


def qat_markdown(students: list[dict[str, Any]]) -> list[str]:
    rows = [s for s in students if s.get("cell") == "qat"]
    if not rows:
        return []
    t = rows[0]["teacher_p50_ms"]
    lines = ["## Quantization-aware distillation (`qat.py`, `cells/qat.json`, its own bench run)", "",
             f"Same teacher (the zoo's FP16 file, FP32 copy for timing): p50 FP32 {_fmt(t['fp32_1t'], 1)} / "
             f"{_fmt(t['fp32_2t'], 1)} ms, INT8 {_fmt(t['int8_1t'], 1)} / {_fmt(t['int8_2t'], 1)} ms (1 / 2 threads).",
             "", "The bar also asks the INT8 file itself to execute <= 1/8 of the teacher's GFLOPs (after its INT8 "
             "rewrites; a block-diagonal conv counts its zero blocks).", "",
             "| run | KTC | KTC lesion | INT8 KTC | INT8 KTC lesion | INT8 gate (best Dice vs FP32) | "
             "GFLOPs FP32 / INT8 file (/ teacher) | FP32 ms 1t | INT8 ms 1t | FP32 x FP32 / x INT8 teacher | "
             "INT8 x FP32 / x INT8 teacher | bar |",
             "|" + "---|" * 12]
    for s in rows:
        int8_ms = s["p50_ms_int8_1t"] or s["p50_ms_int8_ungated_1t"]
        shown = "" if s["int8_gates_passed"] else " (refused; forced for timing)"
        lines.append(
            f"| {s['mode']} | {_fmt(s['ktc'])} | {_fmt(s['ktc_lesion'])} | {_fmt(s['ktc_int8'])} | "
            f"{_fmt(s['ktc_lesion_int8'])} | {_fmt(s['int8_gates_passed'])} ({_fmt(s['int8_gate_best_dice'], 4)}) | "
            f"{_fmt(s['gflops'])} / {_fmt(s['int8_gflops'])} ({_fmt(s['gflops_ratio_to_teacher'])} / "
            f"{_fmt(s['int8_gflops_ratio_to_teacher'])}) | {_fmt(s['p50_ms_fp32_1t'], 2)} | "
            f"{_fmt(int8_ms, 2)}{shown} | "
            f"{_fmt(s['fp32_speedup_vs_fp32_teacher'], 2)} / {_fmt(s['fp32_speedup_vs_int8_teacher'], 2)} | "
            f"{_fmt(_ratio(t['fp32_1t'], int8_ms), 2)} / {_fmt(_ratio(t['int8_1t'], int8_ms), 2)} | "
            f"{_fmt(s['meets_bar'])} |")
    return lines + [""]


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def markdown(results: dict[str, Any]) -> str:
    t = results["teacher"]
    lines = ["# Compact students that match their teacher (BUSI, CPU)", "",
             "Generated by `report.py` from `cells/*.json` (commands and wall times there); the reading below the "
             "tables is hand-written (`reading.md`).", "",
             f"Teacher DeepLabV3+-resnet18: test Dice {_fmt(t['test'] and t['test']['dice_mean'])}, lesion "
             f"{_fmt(t['test'] and t['test']['dice_lesion_mean'])}; {_fmt(t['gflops'])} GFLOPs at {BENCH_SIZE} px; "
             f"p50 FP32 {_fmt(t['p50_ms_fp32_1t'], 1)} / {_fmt(t['p50_ms_fp32_2t'], 1)} ms, INT8 "
             f"{_fmt(t['p50_ms_int8_1t'], 1)} / {_fmt(t['p50_ms_int8_2t'], 1)} ms (1 / 2 threads).", "",
             "| student | mode | Dice | lesion Dice | KTC | KTC lesion | INT8 Dice | params | GFLOPs | / teacher | "
             "INT8 gates (best Dice vs FP32) | FP32 ms 1t/2t | INT8 ms 1t/2t | x FP32 teacher | x INT8 teacher | "
             "ungated INT8 ms 1t (x FP32 / x INT8 teacher) | teacher share | bar |",
             "|" + "---|" * 18]
    for s in results["students"]:
        if s.get("cell") == "qat":
            continue
        lines.append(
            f"| {s['student']} | {s['mode']} | {_fmt(s['dice'])} | {_fmt(s['dice_lesion'])} | {_fmt(s['ktc'])} | "
            f"{_fmt(s['ktc_lesion'])} | {_fmt(s['dice_int8'])} | {s['parameters'] / 1e6:.2f} M | {_fmt(s['gflops'])} | "
            f"{_fmt(s['gflops_ratio_to_teacher'])} | "
            f"{_fmt(s['int8_gates_passed'])} ({_fmt(s['int8_gate_best_dice'], 4)}) | "
            f"{_fmt(s['p50_ms_fp32_1t'], 1)} / {_fmt(s['p50_ms_fp32_2t'], 1)} | "
            f"{_fmt(s['p50_ms_int8_1t'], 1)} / {_fmt(s['p50_ms_int8_2t'], 1)} | "
            f"{_fmt(s['speedup_vs_fp32_teacher'], 2)} | {_fmt(s['speedup_vs_int8_teacher'], 2)} | "
            f"{_fmt(s['p50_ms_int8_ungated_1t'], 1)} ({_fmt(s['ungated_int8_speedup_vs_fp32_teacher'], 2)} / "
            f"{_fmt(s['ungated_int8_speedup_vs_int8_teacher'], 2)}) | "
            f"{_fmt(s['teacher_share_of_step'], 3)} | {_fmt(s['meets_bar'])} |")
    bar = results["protocol"]["bar"]
    lines += ["", f"Bar (issue 9): GFLOPs <= {bar['gflops_ratio_to_teacher']:.3f} of the teacher's, KTC >= "
              f"{bar['ktc']}, lesion KTC >= {bar['ktc_lesion']}, gated INT8 >= {bar['speedup_vs_fp32_teacher']}x the "
              f"FP32 teacher and >= {bar['speedup_vs_int8_teacher']}x the INT8 teacher (batch 1, 1 thread, "
              f"{BENCH_SIZE} px, same run). Machine: {_fmt((results['machine'] or {}).get('cpu'))}.", ""]
    lines += qat_markdown(results["students"])
    reading = HERE / "reading.md"
    if reading.is_file():
        lines += [reading.read_text().rstrip(), ""]
    return "\n".join(lines)


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    t = results["teacher"]
    dice = t["test"]["dice_mean"] if t["test"] else None
    for precision, marker in (("fp32", "o"), ("int8", "s")):
        if dice is not None and t[f"p50_ms_{precision}_1t"]:
            ax.scatter(t[f"p50_ms_{precision}_1t"], dice, c="black", marker=marker)
            ax.annotate(f"teacher {precision}", (t[f"p50_ms_{precision}_1t"], dice), fontsize=7)
        for s in [s for s in results["students"] if s.get("cell") != "qat"]:
            latency, score = s[f"p50_ms_{precision}_1t"], s["dice" if precision == "fp32" else "dice_int8"]
            if precision == "int8" and latency is None:  # refused by the gates: its ungated time, FP32 Dice
                latency, score, precision_shown = s["p50_ms_int8_ungated_1t"], s["dice"], "int8 ungated"
            else:
                precision_shown = precision
            if latency and score is not None:
                ax.scatter(latency, score, marker=marker, c="tab:blue" if s["mode"] == "offline" else "tab:orange")
                ax.annotate(f"{s['student']} {s['mode']} {precision_shown}", (latency, score), fontsize=6)
    ax.set_xscale("log")
    ax.set_xlabel(f"p50 latency, ms ({BENCH_SIZE} px, batch 1, 1 thread, ORT CPU)")
    ax.set_ylabel("BUSI test Dice (native resolution)")
    ax.set_title("Dice vs latency (blue: offline pseudo set, orange: on the fly)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    results = collect()
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (HERE / "RESULTS.md").write_text(markdown(results))
    if results["students"] and results["teacher"]["test"]:
        plot(results, HERE / "pareto.png")
    print((HERE / "RESULTS.md").read_text())


if __name__ == "__main__":
    main()
