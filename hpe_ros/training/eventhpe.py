"""Training loops for EventHPE's FlowNet (unsupervised) and ShapeNet (supervised + flow coherence).

Small functions over tensors and iterables of batches, so that they run on simulated data as well
as on a real data loader. Optimiser settings follow the official scripts: Adam, learning rate
1e-3, decayed x0.1 every 3 epochs (FlowNet) or after the first epoch (ShapeNet).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from hpe_ros.models.eventhpe import EventFlowNet, EventShapeNet, SMPLInitialState
from hpe_ros.training.eventhpe_losses import (
    SMOOTHNESS_WEIGHT,
    ShapeNetLosses,
    ShapeNetLossWeights,
    ShapeNetTargets,
    flownet_losses,
    shapenet_losses,
)


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
    model: EventFlowNet,
    batch: FlowNetBatch,
    optimizer: torch.optim.Optimizer,
    smoothness_weight: float = SMOOTHNESS_WEIGHT,
) -> dict[str, float]:
    """One optimisation step of the photometric + smoothness loss; returns the loss values."""
    model.train()
    optimizer.zero_grad()
    flows = model(batch.events, batch.dt).flows
    losses = flownet_losses(flows, batch.image1, batch.image2, smoothness_weight)
    losses.total.backward()
    optimizer.step()
    return {
        "total": float(losses.total.detach()),
        "photometric": float(losses.photometric.detach()),
        "smoothness": float(losses.smoothness.detach()),
    }


def shapenet_training_step(
    model: EventShapeNet,
    batch: ShapeNetBatch,
    optimizer: torch.optim.Optimizer,
    weights: ShapeNetLossWeights | None = None,
) -> ShapeNetLosses:
    """One optimisation step of ShapeNet's loss; the flow-coherence term uses the model's camera."""
    model.train()
    optimizer.zero_grad()
    output = model(batch.events, batch.initial, batch.flows, batch.initial_hidden)
    losses = shapenet_losses(output, batch.targets, batch.flows, model.camera_intrinsics, weights)
    losses.total.backward()
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
