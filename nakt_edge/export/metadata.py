"""The ``nakt.*`` metadata an exported student carries, so it can later serve as a teacher."""

from __future__ import annotations

import json
from typing import Any

from nakt_edge import __version__
from nakt_edge.runtime.spec import TeacherSpec
from nakt_edge.training.run import RunInfo


def student_contract(info: RunInfo) -> TeacherSpec:
    """Our students take gray x/255 at the working size (NCHW) and give one sigmoid logit channel."""
    return TeacherSpec(layout="NCHW", channels=info.in_channels, size=(info.size, info.size), normalize="unit",
                       output="logits", activation="sigmoid", foreground=0)


def student_metadata(info: RunInfo, precision: str, extra: dict[str, Any] | None = None) -> dict[str, str]:
    """Contract keys plus provenance: architecture, threshold, precision, source run, checks."""
    props = student_contract(info).to_metadata()
    props.update({
        "nakt.arch": info.spec.arch,
        "nakt.model_spec": json.dumps(info.spec.to_dict()),
        "nakt.divisor": str(info.divisor),
        "nakt.threshold": str(info.threshold),
        "nakt.precision": precision,
        "nakt.task": info.task,
        "nakt.source_run": str(info.path),
        "nakt.version": __version__,
    })
    for key, value in (extra or {}).items():
        props[f"nakt.{key}"] = value if isinstance(value, str) else json.dumps(value)
    return props
