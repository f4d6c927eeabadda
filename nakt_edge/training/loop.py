"""The one training loop behind teacher training, distillation and fine-tuning.

``fit`` trains a model on an ``ArraySet`` with the paper's recipe (Dice + BCE, Adam), validates
each epoch, keeps the best weights by validation Dice, and writes the run directory after every
epoch, so an interrupted run resumes from its last finished epoch. Every epoch is seeded from
(seed, epoch): a resumed run sees the same batches and augmentations as an uninterrupted one.
"""

from __future__ import annotations

import math
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler

from nakt_edge.config import TrainConfig
from nakt_edge.data.augment import PairAugmenter
from nakt_edge.data.datasets import ArraySet, AugmentedDataset
from nakt_edge.errors import InputError, RunError
from nakt_edge.metrics import dice
from nakt_edge.models.registry import ModelSpec, count_parameters, get_arch
from nakt_edge.outputs import claim, read_json, write_csv, write_json
from nakt_edge.progress import Reporter
from nakt_edge.provenance import versions
from nakt_edge.runtime.devices import torch_device
from nakt_edge.training.checkpoints import load_training_state, save_training_state, save_weights, weights_epoch
from nakt_edge.training.distributed import ProcessGroup, join_process_group
from nakt_edge.training.losses import DiceBCELoss
from nakt_edge.training.qat import attach_fake_quant
from nakt_edge.training.run import RUN_FORMAT, prepare_run_dir

HISTORY_COLUMNS = ("epoch", "train_loss", "val_loss", "val_dice", "seconds", "best")
VIEW_COLUMNS = ("views", "views_kept", "teacher_seconds", "teacher_share")


