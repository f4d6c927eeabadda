"""One frozen config dataclass per stage; defaults are the paper's, with units in the comments.

Each stage writes its resolved config into its outputs (model.json, summary.json, report JSON),
so a run can be reproduced from its own files.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

Device = Literal["auto", "cpu", "cuda"]


def _check(ok: bool, message: str, hint: str) -> None:
    if not ok:
        from nakt_edge.errors import InputError

        raise InputError(message, hint=hint)


AMP_MODES = ("auto", "bf16", "fp16", "off")
QAT_MODES = ("round", "noise")  # --qat-mode: fake UINT8 activations, or one UINT8 step of uniform noise


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
    amp: str = "auto"  # mixed precision: auto (bf16 on CUDA, off on the CPU), bf16, fp16 (CUDA only) or off
    augment: bool = True  # the paper's five augmentations
    hard_targets: bool = True  # threshold targets at 0.5 (pseudo masks: --targets hard)
    threshold: float = 0.5  # probability above which a pixel is foreground
    workers: int = 0  # DataLoader worker processes (0: in the training process)
    max_steps_per_epoch: int | None = None  # cap on optimizer steps per epoch (quick runs)
    qat: bool = False  # quantization-aware: train on the exporter's INT8 weight grid and UINT8 activations
    qat_mode: str = "round"  # activations under --qat: round (fake UINT8) or noise (one step of uniform noise)
    compile: bool = False  # torch.compile the training forward (first epoch pays the compilation)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if isinstance(values.get("amp"), bool):  # runs written before --amp took a precision
            values["amp"] = "auto" if values["amp"] else "off"
        return cls(**values)

    def with_(self, **changes: Any) -> TrainConfig:
        return replace(self, **changes)

    def validate(self) -> TrainConfig:
        """Raise InputError on an out-of-range setting, before any run writes anything."""
        _check(self.epochs >= 1, f"--epochs must be at least 1 (got {self.epochs})", "e.g. --epochs 50")
        _check(self.batch_size >= 1, f"--batch-size must be at least 1 (got {self.batch_size})", "e.g. --batch-size 4")
        _check(self.lr > 0, f"--lr must be positive (got {self.lr})", "the paper uses --lr 1e-4")
        _check(0 <= self.val_fraction < 1, f"--val-fraction must be in [0, 1) (got {self.val_fraction})",
               "e.g. --val-fraction 0.2")
        _check(self.size >= 16, f"--size must be at least 16 (got {self.size})", "e.g. --size 256")
        _check(0 < self.threshold < 1, f"threshold must be in (0, 1) (got {self.threshold})", "use 0.5")
        _check(self.workers >= 0, f"--workers must be >= 0 (got {self.workers})", "0 loads in the training process")
        _check(self.qat_mode in QAT_MODES, f"--qat-mode must be round or noise (got {self.qat_mode})",
               "round simulates the INT8 activations, noise trains the model to ignore them")
        _check(self.amp in AMP_MODES, f"--amp must be one of {', '.join(AMP_MODES)} (got {self.amp})",
               "bf16 on recent GPUs, fp16 on older ones, off for FP32")
        if self.amp == "fp16" and self.device != "cuda":
            from nakt_edge.runtime.devices import torch_device

            self.effective_amp(torch_device(self.device).type)  # refused before a run folder exists
        return self

    def effective_amp(self, device_type: str) -> str:
        """The autocast precision that really runs on ``device_type``: bf16, fp16 or off."""
        if self.amp == "auto":
            return "bf16" if device_type == "cuda" else "off"
        _check(not (self.amp == "fp16" and device_type != "cuda"), "--amp fp16 needs a CUDA device",
               "use --amp bf16 (supported on the CPU) or --amp off")
        return self.amp


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
    workers: int | None = None  # threads decoding/resizing images while the teachers run (OpenCV releases the
    # GIL); None: the usable cores (on 2 cores, 2 vs 1: 0.97-1.00x, within noise; benchmarks/label_workers.py)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def validate(self) -> LabelConfig:
        """Raise InputError on an out-of-range setting, before any run writes anything."""
        from nakt_edge.labeling.fusion import FUSIONS

        _check(self.fusion in FUSIONS, f"unknown fusion '{self.fusion}'", f"use one of {', '.join(FUSIONS)}")
        _check(self.batch >= 1, f"--batch must be at least 1 (got {self.batch})", "e.g. --batch 8")
        _check(self.tta in (None, "flip"), f"--tta '{self.tta}' is not supported", "use --tta flip or leave it out")
        _check(self.max_entropy is None or self.max_entropy >= 0, f"--max-entropy must be >= 0 (got "
               f"{self.max_entropy})", "the paper's beta is 2.5 bits")
        _check(self.min_pixels is None or self.min_pixels >= 0, f"--min-pixels must be >= 0 (got {self.min_pixels})",
               "the paper's alpha is 256 at 384x384")
        _check(self.min_fraction is None or 0 <= self.min_fraction <= 1,
               f"--min-fraction must be in [0, 1] (got {self.min_fraction})", "e.g. --min-fraction 0.002")
        _check(self.size >= 16, f"--size must be at least 16 (got {self.size})", "e.g. --size 384")
        _check(self.threads is None or self.threads >= 1, f"--threads must be >= 1 (got {self.threads})",
               "or leave it out")
        return self

    def identity(self) -> dict[str, Any]:
        """The settings that change the labels (a resumed run must match them, speed settings may differ)."""
        keep = ("size", "fusion", "weights", "min_pixels", "min_fraction", "max_entropy", "filter", "tta")
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.to_dict().items() if k in keep}
