"""``predict``: run a trained student (ONNX) on new images, DICOM cine loops and videos.

For each input it writes masks/<stem>.png (one frame) or masks/<stem>_f<NNNNN>.png (a loop or
video), optional overlays (PNG per frame, and an MP4 for loops and videos) and <stem>.csv with
per-frame lesion area in pixels (and mm^2 when the DICOM gives the spacing), the mean foreground
probability, the confidence scores (nakt_edge.confidence), for a calibrated model the distance to its
out-of-domain reference (nakt_edge.ood, ``nakt.ood``) and the model latency. Frames below ``flag_below``
or out of domain are flagged, and drawn in orange with a label on the overlay. Inputs whose CSV exists
are done: a re-run skips them, so an interrupted run resumes; ``force`` redoes everything. A file
that cannot be read is reported and skipped; the rest goes on. Every file is written atomically
(the CSV last, as the input's commit).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nakt_edge.confidence import DEFAULT_SCORE, SCORES, confidence_scores
from nakt_edge.data.readers import Frame, expand_inputs, iter_frames, kind_of
from nakt_edge.errors import InputError
from nakt_edge.outputs import claim, write_csv, write_json, write_png
from nakt_edge.predict.overlay import LoopVideo, overlay
from nakt_edge.progress import Reporter
from nakt_edge.runtime.predictor import OnnxPredictor

log = logging.getLogger("nakt_edge")
CSV_COLUMNS = ("frame", "lesion_pixels", "lesion_mm2", "mean_probability", "confidence", *SCORES, "ood_distance",
               "out_of_domain", "flagged", "latency_ms")


@dataclass
class PredictResult:
    out: Path
    provider: str
    frames: int = 0
    inputs_done: int = 0
    inputs_skipped: list[str] = field(default_factory=list)  # already done (resume)
    failed: dict[str, str] = field(default_factory=dict)  # input -> why it was skipped
    latencies_ms: list[float] = field(default_factory=list)
    out_of_domain: int = 0  # frames beyond the model's nakt.ood reference
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        lat = np.asarray(self.latencies_ms, np.float64)
        return {"frames": self.frames, "inputs_done": self.inputs_done, "inputs_already_done": self.inputs_skipped,
                "failed": self.failed, "provider": self.provider, "seconds": round(self.seconds, 3),
                "frames_per_s": round(self.frames / self.seconds, 2) if self.seconds > 0 else None,
                "p50_ms": round(float(np.percentile(lat, 50)), 3) if lat.size else None,
                "p95_ms": round(float(np.percentile(lat, 95)), 3) if lat.size else None,
                "out_of_domain_frames": self.out_of_domain}


def _batches(frames: Iterator[Frame], size: int) -> Iterator[list[Frame]]:
    batch: list[Frame] = []
    for frame in frames:
        if batch and frame.gray.shape != batch[0].gray.shape:
            yield batch
            batch = []
        batch.append(frame)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _predict_input(model: OnnxPredictor, path: Path, out: Path, threshold: float, with_overlay: bool,
                   batch: int, result: PredictResult, reporter: Reporter, flag_below: float | None) -> None:
    rows: list[dict[str, Any]] = []
    single = kind_of(path) == "image"
    loop = None
    ok = False
    try:
        for frames in _batches(iter_frames(path), batch):
            started = time.perf_counter()
            probs = model.predict(np.stack([f.gray for f in frames]))
            per_frame = 1000 * (time.perf_counter() - started) / len(frames)
            for frame, prob in zip(frames, probs):
                name = path.stem if single else f"{path.stem}_f{frame.index:05d}"
                mask = prob > threshold
                scores = confidence_scores(prob, threshold)
                distance = model.ood.distance(frame.gray) if model.ood is not None else None
                strange = distance is not None and distance > model.ood.threshold
                result.out_of_domain += int(strange)
                flagged = strange or (flag_below is not None and scores[DEFAULT_SCORE] < flag_below)
                write_png(out / "masks" / f"{name}.png", mask.astype(np.uint8) * 255)
                if with_overlay:
                    image = overlay(frame.gray, mask, flagged=flagged)
                    write_png(out / "overlays" / f"{name}.png", image)
                    if not single:
                        loop = loop or LoopVideo(out / "overlays" / f"{path.stem}.mp4")
                        loop.add(image)
                pixels = int(mask.sum())
                area = pixels * frame.spacing_mm[0] * frame.spacing_mm[1] if frame.spacing_mm else None
                rows.append({"frame": frame.index, "lesion_pixels": pixels,
                             "lesion_mm2": round(area, 4) if area is not None else "",
                             "mean_probability": round(float(prob.mean()), 6),
                             "confidence": round(scores[DEFAULT_SCORE], 6),
                             **{k: round(v, 6) for k, v in scores.items()},
                             "ood_distance": round(distance, 4) if distance is not None else "",
                             "out_of_domain": int(strange) if distance is not None else "",
                             "flagged": int(flagged),
                             "latency_ms": round(per_frame, 3)})
                result.latencies_ms.append(per_frame)
                reporter.advance("predict")
        ok = True
    finally:
        if loop is not None:
            loop.close(ok)
    result.frames += len(rows)
    write_csv(out / f"{path.stem}.csv", rows, CSV_COLUMNS)  # the input's commit: a re-run skips it


def predict(model: str | Path, inputs: Sequence[str | Path], out: str | Path, *, threshold: float | None = None,
            overlay_images: bool = False, device: str = "auto", batch: int = 8, threads: int | None = None,
            flag_below: float | None = None, force: bool = False, reporter: Reporter | None = None) -> PredictResult:
    """Segment every frame of ``inputs`` (image files, DICOM files, videos, or folders of them) with ``model``."""
    if batch < 1:
        raise InputError(f"--batch must be >= 1 (got {batch})", hint="use 1 for lowest latency, 8-32 for throughput")
    if threshold is not None and not 0.0 < threshold < 1.0:
        raise InputError(f"--threshold must lie in (0, 1) (got {threshold})", hint="0.5 is the usual cut")
    if not str(model).endswith(".onnx"):
        raise InputError("predict runs exported ONNX students", hint="export the run first: nakt export RUN --out "
                         "student.onnx", path=model)
    files = expand_inputs([Path(p) for p in inputs])
    predictor = OnnxPredictor(model, device=device, threads=threads)
    cut = threshold if threshold is not None else predictor.threshold
    out = Path(out)
    reporter = reporter or Reporter()
    result = PredictResult(out, predictor.provider)
    with claim(out):
        (out / "masks").mkdir(parents=True, exist_ok=True)
        if overlay_images:
            (out / "overlays").mkdir(exist_ok=True)
        reporter.start("predict", f"segmenting {len(files)} input(s)", None)
        started = time.perf_counter()
        for path in files:
            if (out / f"{path.stem}.csv").is_file() and not force:
                result.inputs_skipped.append(path.name)
                continue
            try:
                _predict_input(predictor, path, out, cut, overlay_images, batch, result, reporter, flag_below)
                result.inputs_done += 1
            except InputError as error:
                log.warning("skipped %s", error.one_line())
                result.failed[str(path)] = error.one_line()
        result.seconds = time.perf_counter() - started
        reporter.finish("predict")
        write_json(out / "summary.json", {"model": str(model), "threshold": cut, **result.summary()})
    return result
