"""Write expected.json: the reference libraries' answers on the fixtures (run by hand, not in CI).

    pip install monai SimpleITK scikit-image    # beside torch; not dependencies of nakt-edge
    python tests/golden/make_golden.py

MONAI: compute_hausdorff_distance(percentile=95), compute_average_surface_distance(symmetric=True)
(with and without spacing) and compute_dice; SimpleITK: STAPLEImageFilter (posterior, sensitivity,
specificity); scikit-image: measure.shannon_entropy(base=2).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from tests.golden.fixtures import SPACING, mask_pairs, rater_stacks, soft_masks  # noqa: E402


def monai_values(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    import torch
    from monai.metrics import compute_average_surface_distance, compute_dice, compute_hausdorff_distance

    p = torch.from_numpy(pred[None, None].astype(np.float32))
    t = torch.from_numpy(target[None, None].astype(np.float32))
    return {
        "dice": float(compute_dice(p, t, include_background=True)),
        "hd95": float(compute_hausdorff_distance(p, t, include_background=True, percentile=95)),
        "assd": float(compute_average_surface_distance(p, t, include_background=True, symmetric=True)),
        "hd95_mm": float(compute_hausdorff_distance(p, t, include_background=True, percentile=95,
                                                    spacing=list(SPACING))),
        "assd_mm": float(compute_average_surface_distance(p, t, include_background=True, symmetric=True,
                                                          spacing=list(SPACING))),
    }


def sitk_staple(raters: np.ndarray) -> dict[str, list]:
    import SimpleITK as sitk

    images = [sitk.GetImageFromArray(r.astype(np.uint8)) for r in raters]
    staple = sitk.STAPLEImageFilter()
    staple.SetForegroundValue(1)
    posterior = sitk.GetArrayFromImage(staple.Execute(images))
    return {"posterior": np.round(posterior.astype(np.float64), 6).tolist(),
            "sensitivity": list(staple.GetSensitivity()), "specificity": list(staple.GetSpecificity()),
            "iterations": staple.GetElapsedIterations()}


def main() -> None:
    import monai
    import SimpleITK as sitk
    import skimage
    from skimage.measure import shannon_entropy

    expected = {
        "versions": {"monai": monai.__version__, "SimpleITK": sitk.Version.VersionString(),
                     "scikit-image": skimage.__version__},
        "spacing": list(SPACING),
        "masks": {name: monai_values(pred, target) for name, (pred, target) in mask_pairs().items()},
        "staple": {name: sitk_staple(raters) for name, raters in rater_stacks().items()},
        "entropy_bits": {name: float(shannon_entropy(mask, base=2)) for name, mask in soft_masks().items()},
    }
    (HERE / "expected.json").write_text(json.dumps(expected) + "\n")
    print(json.dumps({k: v for k, v in expected["masks"].items()}, indent=1))


if __name__ == "__main__":
    main()
