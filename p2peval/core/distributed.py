"""Helpers for ``torchrun --nproc-per-node N -m p2peval ...``.

Frames are sharded by rank (interleaved); each rank scores its shard and the per-frame matrices
are gathered on every rank (``all_gather_object``), so the result is identical to one process.
Backend: gloo on CPU, nccl on CUDA. Without torchrun (no ``WORLD_SIZE`` > 1) everything is a
no-op with rank 0 of 1.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Sequence, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    initialized_here: bool = False  # True if this context started the process group

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    def all_sum(self, value: float) -> float:
        """``value`` summed over every rank (float64)."""
        if not self.active:
            return value
        import torch
        import torch.distributed as dist

        t = torch.tensor([value], dtype=torch.float64)
        dist.all_reduce(t)
        return float(t.item())

    def barrier(self) -> None:
        if self.active:
            import torch.distributed as dist

            dist.barrier()


def env_world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def init_distributed(device: str = "cpu") -> DistContext:
    """Join the torchrun process group if there is one (gloo on CPU, nccl on CUDA)."""
    world = env_world_size()
    if world <= 1:
        return DistContext()
    import torch
    import torch.distributed as dist

    local = int(os.environ.get("LOCAL_RANK", "0"))
    here = False
    if not dist.is_initialized():
        backend = "nccl" if device.startswith("cuda") else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(local)
        dist.init_process_group(backend=backend)
        here = True
    return DistContext(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local,
                       initialized_here=here)


def shard(items: Sequence[T], ctx: DistContext) -> list[T]:
    """This rank's share: items rank, rank + world, rank + 2*world, ..."""
    return list(items[ctx.rank::ctx.world_size])


def gather_objects(obj: Any, ctx: DistContext) -> list[Any]:
    """Every rank's ``obj``, in rank order, on every rank."""
    if not ctx.active:
        return [obj]
    import torch.distributed as dist

    out: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


def shutdown(ctx: DistContext) -> None:
    """Leave the process group if this context created it."""
    if ctx.active and ctx.initialized_here:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def device_for_rank(device: str, ctx: DistContext) -> str:
    """``cuda`` becomes ``cuda:<local rank>`` under torchrun; CPU stays CPU."""
    if device == "cuda" and ctx.active:
        return f"cuda:{ctx.local_rank}"
    return device
