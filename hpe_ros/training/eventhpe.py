"""Training loops for EventHPE's FlowNet (unsupervised) and ShapeNet (supervised + flow coherence).

Small functions over tensors and iterables of batches, so that they run on simulated data as well
as on a real data loader. Optimiser settings follow the official scripts: Adam, learning rate
1e-3, decayed x0.1 every 3 epochs (FlowNet) or after the first epoch (ShapeNet).

:func:`fit_flownet` and :func:`fit_shapenet` run whole epochs with a checkpoint after each one
(model, optimiser, scheduler, history) and resume from it; under ``torchrun`` every process takes
its slice of each batch (:mod:`hpe_ros.training.distributed`) and DDP averages the gradients.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from hpe_ros.models.checkpoints import CheckpointError, load_strict, read_checkpoint
from hpe_ros.models.eventhpe import EventFlowNet, EventShapeNet, SMPLInitialState
from hpe_ros.training.distributed import (
    SINGLE_PROCESS,
    DistributedContext,
    can_shard,
    save_checkpoint,
    shard_fields,
    shard_slice,
    shard_weight,
    sum_across,
    unwrap_model,
    wrap_model,
)
from hpe_ros.training.eventhpe_losses import (
    SMOOTHNESS_WEIGHT,
    ShapeNetLosses,
    ShapeNetLossWeights,
    ShapeNetTargets,
    flownet_losses,
    shapenet_losses,
)

CHECKPOINT_LAST = "last.pt"


@dataclass
class FlowNetBatch:
    """One FlowNet training sample batch (the official flow dataloader's fields)."""

    events: torch.Tensor  # (B, C, H, W) event frames between the two gray frames
    image1: torch.Tensor  # (B, 1, H, W) first gray frame, 0..255
    image2: torch.Tensor  # (B, 1, H, W) second gray frame, 0..255
    dt: torch.Tensor  # (B,) frame gap in units of the nominal skip (1 = nominal)


@dataclass
class ShapeNetBatch:
    """One ShapeNet training clip batch of T steps."""

    events: torch.Tensor  # (B, T, C, H, W)
    initial: SMPLInitialState
    targets: ShapeNetTargets
    flows: torch.Tensor | None = None  # (B, T, 2, H, W) FlowNet flow per step, pixels
    initial_hidden: torch.Tensor | None = None  # (B, 2048) image feature of the first frame


@dataclass
class TrainingHistory:
    """Per-step loss values (floats) of a training run, by loss name."""

    steps: list[dict[str, float]] = field(default_factory=list)

    def series(self, name: str) -> list[float]:
        return [step[name] for step in self.steps]


def make_flownet_optimizer(
    model: EventFlowNet, lr: float = 1e-3, decay_every_epochs: int = 3, decay: float = 0.1
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """Adam + step decay per epoch, as ``flow_net/train.py``."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    return optimizer, torch.optim.lr_scheduler.StepLR(optimizer, step_size=decay_every_epochs, gamma=decay)


def shapenet_parameters(model: EventShapeNet) -> list[nn.Parameter]:
    """Trainable parameters of ShapeNet, excluding anything in the injected SMPL layer."""
    return [p for module in model.network_modules().values() for p in module.parameters()]


def make_shapenet_optimizer(
    model: EventShapeNet, lr: float = 1e-3, decay_at_epochs: Sequence[int] = (1,), decay: float = 0.1
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """Adam + multi-step decay per epoch, as ``event_pose_estimation/train.py``."""
    optimizer = torch.optim.Adam(shapenet_parameters(model), lr=lr)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=list(decay_at_epochs), gamma=decay)
    return optimizer, scheduler


def flownet_training_step(
    model: nn.Module,  # an EventFlowNet, or its DDP wrapper
    batch: FlowNetBatch,
    optimizer: torch.optim.Optimizer,
    smoothness_weight: float = SMOOTHNESS_WEIGHT,
    loss_scale: float = 1.0,
) -> dict[str, float]:
    """One optimisation step of the photometric + smoothness loss; returns the loss values.

    ``loss_scale`` multiplies the loss that is back-propagated (the DDP shard weight)."""
    model.train()
    optimizer.zero_grad()
    flows = model(batch.events, batch.dt).flows
    losses = flownet_losses(flows, batch.image1, batch.image2, smoothness_weight)
    (losses.total * loss_scale).backward()
    optimizer.step()
    return {
        "total": float(losses.total.detach()),
        "photometric": float(losses.photometric.detach()),
        "smoothness": float(losses.smoothness.detach()),
    }


def shapenet_training_step(
    model: nn.Module,  # an EventShapeNet, or its DDP wrapper
    batch: ShapeNetBatch,
    optimizer: torch.optim.Optimizer,
    weights: ShapeNetLossWeights | None = None,
    loss_scale: float = 1.0,
) -> ShapeNetLosses:
    """One optimisation step of ShapeNet's loss; the flow-coherence term uses the model's camera.

    ``model`` may be DDP-wrapped; ``loss_scale`` multiplies the back-propagated loss."""
    model.train()
    optimizer.zero_grad()
    output = model(batch.events, batch.initial, batch.flows, batch.initial_hidden)
    intrinsics = cast(EventShapeNet, unwrap_model(model)).camera_intrinsics
    losses = shapenet_losses(output, batch.targets, batch.flows, intrinsics, weights)
    (losses.total * loss_scale).backward()
    optimizer.step()
    return losses


def train_flownet(
    model: EventFlowNet,
    batches: Iterable[FlowNetBatch],
    optimizer: torch.optim.Optimizer,
    smoothness_weight: float = SMOOTHNESS_WEIGHT,
) -> TrainingHistory:
    """One pass over ``batches`` (call once per epoch, then step the scheduler)."""
    history = TrainingHistory()
    for batch in batches:
        history.steps.append(flownet_training_step(model, batch, optimizer, smoothness_weight))
    return history


def train_shapenet(
    model: EventShapeNet,
    batches: Iterable[ShapeNetBatch],
    optimizer: torch.optim.Optimizer,
    weights: ShapeNetLossWeights | None = None,
) -> TrainingHistory:
    """One pass over ``batches`` (call once per epoch, then step the scheduler)."""
    history = TrainingHistory()
    for batch in batches:
        history.steps.append(shapenet_training_step(model, batch, optimizer, weights).as_floats())
    return history


@dataclass
class EpochsState:
    """Where an epoch-checkpointed run stands: completed epochs, per-epoch mean losses."""

    epoch: int = 0
    history: list[dict[str, float]] = field(default_factory=list)


def _batch_size(batch: FlowNetBatch | ShapeNetBatch) -> int:
    return int(batch.events.shape[0])


def _run_epochs(
    model: nn.Module,
    step: Callable[[nn.Module, Any, float], dict[str, float]],
    epoch_batches: Callable[[int], Iterable[Any]],
    epochs: int,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    checkpoint_dir: str | os.PathLike[str] | None,
    resume: bool,
    distributed: DistributedContext,
    log: Callable[[str], None] | None,
) -> EpochsState:
    state = EpochsState()
    path = Path(checkpoint_dir) / CHECKPOINT_LAST if checkpoint_dir is not None else None
    if resume:
        if path is None or not path.is_file():
            raise FileNotFoundError(f"nothing to resume: no {CHECKPOINT_LAST} in {checkpoint_dir}")
        state = load_epochs_checkpoint(path, model, optimizer, scheduler)
    trained = wrap_model(model, distributed)  # after loading: DDP starts from rank 0's parameters
    for epoch in range(state.epoch, epochs):
        totals: dict[str, float] = {}
        count = 0
        for batch in epoch_batches(epoch):
            size = _batch_size(batch)
            if not can_shard(size, distributed):
                continue
            mine = shard_fields(batch, size, distributed) if distributed.is_distributed else batch
            losses = step(trained, mine, shard_weight(size, distributed))
            part = shard_slice(size, distributed)
            for name, value in losses.items():
                totals[name] = totals.get(name, 0.0) + value * (part.stop - part.start)
            count += part.stop - part.start
        names = sorted(totals)
        summed = sum_across([totals[n] for n in names] + [count], distributed)
        record = {"epoch": float(epoch + 1),
                  **{n: v / max(summed[-1], 1) for n, v in zip(names, summed[:-1], strict=True)},
                  "lr": float(optimizer.param_groups[0]["lr"])}
        scheduler.step()
        state.epoch = epoch + 1
        state.history.append(record)
        if path is not None:
            payload = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                       "scheduler": scheduler.state_dict(), "epoch": state.epoch, "history": state.history}
            save_checkpoint(path, payload, distributed)
        if log is not None and distributed.is_main:
            log(", ".join(f"{k} {v:.4g}" for k, v in record.items() if math.isfinite(v)))
    return state


def load_epochs_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
) -> EpochsState:
    """Restore what :func:`fit_flownet` / :func:`fit_shapenet` saved after an epoch."""
    payload = read_checkpoint(path)
    if not isinstance(payload, dict) or not {"model", "optimizer", "scheduler", "epoch"} <= set(payload):
        raise CheckpointError(f"{os.fspath(path)} is not an EventHPE training checkpoint")
    load_strict(model, payload["model"])
    if optimizer is not None:
        optimizer.load_state_dict(payload["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(payload["scheduler"])
    return EpochsState(int(payload["epoch"]), list(payload.get("history", [])))


def fit_flownet(
    model: EventFlowNet,
    epoch_batches: Callable[[int], Iterable[FlowNetBatch]],
    epochs: int,
    *,
    optimizer: tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler] | None = None,
    smoothness_weight: float = SMOOTHNESS_WEIGHT,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    distributed: DistributedContext = SINGLE_PROCESS,
    log: Callable[[str], None] | None = None,
) -> EpochsState:
    """FlowNet for ``epochs`` epochs; ``epoch_batches(epoch)`` gives that epoch's (global) batches.

    It must give the same batches for the same epoch on every process and in a resumed run (e.g. a
    DataLoader whose shuffling generator is seeded with the epoch). ``optimizer``: an (optimiser,
    scheduler) pair, default :func:`make_flownet_optimizer`. ``last.pt`` after every epoch."""
    optimiser, scheduler = optimizer or make_flownet_optimizer(model)

    def step(net: nn.Module, batch: FlowNetBatch, scale: float) -> dict[str, float]:
        return flownet_training_step(net, batch, optimiser, smoothness_weight, scale)

    return _run_epochs(model, step, epoch_batches, epochs, optimiser, scheduler, checkpoint_dir, resume,
                       distributed, log)


def fit_shapenet(
    model: EventShapeNet,
    epoch_batches: Callable[[int], Iterable[ShapeNetBatch]],
    epochs: int,
    *,
    optimizer: tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler] | None = None,
    weights: ShapeNetLossWeights | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    distributed: DistributedContext = SINGLE_PROCESS,
    log: Callable[[str], None] | None = None,
) -> EpochsState:
    """ShapeNet for ``epochs`` epochs, as :func:`fit_flownet` (default :func:`make_shapenet_optimizer`)."""
    optimiser, scheduler = optimizer or make_shapenet_optimizer(model)

    def step(net: nn.Module, batch: ShapeNetBatch, scale: float) -> dict[str, float]:
        return shapenet_training_step(net, batch, optimiser, weights, scale).as_floats()

    return _run_epochs(model, step, epoch_batches, epochs, optimiser, scheduler, checkpoint_dir, resume,
                       distributed, log)
