"""Data-parallel training under ``torchrun``: the process group, this process's rank, and rank-0-only writes.

``torchrun --nproc_per_node N [--nnodes ...] -m nakt_edge train|distill|finetune ...`` starts N
copies of the same command with RANK, LOCAL_RANK and WORLD_SIZE set; the training loop then
wraps the model in DistributedDataParallel (NCCL on GPUs, gloo on CPUs), gives each rank a
disjoint share of every epoch (DistributedSampler), and lets rank 0 alone validate and write the
run folder. Without those variables nothing changes: one process, as before.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


def env_rank() -> int:
    """This process's global rank as torchrun set it (0 outside torchrun)."""
    return int(os.environ.get("RANK", "0"))


def env_world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """Rank 0, the one process that writes run folders and prints (True outside torchrun)."""
    return env_rank() == 0


@dataclass(frozen=True)
class ProcessGroup:
    """The data-parallel group this process trains in (world_size 1: no group, plain training)."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    backend: str | None = None
    owned: bool = False  # this process created the group (and destroys it)

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device(self, device: torch.device) -> torch.device:
        """The device of this rank: its own GPU (LOCAL_RANK) on CUDA."""
        if device.type == "cuda" and self.enabled:
            torch.cuda.set_device(self.local_rank)
            return torch.device("cuda", self.local_rank)
        return device

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank."""
        if not self.enabled:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def sum(self, *values: float) -> list[float]:
        """Element-wise sums over the ranks."""
        if not self.enabled:
            return list(values)
        tensor = torch.tensor(values, dtype=torch.float64)
        if self.backend == "nccl":
            tensor = tensor.cuda()
        dist.all_reduce(tensor)
        return tensor.cpu().tolist()

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def close(self) -> None:
        if self.owned and dist.is_initialized():
            dist.destroy_process_group()


def join_process_group(device_type: str) -> ProcessGroup:
    """Join the group torchrun describes in the environment (NCCL for CUDA, else gloo); none without torchrun."""
    world_size = env_world_size()
    if world_size <= 1:
        return ProcessGroup()
    owned = not dist.is_initialized()
    backend = "nccl" if device_type == "cuda" else "gloo"
    if owned:
        dist.init_process_group(backend=backend)
    return ProcessGroup(dist.get_rank(), int(os.environ.get("LOCAL_RANK", "0")), dist.get_world_size(),
                        dist.get_backend(), owned)
