"""`nakt bench`: latency and throughput side by side (runtimes x batch x threads x precision)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated, Optional

import typer

from nakt_edge.cli._app import command, console, err_console
from nakt_edge.cli._options import ForceOpt, ManifestOpt, MasksOpt, SplitOpt
from nakt_edge.cli._progress import RichReporter
from nakt_edge.cli._render import print_table
from nakt_edge.errors import InputError


def _ints(text: str, option: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"{option} '{text}' is not a comma-separated list of integers", hint=f"e.g. {option} 1,8") \
            from None
    if not values or min(values) < 1:
        raise InputError(f"{option} needs positive integers", hint=f"e.g. {option} 1,8")
    return values


@command("bench")
def bench(
    models: Annotated[list[Path], typer.Argument(help="ONNX files and/or run folders.")],
    runtime: Annotated[str, typer.Option(
        "--runtime", help="Comma list of ort-cpu, ort-cuda, ort-tensorrt, torch (= torch-cpu), torch-cuda.")
    ] = "ort-cpu",
    batch: Annotated[str, typer.Option("--batch", help="Comma list of batch sizes.")] = "1",
    threads: Annotated[str, typer.Option("--threads", help="Comma list of CPU thread counts.")] = "1,2",
    size: Annotated[Optional[int], typer.Option("--size", help="Input size (default: the model's own).")] = None,
    precision: Annotated[str, typer.Option(
        "--precision", help="For run folders: comma list of fp32, fp16, int8 to export and time.")] = "fp32",
    calib: Annotated[Optional[Path], typer.Option("--calib", help="Calibration images (int8 of run folders).")] = None,
    images: Annotated[Optional[Path], typer.Option(
        "--images", help="Real images for end-to-end timing (and Dice with --masks).")] = None,
    masks: MasksOpt = None,
    manifest: ManifestOpt = None,
    split: SplitOpt = None,
    compile_model: Annotated[bool, typer.Option("--compile", help="torch.compile the torch runtimes.")] = False,
    min_time: Annotated[float, typer.Option("--min-time", help="Seconds of timed runs per configuration.")] = 1.0,
    rounds: Annotated[int, typer.Option("--rounds", help="Time all configurations round-robin this many times; "
                                                         "rows take the median (speed drift hits all alike).")] = 1,
    out: Annotated[Optional[Path], typer.Option("--out", help="Results JSON (CSV and Markdown beside it).")] = None,
    plot: Annotated[bool, typer.Option("--plot", help="Also write a latency-vs-Dice PNG beside --out.")] = False,
    force: ForceOpt = False,
) -> None:
    """Measure p50/p95/p99 latency, images/s, GFLOP/s vs this machine's SGEMM peak, and Dice."""
    from nakt_edge.bench.harness import bench as bench_api
    from nakt_edge.bench.report import write_bench
    from nakt_edge.outputs import claim, guard_file

    with claim(out, folder=False) if out is not None else contextlib.nullcontext():  # one run per file
        if out is not None:
            guard_file(out, force)
        if plot and out is None:
            raise InputError("--plot needs --out", hint="pass --out results.json")
        with RichReporter() as reporter:
            report = bench_api(models, runtimes=runtime.split(","), batches=_ints(batch, "--batch"),
                               threads=_ints(threads, "--threads"), size=size, precisions=precision.split(","),
                               calib=calib, images=images, masks=masks, manifest=manifest, split=split,
                               compile_model=compile_model, min_time_s=min_time, rounds=rounds, reporter=reporter)
        print_table("benchmark (pure inference; e2e adds pre/post-processing)",
                    ["model", "prec", "runtime / provider", "batch", "thr", "p50 ms", "p95", "p99", "img/s", "e2e ms",
                     "GFLOPs", "GFLOP/s", "% peak", "Dice"],
                    [[r["model"], r["precision"], f"{r['runtime']} / {r['provider']}", r["batch"], r["threads"],
                      f"{r['p50_ms']:.1f}", f"{r['p95_ms']:.1f}", f"{r['p99_ms']:.1f}", f"{r['images_per_s']:.1f}",
                      f"{r['e2e_p50_ms']:.1f}", r["gflops"], r["gflops_per_s"],
                      f"{100 * r['peak_ratio']:.1f}" if r["peak_ratio"] else "-", r["dice"]] for r in report.rows])
        console.print("SGEMM peak (GFLOP/s) by threads: " + ", ".join(f"{t}: {g:.1f}" for t, g in report.peaks.items()))
        for note in report.skipped:
            err_console.print(f"[yellow]skipped:[/] {note}")
        if out is not None:
            written = write_bench(report, out, plot=plot)
            console.print("wrote " + ", ".join(str(p) for p in written))
