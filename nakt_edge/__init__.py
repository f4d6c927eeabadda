"""nakt-edge: network-agnostic knowledge transfer from ONNX teachers to small, fast ONNX students.

The public API (what the ``nakt`` CLI calls), imported lazily so that ``import nakt_edge`` and
``nakt --help`` stay fast:

>>> import nakt_edge as nakt
>>> nakt.label(["teacher.onnx"], "unlabeled/", "pseudo/")            # doctest: +SKIP
>>> nakt.distill("pseudo/", "sdu_net", "student/", width=0.25)       # doctest: +SKIP
>>> nakt.export_model("student/", "student.onnx")                    # doctest: +SKIP
>>> nakt.evaluate("student.onnx", "test/images", "test/masks")       # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = {
    "label": "nakt_edge.labeling.labeler",
    "train": "nakt_edge.training.train",
    "distill": "nakt_edge.training.distill",
    "distill_online": "nakt_edge.training.online_distill",
    "finetune": "nakt_edge.training.finetune",
    "export_model": "nakt_edge.export.exporter",
    "evaluate": "nakt_edge.evaluation",
    "run_demo": "nakt_edge.demo",
    "write_phantom_set": "nakt_edge.data.phantoms",
    "LabelConfig": "nakt_edge.config",
    "TrainConfig": "nakt_edge.config",
    "ModelSpec": "nakt_edge.models.registry",
    "build_model": "nakt_edge.models.registry",
    "OnnxSegmenter": "nakt_edge.runtime.onnx_segmenter",
}

__all__ = sorted(_API) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'nakt_edge' has no attribute '{name}'")
