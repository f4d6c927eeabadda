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


@dataclass(frozen=True)
class LabelConfig:
    """Pseudo-labeling (paper Sec. 3.2): fusion, the alpha/beta exclusion, and how to run the teachers."""

    size: int = 384  # working size S: pseudo masks are S x S
    fusion: str = "mean"  # mean (the paper) | vote | staple
    weights: tuple[float, ...] | None = None  # per-teacher weights, normalised; None: equal
    min_pixels: int | None = None  # alpha, absolute; None: min_fraction, else the paper's 256 at 384^2
    min_fraction: float | None = None  # alpha as a fraction of S * S
    max_entropy: float | None = 2.5  # beta in bits; None: no entropy rule
    filter: bool = True  # False: keep every readable image (statistics are still recorded)
    tta: str | None = None  # None | "flip": average with the horizontally flipped prediction
    device: Device = "auto"
    batch: int = 8
    threads: int | None = None  # ONNX Runtime intra-op threads
    readers: int | None = None  # threads decoding images while the teachers run; None: half the cores (1-4)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def identity(self) -> dict[str, Any]:
        """The settings that change the labels (a resumed run must match them, speed settings may differ)."""
        keep = ("size", "fusion", "weights", "min_pixels", "min_fraction", "max_entropy", "filter", "tta")
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.to_dict().items() if k in keep}
