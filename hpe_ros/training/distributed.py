"""Data-parallel training with ``torchrun`` (DistributedDataParallel) and resumable checkpoints.

The training loops call these helpers and run unchanged in one plain process (world size 1,
nothing initialised) or under ``torchrun --nproc_per_node N`` (which sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK`` and the rendezvous): gloo on CPUs, NCCL on CUDA devices.

Every rank draws the same global batch (same seed) and works on its own contiguous slice of it;
:func:`shard_weight` scales each rank's mean loss so that DDP's gradient average is the gradient of
the global batch's mean loss: N processes take the steps one process takes, up to float
summation order. Checkpoints are written by rank 0 alone, atomically (a run killed while writing
keeps the previous file), and read by every rank, so a resumed run continues where the file says.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn

T = TypeVar("T")
TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


@dataclass(frozen=True)
class DistributedContext:
    """Which process this is among how many; world size 1 means a plain single process."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1


SINGLE_PROCESS = DistributedContext()


def launched_by_torchrun() -> bool:
    return all(name in os.environ for name in TORCHRUN_VARIABLES)


def init_distributed(device: str = "cpu", backend: str | None = None) -> DistributedContext:
    """Join the process group that ``torchrun`` set up (a no-op in a plain process).

    ``device`` ``cuda`` picks ``cuda:LOCAL_RANK`` for this process; the backend defaults to NCCL
    there and gloo on the CPU."""
    if not launched_by_torchrun() or int(os.environ["WORLD_SIZE"]) == 1:
        return DistributedContext(device=torch.device(device))
    local_rank = int(os.environ["LOCAL_RANK"])
    use_cuda = device.startswith("cuda")
    if use_cuda:
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend or ("nccl" if use_cuda else "gloo"))
    return DistributedContext(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local_rank,
                              device=torch.device(f"cuda:{local_rank}" if use_cuda else "cpu"))


@contextmanager
def distributed_session(device: str = "cpu", backend: str | None = None) -> Iterator[DistributedContext]:
    """:func:`init_distributed`, and the process group torn down on the way out."""
    context = init_distributed(device, backend)
    try:
        yield context
    finally:
        if context.is_distributed and dist.is_initialized():
            dist.destroy_process_group()


def wrap_model(model: nn.Module, context: DistributedContext) -> nn.Module:
    """``model`` in DistributedDataParallel when there are several processes (parameters from rank 0)."""
    if not context.is_distributed:
        return model
    device_ids = [context.local_rank] if context.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def unwrap_model(model: nn.Module) -> nn.Module:
    """The module inside a DDP wrapper (what checkpoints and evaluation use)."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def shard_slice(batch_size: int, context: DistributedContext) -> slice:
    """This rank's contiguous part of a global batch (sizes differ by at most one)."""
    start = batch_size * context.rank // context.world_size
    return slice(start, batch_size * (context.rank + 1) // context.world_size)


def shard_weight(batch_size: int, context: DistributedContext) -> float:
    """Factor for this rank's mean loss: DDP's gradient average becomes the global batch mean's."""
    part = shard_slice(batch_size, context)
    return (part.stop - part.start) * context.world_size / batch_size


def shard_fields(batch: T, batch_size: int, context: DistributedContext) -> T:
    """This rank's slice of a dataclass batch: every tensor field (nested dataclasses too) whose first
    dimension is ``batch_size`` is cut with :func:`shard_slice`; other fields are kept."""
    part = shard_slice(batch_size, context)

    def cut(value: Any) -> Any:
        if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape[0] == batch_size:
            return value[part]
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return dataclasses.replace(value, **{f.name: cut(getattr(value, f.name))
                                                 for f in dataclasses.fields(value) if f.init})
        return value

    return cut(batch)


def can_shard(batch_size: int, context: DistributedContext) -> bool:
    """Whether every rank gets at least one sample (else all ranks skip the batch, together)."""
    return batch_size >= context.world_size


def all_finite(value: torch.Tensor, context: DistributedContext) -> bool:
    """Whether ``value`` is finite on every rank: all ranks then step, or all skip (DDP needs both)."""
    finite = torch.tensor([1.0 if bool(torch.isfinite(value).all()) else 0.0])
    if context.is_distributed:
        dist.all_reduce(finite, op=dist.ReduceOp.MIN)
    return bool(finite.item() > 0)


def sum_across(values: list[float], context: DistributedContext) -> list[float]:
    """Element-wise sum of ``values`` over all ranks (float64 on the CPU, gloo or NCCL alike)."""
    if not context.is_distributed:
        return list(values)
    tensor = torch.tensor(values, dtype=torch.float64, device=_collective_device(context))
    dist.all_reduce(tensor)
    return tensor.cpu().tolist()


def broadcast_from_main(value: T, context: DistributedContext) -> T:
    """Rank 0's ``value`` on every rank (any picklable object)."""
    if not context.is_distributed:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0, device=_collective_device(context))
    return box[0]


def gather_objects(value: T, context: DistributedContext) -> list[T]:
    """Every rank's ``value``, in rank order, on every rank (e.g. per-rank random states)."""
    if not context.is_distributed:
        return [value]
    values: list[Any] = [None] * context.world_size
    dist.all_gather_object(values, value)
    return values


def barrier(context: DistributedContext) -> None:
    if context.is_distributed:
        dist.barrier()


def _collective_device(context: DistributedContext) -> torch.device:
    return context.device if dist.get_backend() == "nccl" else torch.device("cpu")


def save_checkpoint(
    path: str | os.PathLike[str], payload: dict[str, Any], context: DistributedContext
) -> None:
    """Rank 0 writes ``payload`` atomically (temporary file, then rename); all ranks wait for it."""
    if context.is_main:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(path.suffix + ".tmp")
        torch.save(payload, temporary)
        os.replace(temporary, path)  # never leave a half-written checkpoint behind
    barrier(context)