class ViewLabeler(Protocol):
    """Labels each augmented training view in the loop (on-the-fly distillation): the teacher sees
    exactly the view the student sees."""

    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(views (B', C, S, S), targets (B', 1, S, S)) for a batch of augmented images (B, C, S, S);
        views the exclusion rules drop are left out (B' <= B)."""
        ...

    def begin_epoch(self, epoch: int) -> None:
        """Reseed its own randomness from the epoch (resumed runs repeat it)."""
        ...

    def take_stats(self) -> dict[str, float]:
        """Counters since the last call: ``views``, ``views_kept``, ``teacher_seconds``."""
        ...


@dataclass
class FitResult:
    """What a finished (or resumed-and-finished) run reached."""

    run_dir: Path
    epochs_done: int
    best_epoch: int
    best_val_dice: float | None
    history: list[dict[str, Any]] = field(default_factory=list)
    resumed_from: int = 0


def _loader(dataset: AugmentedDataset, config: TrainConfig, epoch: int, pin_memory: bool = False,
            group: ProcessGroup | None = None) -> DataLoader:
    """This epoch's batches; under torchrun this rank's disjoint share (DistributedSampler, same length on all)."""
    group = group or ProcessGroup()
    generator = torch.Generator().manual_seed(config.seed * 100_003 + epoch)
    augmenter = dataset.augmenter
    rank_seed = [group.rank] if group.enabled else []  # rank 0 of one process draws what it always drew

    def init_worker(worker: int) -> None:
        if augmenter is not None:
            torch.utils.data.get_worker_info().dataset.augmenter.reseed([config.seed, epoch, worker + 1, *rank_seed])

    if augmenter is not None:
        augmenter.reseed([config.seed, epoch, *rank_seed])
    sampler = None
    if group.enabled:
        sampler = DistributedSampler(dataset, num_replicas=group.world_size, rank=group.rank, shuffle=True,
                                     seed=config.seed, drop_last=True)
        sampler.set_epoch(epoch)
    return DataLoader(
        dataset,
        batch_size=config.batch_size,
        shuffle=sampler is None,
        sampler=sampler,
        generator=generator if sampler is None else None,
        drop_last=len(dataset) > config.batch_size,  # a batch of 1 breaks BatchNorm after global pooling
        num_workers=config.workers,
        worker_init_fn=init_worker if config.workers else None,
        pin_memory=pin_memory,  # page-locked batches copy to a GPU asynchronously
    )


@torch.no_grad()
def predict_logits(model: nn.Module, images: np.ndarray, device: torch.device, batch_size: int = 8,
                   in_channels: int = 1) -> np.ndarray:
    """Logits (N, S, S) float32 of uint8 images (N, S, S) scaled by 1/255, in eval mode."""
    model.eval()
    outputs = []
    for start in range(0, len(images), batch_size):
        batch = torch.from_numpy(images[start:start + batch_size]).float().div_(255.0)[:, None]
        batch = batch.expand(-1, in_channels, -1, -1).to(device)
        outputs.append(model(batch)[:, 0].float().cpu().numpy())
    return np.concatenate(outputs) if outputs else np.zeros((0,) + images.shape[1:], np.float32)


def validate(model: nn.Module, arrays: ArraySet, loss_fn: nn.Module, device: torch.device,
             config: TrainConfig, in_channels: int) -> tuple[float, float]:
    """Mean loss and mean per-image Dice (targets binarized at 0.5) on a validation set."""
    logits = predict_logits(model, arrays.images, device, in_channels=in_channels)
    targets = arrays.targets.astype(np.float32) / 255.0
    loss = float(loss_fn(torch.from_numpy(logits)[:, None], torch.from_numpy(targets)[:, None]))
    probability_threshold = math.log(config.threshold / (1 - config.threshold))
    scores = [dice(logit > probability_threshold, target >= 0.5) for logit, target in zip(logits, targets)]
    return loss, float(np.mean(scores))


def _check_resumable(run_dir: Path, state: dict[str, Any], spec: ModelSpec, config: TrainConfig) -> None:
    """The checkpoint's model and size must be this run's (older checkpoints: model.json says)."""
    if "model" in state:
        model, size = state["model"], state.get("size")
    else:
        previous = read_json(run_dir / "model.json")
        model, size = previous.get("model"), previous.get("config", {}).get("size")
    if model != spec.to_dict() or size != config.size:
        raise InputError(
            "cannot resume: the run was started with another model or size",
            hint="use the same --arch/--encoder/--width/--size, or a new --out",
            path=run_dir,
        )


def _sync_best_weights(run_dir: Path, model: nn.Module, counters: dict[str, Any]) -> None:
    """Make model.safetensors hold the best epoch's weights after a resume.

    The checkpoint is committed before the best weights are written: a run killed in between left
    model.safetensors one best epoch behind, and the best epoch is then the checkpoint's own."""
    epoch = weights_epoch(run_dir / "model.safetensors")
    if epoch == counters["best_epoch"] or (epoch is None and (run_dir / "model.safetensors").is_file()):
        return
    if counters["best_epoch"] != counters["epoch"]:
        raise InputError(f"model.safetensors holds epoch {epoch}, the checkpoint's best is epoch "
                         f"{counters['best_epoch']}", hint="the run folder was changed by hand; start a new --out",
                         path=run_dir)
    save_weights(run_dir / "model.safetensors", model, epoch=counters["epoch"])


def fit(
    model: nn.Module,
    spec: ModelSpec,
    train_set: ArraySet,
    val_set: ArraySet | None,
    config: TrainConfig,
    run_dir: str | Path,
    *,
    task: str,
    meta: dict[str, Any] | None = None,
    resume: bool = False,
    force: bool = False,
    reporter: Reporter | None = None,
    labeler: ViewLabeler | None = None,
) -> FitResult:
    """Train ``model`` and write the run directory (see ``nakt_edge.training.run``), holding its lock.

    Each epoch is committed by one atomic rename: last.safetensors holds weights, Adam state, epoch
    counters, best epoch and the whole history, so a kill at any instant leaves the previous epoch
    or the new one; model.safetensors, history.csv and model.json are derived from it afterwards
    (and re-derived on resume).

    Args:
        model: freshly built (or pre-trained, for fine-tuning) model with one logit channel.
        spec: how to rebuild it; stored in model.json.
        train_set: training images and targets (soft or hard, uint8 = round(255 p)).
        val_set: validation images and targets; None keeps the last epoch's weights.
        config: the recipe (epochs, lr, batch size, augmentation, device, seed...).
        run_dir: output folder; it must be empty of run outputs unless ``resume`` or ``force``.
        task: "train", "distill" or "finetune" (recorded in model.json).
        meta: data and lineage information recorded in model.json.
        resume: continue from ``last.safetensors`` when present.
        force: replace the outputs of an earlier run.
        labeler: replaces the stored targets of every augmented batch by its own (the teacher in the
            loop); the epoch's history row then records the teacher's share of the training time.

    Under ``torchrun`` (``nakt_edge.training.distributed``) every rank calls ``fit``; the model is
    trained with DistributedDataParallel and rank 0 alone validates and writes.
    """
    group = join_process_group(torch_device(config.device).type)
    try:
        with ExitStack() as held:
            failure: BaseException | None = None
            if group.is_main:  # rank 0 alone locks and prepares the folder; the others wait for its word
                try:
                    held.enter_context(claim(run_dir))
                    prepare_run_dir(run_dir, resume=resume, force=force)
                except BaseException as error:  # noqa: BLE001  (re-raised below, after telling the ranks)
                    failure = error
            problem = group.broadcast(None if failure is None else str(failure))
            if failure is not None:
                raise failure
            if problem is not None:
                raise RunError(f"rank 0 could not prepare the run folder: {problem}", hint="see rank 0's error")
            return _fit(model, spec, train_set, val_set, config, Path(run_dir), task=task, meta=meta,
                        resume=resume, reporter=(reporter or Reporter()) if group.is_main else Reporter(),
                        labeler=labeler, group=group)
    finally:
        group.close()


def _fit(model: nn.Module, spec: ModelSpec, train_set: ArraySet, val_set: ArraySet | None, config: TrainConfig,
         run_dir: Path, *, task: str, meta: dict[str, Any] | None, resume: bool, reporter: Reporter,
         labeler: ViewLabeler | None, group: ProcessGroup) -> FitResult:
    val_set = val_set if val_set is not None and len(val_set) else None
    device = group.device(torch_device(config.device))
    model.to(device)
    if config.qat:
        attach_fake_quant(model, config.qat_mode)
    channels_last = device.type == "cuda"  # NHWC convolutions feed the tensor cores; on the CPU they do not help
    if channels_last:
        model.to(memory_format=torch.channels_last)
    trained = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None) \
        if group.enabled else model  # all-reduces the gradients; model itself is what is validated and saved
    if config.compile:
        trained = torch.compile(trained)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    loss_fn = DiceBCELoss()
    amp = config.effective_amp(device.type)
    autocast_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)
    scaler = torch.amp.GradScaler("cuda", enabled=amp == "fp16")  # bf16 keeps FP32's range: no scaling
    counters: dict[str, Any] = {"epoch": 0, "best_val_dice": None, "best_epoch": 0}
    history: list[dict[str, Any]] = []
    identity = {"model": spec.to_dict(), "size": config.size}
    columns = HISTORY_COLUMNS + (VIEW_COLUMNS if labeler is not None else ())
    if resume and (run_dir / "last.safetensors").is_file():
        state = load_training_state(run_dir / "last.safetensors", model, optimizer)
        _check_resumable(run_dir, state, spec, config)
        counters = {k: state[k] for k in ("epoch", "best_val_dice", "best_epoch")}
        history = state.get("history") or read_json(run_dir / "model.json").get("history", [])[: counters["epoch"]]
        if group.is_main:
            _sync_best_weights(run_dir, model, counters)
        reporter.note(f"resuming {run_dir} after epoch {counters['epoch']}")
    resumed_from = counters["epoch"]
    augmenter = PairAugmenter(seed=config.seed) if config.augment else None
    dataset = AugmentedDataset(train_set, augmenter, in_channels=spec.in_channels, hard_targets=config.hard_targets)
    share = len(dataset) // group.world_size  # this rank's images per epoch (DistributedSampler drops the rest)
    steps = share // config.batch_size if share > config.batch_size else 1
    steps = min(steps, config.max_steps_per_epoch or steps)

    def write_meta(status: str) -> None:
        write_json(run_dir / "model.json", {
            "format": RUN_FORMAT, "task": task, "status": status,
            "model": spec.to_dict(), "parameters": count_parameters(model), "divisor": get_arch(spec.arch).divisor,
            "input": {"size": config.size, "channels": spec.in_channels, "normalize": "unit", "layout": "NCHW"},
            "threshold": config.threshold, "config": config.to_dict(),
            "effective": {"device": device.type, "amp": amp, "batch_size": config.batch_size, "lr": config.lr,
                          "processes": group.world_size, "backend": group.backend,
                          "global_batch_size": config.batch_size * group.world_size,
                          "workers": config.workers, "pin_memory": device.type == "cuda", "qat": config.qat,
                          "qat_mode": config.qat_mode if config.qat else None,
                          "channels_last": channels_last, "compile": config.compile},
            "metrics": {"epochs_done": counters["epoch"], "best_epoch": counters["best_epoch"],
                        "best_val_dice": counters["best_val_dice"], "train_images": len(train_set),
                        "val_images": len(val_set) if val_set is not None else 0},
            **(meta or {}), "history": history, "versions": versions(),
        })

    for epoch in range(counters["epoch"] + 1, config.epochs + 1):
        started = time.perf_counter()
        torch.manual_seed(config.seed * 100_003 + epoch + 1_000_003 * group.rank)
        if labeler is not None:
            labeler.begin_epoch(epoch * group.world_size + group.rank)  # (epoch alone in one process)
        model.train()
        reporter.start("train", f"epoch {epoch}/{config.epochs}", steps)
        total, seen = 0.0, 0
        batches = _loader(dataset, config, epoch, pin_memory=device.type == "cuda", group=group)
        for step, (images, targets) in enumerate(batches):
            if step >= steps:
                break
            weight = 1.0
            if labeler is not None:
                views, labels = labeler(images)
                if not len(views) and not group.enabled:
                    continue
                if not len(views):  # every rank must step together: a zero-weight step keeps this one in line
                    views, labels, weight = images, torch.zeros_like(images[:, :1]), 0.0
                images, targets = views, labels
            images = images.to(device, non_blocking=True,
                               memory_format=torch.channels_last if channels_last else torch.preserve_format)
            targets = targets.to(device, non_blocking=True)
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device_type=device.type, dtype=autocast_dtype or torch.float32,
                                enabled=autocast_dtype is not None):
                loss = loss_fn(trained(images).float(), targets) * weight
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            if weight:
                total += loss.item() * len(images)
                seen += len(images)
            reporter.advance("train", description=f"epoch {epoch}/{config.epochs} loss {total / seen:.4f}")
        reporter.finish("train")
        total, seen = group.sum(total, seen)  # the epoch's loss over all ranks
        train_seconds = time.perf_counter() - started
        row: dict[str, Any] = {"epoch": epoch, "train_loss": total / max(seen, 1), "val_loss": None, "val_dice": None}
        if labeler is not None:
            row.update(labeler.take_stats())
            row["teacher_share"] = round(row["teacher_seconds"] / train_seconds, 4) if train_seconds > 0 else None
        improved = val_set is None
        if val_set is not None:
            scores = validate(model, val_set, loss_fn, device, config, spec.in_channels) if group.is_main else None
            row["val_loss"], row["val_dice"] = group.broadcast(scores)
            improved = counters["best_val_dice"] is None or row["val_dice"] > counters["best_val_dice"]
        if improved:
            counters["best_val_dice"], counters["best_epoch"] = row["val_dice"], epoch
        counters["epoch"] = epoch
        row["seconds"], row["best"] = round(time.perf_counter() - started, 2), improved
        history.append(row)
        if group.is_main:
            state = {**counters, **identity, "history": history}
            save_training_state(run_dir / "last.safetensors", model, optimizer, state)
            if improved:  # derived from the committed checkpoint from here on
                save_weights(run_dir / "model.safetensors", model, epoch=epoch)
            write_csv(run_dir / "history.csv", history, columns)
            write_meta("running")
        val_text = f" val Dice {row['val_dice']:.4f}" if row["val_dice"] is not None else ""
        marker = " *" if improved else ""
        reporter.note(f"epoch {epoch}/{config.epochs}: loss {row['train_loss']:.4f}{val_text}{marker}")
    if group.is_main:
        write_csv(run_dir / "history.csv", history, columns)
        write_meta("finished")
    group.barrier()  # the run folder is whole before any rank goes on (e.g. to fine-tune from it)
    return FitResult(run_dir, counters["epoch"], counters["best_epoch"], counters["best_val_dice"], history,
                     resumed_from)
