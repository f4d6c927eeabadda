"""Which convolutions does ONNX Runtime's CPU INT8 path run slower than it should? One conv at a time.

Each case is a single Conv + ReLU ONNX model with random weights, quantized with nakt's ``quantize_int8``
(QDQ, per-channel QInt8 weights, QUInt8 activations) without its graph rewrites,
and timed beside its FP32 original. A grouped conv reads a Concat of its groups (CMUNeXt's skip
fusion) and is also timed in the two rewritten forms of ``nakt_edge.export.int8_rewrites``: split
(one conv per part, Concat after) and dense (block-diagonal weights, ``groups`` x the work). Cases
are the shapes of the CMUNeXt edge student and the DeepLabV3+ teacher at 256 px, batch 1, 1 thread,
timed round-robin (median of rounds of medians), so the host's drift hits every case alike.

Usage: python benchmarks/int8_conv_shapes.py [--rounds 5]
Writes benchmarks/results/int8_conv_shapes.{json,md}.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from nakt_edge.export.int8_rewrites import dense_grouped_convs, split_grouped_convs_over_concat
from nakt_edge.export.quantize import quantize_int8
from nakt_edge.outputs import write_json, write_text
from nakt_edge.provenance import machine, versions

ROOT = Path(__file__).resolve().parent
# name: (input channels, output channels, size, kernel, stride, groups)
CASES = {
    "student fusion g2 32ch@128": (32, 32, 128, 3, 1, 2),
    "student fusion g2 48ch@64": (48, 48, 64, 3, 1, 2),
    "student fusion g2 80ch@32": (80, 80, 32, 3, 1, 2),
    "student fusion g2 160ch@16": (160, 160, 16, 3, 1, 2),
    "g4 64ch@64": (64, 64, 64, 3, 1, 4),
    "g8 64ch@64": (64, 64, 64, 3, 1, 8),
    "g2 128ch@32": (128, 128, 32, 3, 1, 2),
    "student depthwise 3x3 16ch@128": (16, 16, 128, 3, 1, 16),
    "student depthwise 7x7 24ch@32": (24, 24, 32, 7, 1, 24),
    "student stem 1->16 3x3/2@256": (1, 16, 256, 3, 2, 1),
    "teacher stem 1->64 7x7/2@256": (1, 64, 256, 7, 2, 1),
    "rgb stem 3->16 3x3/2@256": (3, 16, 256, 3, 2, 1),
    "dense 3x3 16->16@128": (16, 16, 128, 3, 1, 1),
}


def conv_model(cin: int, cout: int, size: int, kernel: int, stride: int, groups: int, seed: int = 0) -> onnx.ModelProto:
    """One Conv + ReLU with random weights on (1, cin, size, size). A grouped, not depthwise, conv reads a
    Concat of one input per group, as CMUNeXt's skip fusion does."""
    rng = np.random.default_rng(seed)
    weight = rng.normal(0, (2 / (cin // groups * kernel * kernel)) ** 0.5, (cout, cin // groups, kernel, kernel))
    bias = rng.normal(0, 0.1, cout)
    parts = [f"x{g}" for g in range(groups)] if 1 < groups < cin else ["x"]
    nodes = [helper.make_node("Concat", parts, ["x"], axis=1, name="concat")] if len(parts) > 1 else []
    nodes += [helper.make_node("Conv", ["x", "w", "b"], ["c"], group=groups, kernel_shape=[kernel, kernel],
                               strides=[stride, stride], pads=[kernel // 2] * 4, name="conv"),
              helper.make_node("Relu", ["c"], ["y"], name="relu")]
    inputs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, cin // len(parts), size, size])
              for name in parts]
    graph = helper.make_graph(nodes, "case", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(weight.astype(np.float32), "w"),
                               numpy_helper.from_array(bias.astype(np.float32), "b")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def feed_of(names: list[str], images: np.ndarray) -> dict[str, np.ndarray]:
    """``images`` (N, C, H, W) split over the inputs ``names`` by channel, as ``ImageReader`` calibrates them."""
    return dict(zip(names, np.split(images, len(names), axis=1), strict=True))


def session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def time_round(sess: ort.InferenceSession, feed: dict[str, np.ndarray], min_time: float) -> float:
    """Median ms of one timing round of at least ``min_time`` seconds (after 5 warm-up runs)."""
    for _ in range(5):
        sess.run(None, feed)
    times: list[float] = []
    start = time.perf_counter()
    while time.perf_counter() - start < min_time or len(times) < 10:
        tick = time.perf_counter()
        sess.run(None, feed)
        times.append(time.perf_counter() - tick)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=0.3)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "int8_conv_shapes.json")
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    sessions: dict[tuple[str, str], tuple[ort.InferenceSession, dict[str, np.ndarray]]] = {}
    with tempfile.TemporaryDirectory(prefix="nakt-conv-shapes-") as tmp:
        for name, (cin, cout, size, kernel, stride, groups) in CASES.items():
            calib = rng.random((8, cin, size, size), dtype=np.float32)
            variants = {"fp32": conv_model(cin, cout, size, kernel, stride, groups)}
            if 1 < groups < cin:
                variants["fp32 split"] = split_grouped_convs_over_concat(variants["fp32"])[0]
                variants["fp32 dense"] = dense_grouped_convs(variants["fp32"], max_groups=groups,
                                                             max_group_width=cout)[0]
            for variant, model in list(variants.items()):
                fp32 = Path(tmp) / f"{len(sessions)}.onnx"
                onnx.save(model, fp32)
                feed = feed_of([value.name for value in model.graph.input], calib[:1])
                sessions[(name, variant)] = (session(fp32), feed)
                int8 = quantize_int8(fp32, fp32.with_suffix(".int8.onnx"), calib, rewrite=False)
                sessions[(name, variant.replace("fp32", "int8"))] = (session(int8), feed)
        rounds: dict[tuple[str, str], list[float]] = {key: [] for key in sessions}
        for _ in range(args.rounds):
            for key, (sess, feed) in sessions.items():
                rounds[key].append(time_round(sess, feed, args.min_time))
    rows = []
    for name, (cin, cout, size, kernel, stride, groups) in CASES.items():
        ms = {variant: statistics.median(rounds[(case, variant)]) for case, variant in rounds if case == name}
        rows.append({"case": name, "in_channels": cin, "out_channels": cout, "size": size, "kernel": kernel,
                     "stride": stride, "groups": groups, **{f"{v.replace(' ', '_')}_ms": round(t, 4)
                                                             for v, t in ms.items()},
                     "int8_speedup": round(ms["fp32"] / ms["int8"], 3),
                     **{f"{form}_int8_speedup": round(ms["int8"] / ms[f"int8 {form}"], 3) if f"int8 {form}" in ms
                        else None for form in ("split", "dense")}})
    meta = {"machine": machine(), "versions": versions(), "rounds": args.rounds, "threads": 1, "batch": 1}
    write_json(args.out, {"meta": meta, "rows": rows})
    host = meta["machine"]
    lines = [f"# INT8 conv shapes (onnxruntime {ort.__version__}, 1 thread, batch 1, median of {args.rounds} "
             "round-robin rounds)", "", f"Machine: {host['cpu']} ({host['cpu_flags']}), {host['cores']} cores.", "",
             "Grouped cases read a Concat of one input per group. split: one conv per part, Concat after "
             "(same multiply-accumulates); dense: one group-1 conv with block-diagonal weights (groups x the "
             "multiply-accumulates). Speedups of a form are against the grouped INT8 conv.", "",
             "| case | FP32 ms | INT8 ms | INT8 vs FP32 | INT8 split ms | split speedup | INT8 dense ms "
             "| dense speedup |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        forms = " | ".join(f"{row[f'int8_{form}_ms']:.3f} | {row[f'{form}_int8_speedup']:.2f}x"
                           if row[f"{form}_int8_speedup"] else "- | -" for form in ("split", "dense"))
        lines.append(f"| {row['case']} | {row['fp32_ms']:.3f} | {row['int8_ms']:.3f} | {row['int8_speedup']:.2f}x "
                     f"| {forms} |")
    write_text(args.out.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
