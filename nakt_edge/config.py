"""One frozen config dataclass per stage; defaults are the paper's, with units in the comments.

Each stage writes its resolved config into its outputs (model.json, summary.json, report JSON),
so a run can be reproduced from its own files.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

Device = Literal["auto", "cpu", "cuda"]


@dataclass(frozen=True)
class TrainConfig:
    """Training, distillation and fine-tuning (paper Sec. 4.2: Dice + BCE, Adam 1e-4, batch 4)."""

    size: int = 384  # working size S: images are resized to S x S (divisible by 16)
    epochs: int = 50
    batch_size: int = 4
    lr: float = 1e-4  # Adam learning rate
    val_fraction: float = 0.2  # share of images held out for validation, split by group
    seed: int = 0
    device: Device = "auto"
    amp: bool = True  # mixed precision, CUDA only
    augment: bool = True  # the paper's five augmentations
    hard_targets: bool = True  # threshold targets at 0.5 (pseudo masks: --targets hard)
    threshold: float = 0.5  # probability above which a pixel is foreground
    workers: int = 0  # DataLoader worker processes (0: in the training process)
    max_steps_per_epoch: int | None = None  # cap on optimizer steps per epoch (quick runs)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def with_(self, **changes: Any) -> TrainConfig:
        return replace(self, **changes)
