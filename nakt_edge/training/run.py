"""A run directory: what training writes, and how a trained model is loaded back.

```
RUN/
  model.safetensors   best weights (by validation Dice; the last epoch when there is no validation)
  last.safetensors    weights + Adam state of the last finished epoch (for --resume)
  model.json          architecture, input contract, threshold, resolved config, metrics, lineage
  history.csv         one row per epoch
```
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from nakt_edge.config import TrainConfig
from nakt_edge.errors import InputError
from nakt_edge.models.registry import ModelSpec, build_model
from nakt_edge.outputs import check_folder, guard_folder, read_json
from nakt_edge.training.checkpoints import load_weights
from nakt_edge.training.distributed import is_main_process
from nakt_edge.training.qat import snap_to_grid

RUN_OUTPUTS = ("model.safetensors", "last.safetensors", "model.json", "history.csv")
RUN_FORMAT = "nakt-edge/run-1"


@dataclass(frozen=True)
class RunInfo:
    """The parsed model.json of a run."""

    path: Path
    spec: ModelSpec
    size: int
    threshold: float
    divisor: int
    config: TrainConfig
    task: str
    metrics: dict[str, Any]
    lineage: dict[str, Any]
    raw: dict[str, Any]

    @property
    def in_channels(self) -> int:
        return self.spec.in_channels


def is_run_dir(path: str | Path) -> bool:
    return (Path(path) / "model.json").is_file()


def read_run_info(run_dir: str | Path) -> RunInfo:
    """Parse ``RUN/model.json``; a missing or foreign file gives an error naming the run."""
    run_dir = Path(run_dir)
    meta_path = run_dir / "model.json"
    if not meta_path.is_file():
        raise InputError(
            "not a run directory (no model.json)", hint="pass a folder written by nakt train/distill", path=run_dir
        )
    raw = read_json(meta_path)
    if raw.get("format") != RUN_FORMAT:
        raise InputError(f"model.json has format {raw.get('format')!r}, not {RUN_FORMAT!r}",
                         hint="re-create the run with this version", path=meta_path)
    return RunInfo(
        path=run_dir,
        spec=ModelSpec.from_dict(raw["model"]),
        size=int(raw["input"]["size"]),
        threshold=float(raw.get("threshold", 0.5)),
        divisor=int(raw.get("divisor", 16)),
        config=TrainConfig.from_dict(raw.get("config", {})),
        task=raw.get("task", "train"),
        metrics=raw.get("metrics", {}),
        lineage=raw.get("lineage", {}),
        raw=raw,
    )


def load_run(run_dir: str | Path) -> tuple[nn.Module, RunInfo]:
    """Rebuild the model of a run with its best weights, in eval mode on the CPU."""
    info = read_run_info(run_dir)
    weights = info.path / "model.safetensors"
    if not weights.is_file():
        raise InputError("run has no model.safetensors yet", hint="train it (or resume it) first", path=info.path)
    model = load_weights(weights, build_model(info.spec))
    if info.config.qat:  # trained on the INT8 grid: predict (and export) with the grid weights
        snap_to_grid(model)
    return model.eval(), info


def initial_model(spec: ModelSpec, init: str | Path | None) -> tuple[nn.Module, dict[str, Any]]:
    """A fresh ``spec`` model, or (``init``) the best weights of an earlier run of the same model to start from.

    Returns the model and the lineage entry to record (empty for a fresh model)."""
    if init is None:
        return build_model(spec), {}
    model, info = load_run(init)
    if info.spec != spec:
        raise InputError(f"--init run holds {info.spec.describe()}, not {spec.describe()}",
                         hint="pass the same --arch/--encoder/--width/--model-arg as the run, or another --init",
                         path=info.path)
    return model, {"initialized_from": str(info.path.resolve()), "init_task": info.task}


def prepare_run_dir(out: str | Path, *, resume: bool, force: bool, check_only: bool = False) -> Path:
    """Create the run folder; refuse to mix runs unless ``resume`` (continue) or ``force`` (replace).

    ``check_only`` raises the same errors without touching the disk (call it before slow loading).
    """
    out = Path(out)
    if resume and (out / "last.safetensors").is_file():
        return out
    if check_only and not is_main_process():  # under torchrun rank 0 checks (and later prepares) the folder
        return out
    if check_only:
        check_folder(out, force, RUN_OUTPUTS)
        return out
    return guard_folder(out, force, RUN_OUTPUTS)
