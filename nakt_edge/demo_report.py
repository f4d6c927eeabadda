"""The demo's report.md and its pictures (test predictions and transferal pseudo masks)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from nakt_edge.data.images import read_gray, read_masks_merged, read_soft_mask, resize_to
from nakt_edge.data.pairing import collect_samples
from nakt_edge.labeling.pseudo_set import read_rows
from nakt_edge.outputs import write_png, write_text
from nakt_edge.runtime.predictor import OnnxPredictor

if TYPE_CHECKING:
    from nakt_edge.demo import DemoResult
    from nakt_edge.evaluation import EvalReport

TILE = 160


def _tile(gray: np.ndarray, mask: np.ndarray | None = None, color: tuple[int, int, int] = (0, 0, 255),
          soft: np.ndarray | None = None) -> np.ndarray:
    """A TILE x TILE BGR picture of a gray image with a mask outline, or a soft mask as a heat map."""
    base = cv2.cvtColor((resize_to(gray, TILE, TILE) * 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
    if soft is not None:
        heat = cv2.applyColorMap((resize_to(soft, TILE, TILE) * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)
        return cv2.addWeighted(base, 0.45, heat, 0.55, 0)
    if mask is not None:
        edges = resize_to(mask.astype(np.float32), TILE, TILE) > 0.5
        contours, _ = cv2.findContours(edges.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(base, contours, -1, color, 2)
    return base


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    cv2.putText(tile, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1, cv2.LINE_AA)
    return tile


def prediction_grid(out: Path, count: int = 6) -> Path:
    """Rows: test phantoms; columns: image, ground truth, teacher, student (threshold 0.5)."""
    samples = collect_samples(out / "data" / "test" / "images", out / "data" / "test" / "masks")
    picked = [s for s in samples if read_masks_merged(s.masks).any()][:count]
    images = [s.image.read_gray() for s in picked]
    masks = [read_masks_merged(s.masks) for s in picked]
    predictions = {}
    for name in ("teacher", "student"):
        predictor = OnnxPredictor(out / f"{name}.onnx", device="cpu")
        predictions[name] = predictor.predict(np.stack(images)) > predictor.threshold
    rows = []
    for index, (image, mask) in enumerate(zip(images, masks)):
        rows.append(np.concatenate([
            _label(_tile(image), "image"), _label(_tile(image, mask, (0, 200, 0)), "ground truth"),
            _label(_tile(image, predictions["teacher"][index], (0, 0, 255)), "teacher"),
            _label(_tile(image, predictions["student"][index], (255, 128, 0)), "student")], axis=1))
    return write_png(out / "figures" / "test_predictions.png", np.concatenate(rows, axis=0))


def pseudo_grid(out: Path, count: int = 8) -> Path:
    """Transferal images with their fused soft pseudo masks; the caption says kept or why excluded."""
    rows = [r for r in read_rows(out / "pseudo") if not r.reason.startswith("unreadable")][:count]
    tiles = []
    for row in rows:
        image = read_gray(out / "data" / "transfer" / "images" / row.file)
        soft = read_soft_mask(out / "pseudo" / "masks" / f"{row.stem}.png")
        caption = f"{row.reason} H={row.entropy_bits:.2f}"
        tiles.append(np.concatenate([_label(_tile(image), row.stem[-5:]), _label(_tile(image, soft=soft), caption)]))
    return write_png(out / "figures" / "pseudo_masks.png", np.concatenate(tiles, axis=1))


def markdown_table(result: DemoResult) -> str:
    teacher, student = result.rows
    lines = ["| model | parameters | ONNX MB | Dice (test) | Dice, lesion images | p50 ms (CPU, batch 1) |",
             "|---|---:|---:|---:|---:|---:|"]
    for row in result.rows:
        lines.append(f"| {row['model']} | {row['parameters'] / 1e6:.2f} M | {row['onnx_mb']:.2f} | "
                     f"{row['dice_mean']:.3f} ± {row['dice_std']:.3f} | {row['dice_lesion_mean']:.3f} | "
                     f"{row['p50_ms']:.1f} |")
    c = result.pseudo_counts
    lines += ["", f"KTC = student Dice / teacher Dice = **{result.ktc:.3f}**; student speed-up "
                  f"{teacher['p50_ms'] / student['p50_ms']:.2f}x, {teacher['parameters'] / student['parameters']:.1f}x "
                  f"fewer parameters.",
              f"Pseudo-labeled transferal set: {c['labeled']} images, {c['kept']} kept, {c['few_pixels']} excluded "
              f"(too few pixels), {c['high_entropy']} excluded (entropy > beta)."]
    return "\n".join(lines)


def write_report(result: DemoResult, reports: dict[str, EvalReport]) -> Path:
    out = result.out
    prediction_grid(out)
    pseudo_grid(out)
    s = result.settings
    text = "\n".join([
        "# nakt-edge demo", "",
        f"Teacher: {s.teacher_arch} ({s.teacher_encoder}, decoder width {s.teacher_width}) trained on "
        f"{s.teacher_images} breast phantoms with labels. Student: {s.student_arch} (width {s.student_width}) "
        f"trained only on the teacher's pseudo masks of {s.transfer_images} {s.transfer_domain} phantoms "
        f"(another domain; no label). Both evaluated on {s.test_images} held-out breast phantoms at "
        f"{s.size}x{s.size}.", "",
        markdown_table(result), "",
        "Stage times (s): " + ", ".join(f"{k} {v}" for k, v in result.seconds.items()), "",
        "## Test predictions (green: ground truth, red: teacher, blue: student)", "",
        "![test predictions](figures/test_predictions.png)", "",
        "## Pseudo masks of the transferal set", "",
        "![pseudo masks](figures/pseudo_masks.png)", "",
        "![entropy histogram](pseudo/entropy_hist.png)", ""])
    return write_text(out / "report.md", text)
