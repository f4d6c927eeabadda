"""Calibrating an exported student: a temperature for its probabilities and an out-of-domain reference,
fitted on a labeled or pseudo-labeled set and stored in the ONNX metadata.

Writes ``nakt.temperature`` (applied by every nakt runtime: OnnxSegmenter, hence label, evaluate,
predict and bench, and examples/segment_stream.py), ``nakt.threshold`` moved so that the masks stay
exactly those of the uncalibrated model, ``nakt.ood`` (nakt_edge.ood) and ``nakt.calibration`` (what
was fitted on what, with the pixel-level BCE and ECE before and after, on the fitting set itself).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nakt_edge.calibration import Reliability, calibrated_threshold, fit_temperature
from nakt_edge.data.datasets import load_samples
from nakt_edge.data.images import resize_stack
from nakt_edge.data.pairing import Sample, collect_samples
from nakt_edge.data.subsets import take_by_group
from nakt_edge.errors import InputError
from nakt_edge.export.onnx_export import set_metadata
from nakt_edge.labeling.pseudo_set import open_pseudo_set
from nakt_edge.ood import IntensityReference
from nakt_edge.outputs import atomic_path, claim, guard_file
from nakt_edge.progress import Reporter
from nakt_edge.runtime.onnx_segmenter import OnnxSegmenter, read_metadata
from nakt_edge.runtime.predictor import DEFAULT_SIZE
from nakt_edge.runtime.spec import read_sidecar

MAX_IMAGES = 400  # enough pixels for one scalar and 8 features; whole groups, spread over the set


@dataclass
class CalibrationResult:
    path: Path
    temperature: float
    threshold: float  # the stored (calibrated) threshold
    report: dict[str, Any]


def calibration_samples(source: str | Path, masks: str | Path | None = None, *, manifest: str | Path | None = None,
                        split: str | None = None) -> tuple[list[Sample], str]:
    """The fitting set: a pseudo-labeled set (its labeled rows but the high-entropy ones, soft targets), or
    labeled images (``masks``, or BUSI-style masks beside them). Returns the samples and their kind."""
    source = Path(source)
    if (source / "summary.json").is_file():
        if masks is not None:
            raise InputError("a pseudo-labeled set brings its own masks", hint="drop --calibrate-masks", path=source)
        pseudo = open_pseudo_set(source)
        rows = [r for r in pseudo.rows if r.kept or r.reason == "few_pixels"]
        if not rows:
            raise InputError("the pseudo-labeled set has no labeled row to calibrate on", hint="label more images",
                             path=source)
        return [pseudo.sample(r) for r in rows], "pseudo"
    return collect_samples(source, masks, manifest=manifest, split=split), "labeled"


def _logits_and_targets(segmenter: OnnxSegmenter, samples: list[Sample], size: int, soft: bool,
                        reporter: Reporter) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    arrays = load_samples(samples, size, soft_targets=soft, reporter=reporter)
    images = arrays.images.astype(np.float32) / 255.0
    logits = []
    for start in range(0, len(images), 8):
        raw = segmenter.run(segmenter.preprocess(images[start:start + 8]))
        logits.append(resize_stack(segmenter.foreground_logits(raw), size, size))
    return np.concatenate(logits), arrays.targets.astype(np.float32) / 255.0, images


def calibrate_file(path: Path, source: str | Path, masks: str | Path | None = None, *,
                   manifest: str | Path | None = None, split: str | None = None,
                   reporter: Reporter | None = None) -> CalibrationResult:
    """Fit and store the temperature and OOD reference in the ONNX file at ``path``, in place."""
    reporter = reporter or Reporter()
    samples, kind = calibration_samples(source, masks, manifest=manifest, split=split)
    samples = take_by_group(samples, MAX_IMAGES) if len(samples) > MAX_IMAGES else samples
    segmenter = OnnxSegmenter(path, device="cpu")
    size = segmenter.spec.size[0] if segmenter.spec.size else DEFAULT_SIZE
    logits, targets, images = _logits_and_targets(segmenter, samples, size, kind == "pseudo", reporter)
    temperature, bce_before, bce_after = fit_temperature(logits, targets)
    before, after = Reliability(), Reliability()
    before.add(1 / (1 + np.exp(-logits)), targets)
    after.add(1 / (1 + np.exp(-logits / temperature)), targets)
    old_threshold = float(segmenter.metadata.get("nakt.threshold", 0.5))
    threshold = calibrated_threshold(old_threshold, temperature)
    reference = IntensityReference.fit(list(images), size)
    report = {"source": str(Path(source).resolve()), "kind": kind, "images": len(samples), "size": size,
              "temperature": round(temperature, 6), "bce_before": round(bce_before, 6),
              "bce_after": round(bce_after, 6), "ece_before": round(before.ece(), 6),
              "ece_after": round(after.ece(), 6),
              "threshold_uncalibrated": old_threshold, "ood_threshold": round(reference.threshold, 4)}
    set_metadata(path, {"nakt.temperature": f"{temperature:.6g}", "nakt.threshold": f"{threshold:.6g}",
                        "nakt.ood": reference.to_metadata(), "nakt.calibration": json.dumps(report)})
    return CalibrationResult(path, temperature, threshold, report)


def calibrate_model(model: str | Path, out: str | Path, source: str | Path, masks: str | Path | None = None, *,
                    manifest: str | Path | None = None, split: str | None = None, force: bool = False,
                    reporter: Reporter | None = None) -> CalibrationResult:
    """Write a calibrated copy of the ONNX file ``model`` to ``out`` (atomically; ``force`` to overwrite)."""
    model = Path(model)
    if not model.is_file():
        raise InputError("model file not found", hint="pass an exported .onnx file", path=model)
    if "nakt.temperature" in read_metadata(model) or "temperature" in read_sidecar(model):  # no session needed
        raise InputError("this model is calibrated already (nakt.temperature is set)",
                         hint="calibrate the uncalibrated export instead", path=model)
    with claim(out, folder=False):
        out = guard_file(out, force)
        with tempfile.TemporaryDirectory(prefix="nakt-calibrate-") as tmp:
            work = Path(tmp) / model.name
            shutil.copyfile(model, work)
            result = calibrate_file(work, source, masks, manifest=manifest, split=split, reporter=reporter)
            with atomic_path(out) as target:
                shutil.copyfile(work, target)
        result.path = out
        return result
