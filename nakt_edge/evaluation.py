"""``evaluate``: Dice, IoU, HD95 and ASSD (MONAI's conventions) of a model (ONNX file or run) on labeled
images, at native resolution.

Each image is resized to the model's working size, predicted, and its probability map resized
back to the mask's native size before thresholding, so scores do not depend on the working
size. Empty-mask rules are those of ``nakt_edge.metrics`` (both empty: Dice 1). "Lesion" means
the ground truth is not empty; lesion-only Dice is reported beside the all-image Dice.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nakt_edge.calibration import Reliability
from nakt_edge.confidence import DEFAULT_SCORE, confidence_scores
from nakt_edge.data.images import read_masks_merged, resize_to
from nakt_edge.data.pairing import Sample, collect_samples
from nakt_edge.errors import InputError
from nakt_edge.metrics import Spacing, assd, dice, hd95, iou, ktc, mean_std
from nakt_edge.outputs import claim, write_csv, write_json
from nakt_edge.progress import Reporter
from nakt_edge.provenance import versions
from nakt_edge.runtime.predictor import Predictor, open_predictor

EMPTY_RULE = ("both empty: Dice = IoU = 1, HD95 = ASSD = 0; one empty: Dice = IoU = 0, HD95/ASSD undefined "
              "(excluded); HD95 and ASSD as MONAI computes them")
DISTANCES = ("hd95", "assd")


@dataclass
class ModelScores:
    """Per-image scores of one model and their summary."""

    name: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    reliability: Reliability = field(default_factory=Reliability)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.name, "images": len(self.rows)}
        for key in ("dice", "iou", *DISTANCES):
            mean, std, count = mean_std([row[key] for row in self.rows])
            out[f"{key}_mean"], out[f"{key}_std"], out[f"{key}_n"] = mean, std, count
        mean, std, count = mean_std([row["dice"] for row in self.rows if row["lesion"]])
        out["dice_lesion_mean"], out["dice_lesion_std"], out["lesion_images"] = mean, std, count
        out["ece"] = self.reliability.ece()  # pixel level, native resolution (nakt_edge.calibration)
        out["reliability"] = self.reliability.table()
        if self.rows and "out_of_domain" in self.rows[0]:
            out["out_of_domain_images"] = sum(int(row["out_of_domain"]) for row in self.rows)
        return out


@dataclass
class EvalReport:
    model: ModelScores
    reference: ModelScores | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        out = {"model": self.model.summary(), "empty_rule": EMPTY_RULE, "settings": self.settings}
        if self.reference is not None:
            ref = self.reference.summary()
            out["reference"] = ref
            out["ktc"] = ktc(out["model"]["dice_mean"], ref["dice_mean"])
            out["ktc_lesion"] = ktc(out["model"]["dice_lesion_mean"], ref["dice_lesion_mean"])
        return out

    def rows(self) -> list[dict[str, Any]]:
        if self.reference is None:
            return self.model.rows
        return [{**row, **{f"ref_{k}": v for k, v in ref.items() if k in ("dice", "iou", *DISTANCES, "pred_pixels")}}
                for row, ref in zip(self.model.rows, self.reference.rows)]


def _score(predictor: Predictor, images: list[np.ndarray], masks: list[np.ndarray], names: list[str],
           spacing: Spacing | None, reliability: Reliability) -> list[dict]:
    size = predictor.working_size
    batch = np.stack([resize_to(image, size, size) for image in images])
    probs = predictor.predict(batch)
    rows = []
    for name, image, prob, mask in zip(names, images, probs, masks):
        native = resize_to(prob, *mask.shape)
        reliability.add(native, mask)
        pred = native > predictor.threshold
        row = {"file": name, "dice": dice(pred, mask), "iou": iou(pred, mask),
               "hd95": hd95(pred, mask, spacing), "assd": assd(pred, mask, spacing), "lesion": bool(mask.any()),
               "target_pixels": int(mask.sum()), "pred_pixels": int(pred.sum()),
               "confidence": confidence_scores(native, predictor.threshold)[DEFAULT_SCORE]}
        if predictor.ood is not None:
            row["ood_distance"] = predictor.ood.distance(image)
            row["out_of_domain"] = row["ood_distance"] > predictor.ood.threshold
        rows.append(row)
    return rows


def reliability_path(report: Path) -> Path:
    """FILE.reliability.png beside the report FILE.json."""
    return report.with_name(f"{report.stem}.reliability.png")


def evaluate_samples(predictor: Predictor, samples: Sequence[Sample], *, reference: Predictor | None = None,
                     batch_size: int = 8, spacing: Spacing | None = None, reporter: Reporter | None = None
                     ) -> EvalReport:
    """Score ``predictor`` (and ``reference``) on labeled samples; images are decoded once for both.

    ``spacing`` (row, column) in mm puts HD95 and ASSD in mm instead of pixels."""
    reporter = reporter or Reporter()
    report = EvalReport(ModelScores(predictor.name), ModelScores(reference.name) if reference else None)
    reporter.start("evaluate", f"evaluating {predictor.name}", len(samples))
    for start in range(0, len(samples), batch_size):
        chunk = samples[start:start + batch_size]
        images = [s.image.read_gray() for s in chunk]
        masks = [read_masks_merged(s.masks) for s in chunk]
        for sample, image, mask in zip(chunk, images, masks):
            if image.shape != mask.shape:
                raise InputError(f"mask is {mask.shape[1]}x{mask.shape[0]}, image is {image.shape[1]}x{image.shape[0]}",
                                 hint="masks must have the size of their image", path=sample.masks[0])
        names = [s.image.name for s in chunk]
        report.model.rows += _score(predictor, images, masks, names, spacing, report.model.reliability)
        if reference is not None and report.reference is not None:
            report.reference.rows += _score(reference, images, masks, names, spacing, report.reference.reliability)
        reporter.advance("evaluate", len(chunk))
    reporter.finish("evaluate")
    return report


def evaluate(
    model: str | Path,
    images: str | Path,
    masks: str | Path | None = None,
    *,
    reference: str | Path | None = None,
    manifest: str | Path | None = None,
    split: str | None = None,
    size: int | None = None,
    device: str = "auto",
    threads: int | None = None,
    spacing: Spacing | None = None,
    out: str | Path | None = None,
    reporter: Reporter | None = None,
) -> EvalReport:
    """Evaluate an ONNX file or a run directory on labeled images; optionally write JSON + CSV.

    ``size`` is the working size for ONNX models whose input is dynamic and carries no
    ``nakt.size``. ``spacing`` (row, column) mm per pixel of the masks puts HD95/ASSD in mm. With
    ``out`` = FILE.json, per-image rows go to FILE.csv beside it.
    """
    if spacing is not None and (len(spacing) != 2 or min(spacing) <= 0):
        raise InputError(f"spacing must be two positive numbers (row, column), got {spacing}",
                         hint="e.g. --spacing 0.1,0.1 (mm per pixel)")
    with claim(out, folder=False) if out is not None else contextlib.nullcontext():
        return _evaluate(model, images, masks, reference=reference, manifest=manifest, split=split, size=size,
                         device=device, threads=threads, spacing=spacing, out=out, reporter=reporter)


def _evaluate(model: str | Path, images: str | Path, masks: str | Path | None, *, reference: str | Path | None,
              manifest: str | Path | None, split: str | None, size: int | None, device: str, threads: int | None,
              spacing: Spacing | None, out: str | Path | None, reporter: Reporter | None) -> EvalReport:
    samples = collect_samples(images, masks, manifest=manifest, split=split)
    predictor = open_predictor(model, device=device, threads=threads, size=size)
    ref = open_predictor(reference, device=device, threads=threads, size=size) if reference else None
    report = evaluate_samples(predictor, samples, reference=ref, spacing=spacing, reporter=reporter)
    report.settings = {"model": str(model), "reference": str(reference) if reference else None,
                       "images": str(images), "masks": str(masks) if masks else None, "manifest":
                       str(manifest) if manifest else None, "split": split, "working_size": predictor.working_size,
                       "threshold": predictor.threshold,
                       "distance_unit": "mm" if spacing else "px", "spacing": list(spacing) if spacing else None,
                       "provider": getattr(predictor, "provider", None),
                       "versions": versions()}
    if out is not None:
        out = Path(out)
        write_json(out, {**report.summary(), "images": report.rows()})
        write_csv(out.with_suffix(".csv"), report.rows())
        report.model.reliability.plot(reliability_path(out), f"{predictor.name} on {Path(images).name}")
    return report
