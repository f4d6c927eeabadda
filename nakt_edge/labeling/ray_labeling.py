"""``nakt label --ray ADDRESS``: the same labeling as Ray Data ``map_batches`` over a pool of teacher actors.

Each actor opens one ONNX Runtime session per teacher once (a GPU actor when Ray sees GPUs and
the device allows it), decodes its batch of images, runs and fuses the teachers and judges each
image exactly as ``label_batch`` does in one process, and returns the manifest fields and the
PNG bytes of each mask. The driver writes masks and rows in the order of the image list, with the
single-process guarantees (mask before row, atomic files, resume, one run per folder), so the set
is the one ``nakt label`` writes. Ray is an optional extra: ``pip install 'nakt-edge[ray]'``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nakt_edge.config import LabelConfig
from nakt_edge.data.readers.item import ImageItem
from nakt_edge.errors import InputError
from nakt_edge.labeling.filters import min_pixels_for
from nakt_edge.labeling.fusion import StapleResult
from nakt_edge.labeling.pseudo_set import PseudoRow
from nakt_edge.outputs import encode_png

LOCAL = "local"  # --ray local: start a Ray instance on this machine for the run


def require_ray() -> Any:
    """The ``ray`` module, or a one-line error saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401  (Ray Data ships in the ray[data] extra)
    except ImportError:
        raise InputError("--ray needs Ray Data", hint="pip install 'nakt-edge[ray]'") from None
    return ray


class TeacherActor:
    """One Ray actor: the teachers' ONNX Runtime sessions, opened once, labeling batches of image paths."""

    def __init__(self, teachers: Sequence[str], overrides: dict[str, str], config: dict[str, Any],
                 device: str) -> None:
        from nakt_edge.runtime.onnx_segmenter import OnnxSegmenter

        settings = {**config, "weights": tuple(config["weights"]) if config.get("weights") else None}
        self.config = LabelConfig(**settings)
        self.segmenters = [OnnxSegmenter(t, overrides=overrides, device=device, threads=self.config.threads,
                                         size=self.config.size) for t in teachers]
        self.alpha = min_pixels_for(self.config.size, self.config.size, min_pixels=self.config.min_pixels,
                                    min_fraction=self.config.min_fraction)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from nakt_edge.labeling.labeler import decode, label_batch, unreadable_row  # (labeler imports this module)

        items = [ImageItem(Path(p), int(f) if f >= 0 else None) for p, f in zip(batch["path"], batch["frame"])]
        decoded = [decode(item, self.config.size) for item in items]
        readable = [(i, d) for i, d in enumerate(decoded) if not isinstance(d, str)]
        staple: list[StapleResult] = []
        labeled = dict(zip([i for i, _ in readable], label_batch(
            self.segmenters, [items[i] for i, _ in readable], np.stack([d for _, d in readable]), self.config,
            self.alpha, staple))) if readable else {}
        iterations = dict(zip([i for i, _ in readable], staple))
        out: dict[str, list[Any]] = {key: [] for key in ("index", "file", "stem", "target_pixels", "entropy_bits",
                                                         "teacher_agreement", "kept", "reason", "png",
                                                         "staple_iterations", "staple_converged", "provider")}
        for i, item in enumerate(items):
            row, gray = labeled.get(i, (unreadable_row(item, decoded[i]) if isinstance(decoded[i], str) else None,
                                        None))
            out["index"].append(int(batch["index"][i]))
            for key in ("file", "stem", "target_pixels", "entropy_bits", "teacher_agreement", "kept", "reason"):
                out[key].append(getattr(row, key))
            out["png"].append(encode_png(gray) if gray is not None else b"")
            result = iterations.get(i)
            out["staple_iterations"].append(result.iterations if result else -1)
            out["staple_converged"].append(bool(result.converged) if result else True)
            out["provider"].append(self.segmenters[0].provider)
        return {key: np.array(values, dtype=object if key in ("png", "file", "stem", "reason", "provider") else None)
                for key, values in out.items()}


def _row_of(record: dict[str, Any]) -> PseudoRow:
    return PseudoRow(str(record["file"]), str(record["stem"]), int(record["target_pixels"]),
                     float(record["entropy_bits"]), float(record["teacher_agreement"]), bool(record["kept"]),
                     str(record["reason"]))


def stream_with_ray(teachers: Sequence[str | Path], pending: Sequence[ImageItem], config: LabelConfig,
                    overrides: dict[str, str] | None, address: str, actors: int | None,
                    staple_runs: list[StapleResult], run_info: dict[str, Any],
                    ) -> Iterator[tuple[PseudoRow, bytes | None]]:
    """Label ``pending`` on Ray; yields (row, PNG bytes or None for an unreadable image) in list order.

    ``run_info`` receives the Ray address, actor count, whether actors had GPUs and their providers."""
    ray = require_ray()
    started_here = not ray.is_initialized()
    if started_here:
        try:
            ray.init(address=None if address == LOCAL else address, include_dashboard=False, log_to_driver=False,
                     configure_logging=False)
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise InputError(f"cannot reach Ray at '{address}': {str(error).splitlines()[0][:200]}",
                             hint="pass a running cluster's address (auto, ray://head:10001) or --ray local") from None
    try:
        gpus = ray.cluster_resources().get("GPU", 0) if config.device != "cpu" else 0
        count = actors or max(1, int(gpus) if gpus else int(ray.cluster_resources().get("CPU", 1)))
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True
        context.enable_progress_bars = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)  # our progress bar reports; Ray's INFO lines do not
        dataset = ray.data.from_items([{"index": i, "path": str(item.path),
                                        "frame": -1 if item.frame is None else item.frame}
                                       for i, item in enumerate(pending)], override_num_blocks=max(1, count * 4))
        device = "cuda" if gpus else "cpu"
        labeled = dataset.map_batches(
            TeacherActor, batch_size=config.batch, concurrency=count, num_gpus=1 if gpus else 0,
            num_cpus=config.threads or 1,
            fn_constructor_kwargs={"teachers": [str(Path(t).resolve()) for t in teachers],
                                   "overrides": dict(overrides or {}), "config": config.to_dict(), "device": device})
        run_info.update({"ray": {"address": address, "actors": count, "gpu_actors": bool(gpus), "providers": []}})
        waiting: dict[int, dict[str, Any]] = {}
        expected = 0
        for batch in labeled.iter_batches(batch_size=None, batch_format="numpy"):
            for i in range(len(batch["index"])):
                waiting[int(batch["index"][i])] = {key: values[i] for key, values in batch.items()}
            while expected in waiting:  # in list order even if Ray hands blocks over out of order
                record = waiting.pop(expected)
                expected += 1
                if str(record["provider"]) not in run_info["ray"]["providers"]:
                    run_info["ray"]["providers"].append(str(record["provider"]))
                if int(record["staple_iterations"]) >= 0:
                    staple_runs.append(StapleResult(np.empty(0, np.float32), np.empty(0), np.empty(0),
                                                    int(record["staple_iterations"]),
                                                    bool(record["staple_converged"])))
                png = bytes(record["png"])
                yield _row_of(record), png or None
        if expected != len(pending):
            raise InputError(f"Ray returned {expected} of {len(pending)} images", hint="re-run to resume the rest")
    finally:
        if started_here:
            ray.shutdown()
