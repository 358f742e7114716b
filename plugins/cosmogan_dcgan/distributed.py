"""The distributed helpers of training: one process (world 1) or a rank of ``torchrun`` (DDP).

Every helper is a collective under DDP: all ranks call it at the same step, or the run hangs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Dist:
    """The distributed setup, built once: one process (world 1) or a torchrun rank."""

    rank: int
    world: int
    device: str

    @property
    def ddp(self) -> bool:
        return self.world > 1

    @property
    def master(self) -> bool:
        return self.rank == 0

    @classmethod
    def setup(cls, device: str) -> Dist:
        world, rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
        if world > 1:
            if device.startswith("cuda"):
                device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
                torch.cuda.set_device(device)
            dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")
        return cls(rank, world, device)

    def teardown(self) -> None:
        if self.ddp:
            import gc

            # DDP wrappers sit in reference cycles; collect them (and the gloo work they hold) while the
            # group is alive, or their gloo threads are torn down at interpreter exit and abort the process.
            gc.collect()
            dist.destroy_process_group()


def wrap(d: Dist, *modules: torch.nn.Module) -> list[torch.nn.Module]:
    """The modules wrapped for DDP (unchanged in one process)."""
    if not d.ddp:
        return list(modules)
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [torch.device(d.device).index] if d.device.startswith("cuda") else None
    return [DDP(m, device_ids=ids, broadcast_buffers=False) for m in modules]


def rng_states(d: Dist, rng: torch.Generator) -> Any:
    """This rank's RNG state, or every rank's (a list, rank order) under DDP."""
    if not d.ddp:
        return rng.get_state()
    states = [None] * d.world
    dist.all_gather_object(states, rng.get_state())
    return states


def any_rank(d: Dist, flag: bool) -> bool:
    """True on every rank when it is true on any (an interrupt on one rank stops all at the same step)."""
    if not d.ddp:
        return flag
    f = torch.tensor([float(flag)], device=d.device)
    dist.all_reduce(f)
    return bool(f.item() > 0)


def from_master(d: Dist, value: int) -> int:
    """Rank 0's ``value`` on every rank (early stopping is decided by rank 0's validation)."""
    if not d.ddp:
        return value
    s = torch.tensor([float(value)], device=d.device)
    dist.broadcast(s, 0)
    return int(s.item())


def parameter_checksums(d: Dist, module: torch.nn.Module) -> list[float]:
    """The sum of ``module``'s parameters on each rank: equal when the ranks stayed in sync."""
    local = torch.stack([p.detach().double().sum() for p in module.parameters()]).sum().reshape(1)
    sums = [torch.zeros_like(local) for _ in range(d.world)]
    dist.all_gather(sums, local)
    return [float(s.item()) for s in sums]
