"""summary.json and entropy_hist.png of a pseudo-labeled set, recomputed from its manifest.

Counts follow the paper's Table 7: images before exclusion, excluded by the alpha rule (too few
target pixels) and by the beta rule (high entropy), kept. Computing them from the manifest makes
them right after any number of resumed runs.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nakt_edge.config import LabelConfig
from nakt_edge.labeling.entropy_plot import plot_entropy_histogram
from nakt_edge.labeling.filters import min_pixels_for
from nakt_edge.labeling.pseudo_set import read_rows
from nakt_edge.outputs import write_json
from nakt_edge.provenance import versions
from nakt_edge.runtime.onnx_segmenter import OnnxSegmenter

PSEUDO_FORMAT = "nakt-edge/pseudo-set-1"


def counts_of(reasons: Sequence[str]) -> dict[str, Any]:
    """Table 7 counts from the manifest's reason column."""
    tally = Counter("unreadable" if r.startswith("unreadable") else r for r in reasons)
    labeled = len(reasons) - tally["unreadable"]
    return {
        "total": len(reasons), "unreadable": tally["unreadable"], "labeled": labeled,
        "few_pixels": tally["few_pixels"], "high_entropy": tally["high_entropy"], "kept": tally["kept"],
        "excluded": tally["few_pixels"] + tally["high_entropy"],
        "kept_percent": 100.0 * tally["kept"] / labeled if labeled else math.nan,
    }


def describe_teachers(segmenters: Sequence[OnnxSegmenter], hashes: Sequence[str]) -> list[dict[str, Any]]:
    """What summary.json records of each teacher: file, sha256, the provider that ran it and its contract."""
    return [{"path": str(s.path), "sha256": h, "provider": s.provider, "contract": s.spec.to_dict()}
            for s, h in zip(segmenters, hashes)]


def finalize(out: Path, images: str | Path, stems: Sequence[str], teachers: Sequence[dict[str, Any]],
             config: LabelConfig, *, manifest: str | Path | None, split: str | None, run: dict[str, Any],
             extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write summary.json and entropy_hist.png for the rows of the current image list; return the summary.

    ``teachers`` as ``describe_teachers`` gives them; ``extra`` adds keys (a shard's position)."""
    wanted = set(stems)
    rows = [row for row in read_rows(out) if row.stem in wanted]
    entropies = [row.entropy_bits for row in rows if not math.isnan(row.entropy_bits)]
    beta = config.max_entropy if config.filter else None
    run = {**run, "images_per_s": run["processed"] / run["seconds"] if run["seconds"] > 0 else None}
    summary = {
        "format": PSEUDO_FORMAT,
        "images": str(Path(images).resolve()),
        "manifest": str(manifest) if manifest else None,
        "split": split,
        "counts": counts_of([row.reason for row in rows]),
        "alpha_min_pixels": min_pixels_for(config.size, config.size, min_pixels=config.min_pixels,
                                           min_fraction=config.min_fraction) if config.filter else None,
        "beta_max_entropy": beta,
        "entropy_bits": {"mean": float(np.mean(entropies)), "median": float(np.median(entropies)),
                         "p95": float(np.percentile(entropies, 95))} if entropies else None,
        "teacher_agreement_mean": float(np.nanmean([r.teacher_agreement for r in rows]))
        if any(not math.isnan(r.teacher_agreement) for r in rows) else None,
        "settings": config.to_dict(),
        "teachers": list(teachers),
        "provider": teachers[0]["provider"],
        "run": run,
        **(extra or {}),
        "versions": versions(),
    }
    write_json(out / "summary.json", summary)
    counts = summary["counts"]
    plot_entropy_histogram(entropies, beta, out / "entropy_hist.png",
                           title=f"{counts['labeled']} labeled, {counts['kept']} kept "
                                 f"({counts['few_pixels']} too few pixels, {counts['high_entropy']} high entropy)")
    return summary
