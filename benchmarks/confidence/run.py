"""Which confidence score ranks a student's BUSI test images by their Dice? Risk-coverage, AURC, Spearman;
then calibration (pixel ECE on test before/after temperature scaling fitted on the labeled BUSI `teacher`
split, which no student saw) and the out-of-domain flag (AUROC of the nakt.ood distance, BUSI test vs
generated thyroid and natural phantoms and vs BUSI test under other scanner presets).

For each student ONNX: predict every BUSI `test` image at native resolution, score it with each
nakt_edge.confidence score, and compare with its Dice against the real mask. Kept images in order
of each score give the risk-coverage curve; AURC = mean over coverages of (1 - mean Dice of the kept);
`dice_at_80pct_coverage` = mean Dice of the 80% most confident. Writes results.json, RESULTS.md, curves.png.
Usage: python benchmarks/confidence/run.py STUDENT.onnx [...] [--busi ../shared/data/busi]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
from scipy.stats import spearmanr

from nakt_edge.calibration import Reliability
from nakt_edge.confidence import DEFAULT_SCORE, SCORES, confidence_scores
from nakt_edge.data.images import read_masks_merged
from nakt_edge.data.pairing import collect_samples
from nakt_edge.data.phantoms import make_phantom
from nakt_edge.export.calibrate import calibrate_model
from nakt_edge.metrics import dice
from nakt_edge.ood import auroc
from nakt_edge.runtime.predictor import OnnxPredictor

HERE = Path(__file__).resolve().parent


def evaluate(model: Path, busi: Path) -> dict:
    predictor = OnnxPredictor(model, device="cpu")
    samples = collect_samples(busi / "images", busi / "masks", manifest=busi / "manifest.csv", split="test")
    dices, scores = [], {k: [] for k in SCORES}
    for sample in samples:
        prob = predictor.predict(sample.image.read_gray()[None])[0]
        dices.append(dice(prob > predictor.threshold, read_masks_merged(sample.masks)))
        for key, value in confidence_scores(prob, predictor.threshold).items():
            scores[key].append(value)
    dices_a = np.asarray(dices)
    out = {"model": model.name, "images": len(dices), "dice_all": round(float(dices_a.mean()), 4), "scores": {}}
    for key, values in scores.items():
        order = np.argsort(-np.asarray(values), kind="stable")
        kept_mean = np.cumsum(dices_a[order]) / np.arange(1, len(order) + 1)
        out["scores"][key] = {"spearman": round(float(spearmanr(values, dices).statistic), 4),
                              "aurc": round(float(np.mean(1 - kept_mean)), 4),
                              "dice_at_80pct_coverage": round(float(kept_mean[int(0.8 * len(order)) - 1]), 4),
                              "curve": [round(float(v), 4) for v in kept_mean]}
    out["best_score"] = max(out["scores"], key=lambda k: out["scores"][k]["spearman"])
    out["default_score"] = DEFAULT_SCORE
    out["dice_at_80pct_coverage"] = out["scores"][DEFAULT_SCORE]["dice_at_80pct_coverage"]
    oracle = np.cumsum(np.sort(dices_a)[::-1]) / np.arange(1, len(dices_a) + 1)
    out["oracle_aurc"] = round(float(np.mean(1 - oracle)), 4)
    return out


PRESETS = {"gain 1.5": lambda g: np.clip(1.5 * g, 0, 1), "gamma 2": lambda g: g ** 2,
           "gamma 0.5": lambda g: np.sqrt(g), "blur 2 px": lambda g: cv2.GaussianBlur(g, (0, 0), 2)}


def calibration_and_ood(model: Path, busi: Path, work: Path) -> dict:
    calibrated = work / f"{model.stem}.calibrated.onnx"
    fit = calibrate_model(model, calibrated, busi / "images", busi / "masks", manifest=busi / "manifest.csv",
                          split="teacher", force=True).report
    samples = collect_samples(busi / "images", busi / "masks", manifest=busi / "manifest.csv", split="test")
    out: dict = {"temperature": fit["temperature"], "fit_images": fit["images"]}
    for name, path in (("before", model), ("after", calibrated)):
        predictor, reliability = OnnxPredictor(path, device="cpu"), Reliability()
        for sample in samples:
            reliability.add(predictor.predict(sample.image.read_gray()[None])[0], read_masks_merged(sample.masks))
        out[f"ece_{name}"] = round(reliability.ece(), 5)
    reference = OnnxPredictor(calibrated, device="cpu").ood
    test = [s.image.read_gray() for s in samples]
    inside = np.array([reference.distance(g) for g in test])
    out["ood_threshold"] = round(reference.threshold, 3)
    out["busi_test_flagged"] = round(float(np.mean(inside > reference.threshold)), 4)
    for domain in ("thyroid", "natural"):
        outside = np.array([reference.distance(make_phantom(domain, 256, 77, i).image / 255.0) for i in range(200)])
        key = "ood_auroc" if domain == "thyroid" else f"ood_auroc_{domain}"
        out[key] = round(auroc(inside, outside), 4)
        out[f"{domain}_flagged"] = round(float(np.mean(outside > reference.threshold)), 4)
    out["presets"] = {}
    for preset, change in PRESETS.items():
        outside = np.array([reference.distance(change(g).astype(np.float32)) for g in test])
        out["presets"][preset] = {"auroc": round(auroc(inside, outside), 4),
                                  "flagged": round(float(np.mean(outside > reference.threshold)), 4)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--busi", type=Path, default=HERE.parents[2] / "shared" / "data" / "busi")
    parser.add_argument("--work", type=Path, default=Path("/tmp/nakt-confidence"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    results = [{**evaluate(m, args.busi), **calibration_and_ood(m, args.busi, args.work)} for m in args.models]
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["# Confidence scores on BUSI test (generated by run.py)", "",
             "| model | images | Dice all | score | Spearman vs Dice | AURC (oracle) | Dice at 80% coverage |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        for key, s in r["scores"].items():
            lines.append(f"| {r['model']} | {r['images']} | {r['dice_all']} | {key} | {s['spearman']} | "
                         f"{s['aurc']} ({r['oracle_aurc']}) | {s['dice_at_80pct_coverage']} |")
    lines += ["", "Calibration (pixel ECE on BUSI test, 15 bins; temperature fitted on the labeled `teacher` split) "
              "and the out-of-domain flag (nakt.ood distance; flagged above the fitting set's 99th percentile):", "",
              "| model | T | ECE before | ECE after | OOD AUROC thyroid (flagged) | natural (flagged) | "
              "BUSI test flagged | presets AUROC (flagged) |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        presets = "; ".join(f"{k} {v['auroc']} ({v['flagged']:.0%})" for k, v in r["presets"].items())
        lines.append(f"| {r['model']} | {r['temperature']:.3f} | {r['ece_before']} | {r['ece_after']} | "
                     f"{r['ood_auroc']} ({r['thyroid_flagged']:.0%}) | {r['ood_auroc_natural']} "
                     f"({r['natural_flagged']:.0%}) | {r['busi_test_flagged']:.1%} | {presets} |")
    (HERE / "RESULTS.md").write_text("\n".join(lines) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for r in results:
        for key, s in r["scores"].items():
            coverage = np.arange(1, len(s["curve"]) + 1) / len(s["curve"])
            ax.plot(coverage, s["curve"], label=f"{r['model']} {key}")
    ax.set_xlabel("coverage (fraction of test images kept, most confident first)")
    ax.set_ylabel("mean Dice of the kept images")
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(HERE / "curves.png", dpi=120)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
