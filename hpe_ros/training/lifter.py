"""Training and evaluation of the single-frame 2D-to-3D lifters (CA-PF and its coordinate-only baseline).

The schedule is the official Context-Aware PoseFormer one (``ContextPose/train.py`` and
``experiments/human36m/human36m.yaml``): AdamW with weight decay 0.1 on the lifter only (the 2D
backbone stays frozen in eval mode), learning rate 6.4e-4 (3.2e-4 with CPN features) multiplied
by 0.99 after every epoch, batches of 512 (256 with CPN), MPJPE loss on root-relative metres, a
horizontal flip of the whole batch with probability 0.5 while training, flip-test averaging at
evaluation, and the checkpoint with the lowest action-averaged validation MPJPE kept as the best.
The official run sets 9999 epochs, i.e. it trains until stopped.

Under ``torchrun`` (:mod:`hpe_ros.training.distributed`) every process draws the same shuffled
global batch and takes its slice; DDP averages the gradients, so N processes take the single
process's steps (a last batch smaller than N is skipped there). Rank 0 validates and writes the
checkpoints; ``resume`` continues from ``last.pt`` on every rank.

Lifters are called as ``model(keypoints_2d)`` (coordinates only) or, with a context provider,
``model(keypoints_2d, features, keypoints_crop)``; ``keypoints_2d`` are screen-normalised
(:func:`hpe_ros.datasets.normalize_screen`), the output is (B, J, 3) metres relative
to the root joint.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import nn

from hpe_ros.core.joints import flip_joints
from hpe_ros.datasets.samples import LiftingSamples
from hpe_ros.evaluation.metrics import EvaluationReport, evaluate_poses
from hpe_ros.models.checkpoints import CheckpointError, load_strict, read_checkpoint
from hpe_ros.training.distributed import (
    SINGLE_PROCESS,
    DistributedContext,
    all_finite,
    broadcast_from_main,
    can_shard,
    save_checkpoint,
    shard_slice,
    shard_weight,
    sum_across,
    unwrap_model,
    wrap_model,
)

CHECKPOINT_LAST = "last.pt"
CHECKPOINT_BEST = "best.pt"


@dataclass(frozen=True)
class LifterTrainingConfig:
    """Optimisation settings; defaults are the official Human3.6M HRNet run."""

    learning_rate: float = 6.4e-4
    lr_decay: float = 0.99  # per epoch
    weight_decay: float = 0.1  # AdamW
    batch_size: int = 512
    epochs: int = 9999  # the official run trains until stopped
    flip_augmentation: bool = True  # flip the whole batch with probability 0.5
    flip_test: bool = True
    grad_clip: float = 0.0  # max gradient norm; 0 = off (as the official config)
    eval_batch_size: int = 512
    seed: int = 42

    @classmethod
    def official(cls, backbone: str = "hrnet_32", **overrides: object) -> LifterTrainingConfig:
        """The official settings for ``backbone`` (``hrnet_32``, ``hrnet_48``, ``cpn``)."""
        if backbone not in ("hrnet_32", "hrnet_48", "cpn"):
            raise ValueError(f"unknown backbone {backbone!r}; known: hrnet_32, hrnet_48, cpn")
        config = (
            cls(learning_rate=3.2e-4, batch_size=256, eval_batch_size=256) if backbone == "cpn" else cls()
        )
        return replace(config, **overrides)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ContextInputs:
    """What a context-aware lifter reads besides the coordinates."""

    features: Sequence[torch.Tensor]  # the frozen backbone's maps, highest resolution first
    keypoints_crop: torch.Tensor  # (B, J, 2) joints in pixels of the backbone's crop


class ContextProvider(Protocol):
    """Gives the image context of samples ``indices``; ``flipped``: of the mirrored images
    (crop keypoints mirrored too, left and right joints swapped)."""

    def __call__(self, indices: np.ndarray, flipped: bool) -> ContextInputs: ...


def _feature_maps(backbone: nn.Module, crops: torch.Tensor) -> Sequence[torch.Tensor]:
    """The maps of ``backbone.forward_features`` (e.g. HRNet's :class:`HRNetFeatures`)."""
    features = getattr(backbone, "forward_features")(crops)  # noqa: B009 - any backbone that has it
    return features.maps


class FrozenBackboneContext:
    """A :class:`ContextProvider` from a 2D backbone kept frozen (eval mode, no gradients).

    ``prepare(indices, flipped)`` returns the backbone's input crops (B, 3, H, W), already
    normalised, and the crop keypoints (B, J, 2); ``extract(backbone, crops)`` returns the
    feature maps (default: ``backbone.forward_features(crops).maps``).
    """

    def __init__(
        self,
        backbone: nn.Module,
        prepare: Callable[[np.ndarray, bool], tuple[torch.Tensor, torch.Tensor]],
        extract: Callable[[nn.Module, torch.Tensor], Sequence[torch.Tensor]] | None = None,
    ) -> None:
        self.backbone = freeze(backbone)
        self.prepare = prepare
        self.extract = extract or _feature_maps

    def __call__(self, indices: np.ndarray, flipped: bool) -> ContextInputs:
        crops, keypoints_crop = self.prepare(indices, flipped)
        self.backbone.eval()  # callers may have put the whole model tree in train mode
        with torch.no_grad():
            features = tuple(self.extract(self.backbone, crops))
        return ContextInputs(features, keypoints_crop)


def freeze(module: nn.Module) -> nn.Module:
    """Put ``module`` in eval mode and stop its gradients (the official fixed backbone)."""
    module.eval()
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    return module


@dataclass(frozen=True)
class LifterBatch:
    """One batch of training or evaluation inputs."""

    keypoints_2d: torch.Tensor  # (B, J, 2) screen-normalised
    target_3d: torch.Tensor  # (B, J, 3) metres, root-relative
    indices: np.ndarray  # (B,) indices into the samples
    flipped: bool


@dataclass
class TrainingState:
    """Where a training run stands; saved in every checkpoint."""

    epoch: int = 0  # completed epochs
    best_mpjpe_mm: float = math.inf
    history: list[dict[str, float]] = field(default_factory=list)  # per epoch: loss, val metrics, lr


def _device_of(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def _samples_arrays(samples: LiftingSamples) -> tuple[np.ndarray, np.ndarray]:
    """Screen-normalised 2D (N, J, 2) and root-relative 3D (N, J, 3) targets with the root at zero."""
    return samples.normalized_keypoints(), samples.relative_joints_3d()


def iterate_batches(
    samples: LiftingSamples,
    batch_size: int,
    shuffle: bool = False,
    flip_probability: float = 0.0,
    rng: np.random.Generator | None = None,
    device: torch.device | str = "cpu",
    arrays: tuple[np.ndarray, np.ndarray] | None = None,
) -> Iterator[LifterBatch]:
    """Batches of ``samples``; a batch is mirrored as a whole with ``flip_probability``."""
    rng = rng or np.random.default_rng()
    keypoints, targets = arrays if arrays is not None else _samples_arrays(samples)
    order = rng.permutation(len(samples)) if shuffle else np.arange(len(samples))
    for start in range(0, len(order), batch_size):
        index = order[start : start + batch_size]
        flipped = bool(flip_probability > 0 and rng.random() < flip_probability)
        kp, target = keypoints[index], targets[index]
        if flipped:
            kp, target = flip_joints(kp, samples.joint_set), flip_joints(target, samples.joint_set)
        yield LifterBatch(
            torch.as_tensor(kp, dtype=torch.float32, device=device),
            torch.as_tensor(target, dtype=torch.float32, device=device),
            index,
            flipped,
        )


def lift(model: nn.Module, batch: LifterBatch, context: ContextProvider | None = None) -> torch.Tensor:
    """The model's (B, J, 3) output for a batch."""
    if context is None:
        return model(batch.keypoints_2d)
    inputs = context(batch.indices, batch.flipped)
    device = batch.keypoints_2d.device
    features = [f.to(device) for f in inputs.features]
    return model(batch.keypoints_2d, features, inputs.keypoints_crop.to(device))


def mpjpe_loss(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean Euclidean joint distance (the official training loss)."""
    return torch.linalg.vector_norm(predicted - target, dim=-1).mean()


def make_optimizer(model: nn.Module, config: LifterTrainingConfig) -> torch.optim.Optimizer:
    """AdamW over the lifter's trainable parameters."""
    parameters = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.AdamW(parameters, lr=config.learning_rate, weight_decay=config.weight_decay)


def learning_rate_at(config: LifterTrainingConfig, epoch: int) -> float:
    """The learning rate of (0-based) ``epoch``: decayed once per finished epoch."""
    return config.learning_rate * config.lr_decay**epoch


def shard_batch(batch: LifterBatch, distributed: DistributedContext) -> LifterBatch:
    """This process's slice of a global batch."""
    part = shard_slice(len(batch.indices), distributed)
    return LifterBatch(batch.keypoints_2d[part], batch.target_3d[part], batch.indices[part], batch.flipped)


def training_step(
    model: nn.Module,
    batch: LifterBatch,
    optimizer: torch.optim.Optimizer,
    config: LifterTrainingConfig,
    context: ContextProvider | None = None,
    distributed: DistributedContext = SINGLE_PROCESS,
) -> float:
    """One optimisation step; returns the loss (metres). A NaN loss is skipped, as officially.

    With several processes ``batch`` is the global batch and ``model`` the DDP-wrapped one: this
    process trains on its slice and returns that slice's loss (NaN when any process's was)."""
    model.train()
    optimizer.zero_grad(set_to_none=True)
    size = len(batch.indices)
    if distributed.is_distributed:
        batch = shard_batch(batch, distributed)
    loss = mpjpe_loss(lift(model, batch, context), batch.target_3d)
    if not all_finite(loss, distributed):
        return math.nan
    (loss * shard_weight(size, distributed)).backward()
    if config.grad_clip > 0:
        nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
    optimizer.step()
    return float(loss.detach())


def train_epoch(
    model: nn.Module,
    samples: LiftingSamples,
    optimizer: torch.optim.Optimizer,
    config: LifterTrainingConfig,
    epoch: int = 0,
    context: ContextProvider | None = None,
    arrays: tuple[np.ndarray, np.ndarray] | None = None,
    distributed: DistributedContext = SINGLE_PROCESS,
) -> float:
    """One pass over shuffled ``samples`` at the epoch's learning rate; the sample-weighted mean loss
    (over all processes)."""
    for group in optimizer.param_groups:
        group["lr"] = learning_rate_at(config, epoch)
    rng = np.random.default_rng([config.seed, epoch])  # reproducible and resumable per epoch
    total, count = 0.0, 0
    batches = iterate_batches(
        samples,
        config.batch_size,
        shuffle=True,
        flip_probability=0.5 if config.flip_augmentation else 0.0,
        rng=rng,
        device=_device_of(model),
        arrays=arrays,
    )
    for batch in batches:
        if not can_shard(len(batch.indices), distributed):
            continue
        loss = training_step(model, batch, optimizer, config, context, distributed)
        if math.isfinite(loss):
            size = len(batch.indices)
            part = shard_slice(size, distributed) if distributed.is_distributed else slice(0, size)
            total += loss * (part.stop - part.start)
            count += part.stop - part.start
    total_all, count_all = sum_across([total, count], distributed)
    return total_all / max(count_all, 1)


@torch.no_grad()
def predict(
    model: nn.Module,
    samples: LiftingSamples,
    context: ContextProvider | None = None,
    flip_test: bool = True,
    batch_size: int = 512,
) -> np.ndarray:
    """(N, J, 3) root-relative predictions in metres; with ``flip_test`` the mean of the
    prediction and the mirrored prediction of the mirrored input."""
    model.eval()
    device = _device_of(model)
    arrays = _samples_arrays(samples)
    outputs = []
    for batch in iterate_batches(samples, batch_size, device=device, arrays=arrays):
        predicted = lift(model, batch, context).double().cpu().numpy()
        if flip_test:
            mirrored = LifterBatch(
                torch.as_tensor(
                    flip_joints(arrays[0][batch.indices], samples.joint_set),
                    dtype=torch.float32,
                    device=device,
                ),
                batch.target_3d,
                batch.indices,
                True,
            )
            mirrored_prediction = lift(model, mirrored, context).double().cpu().numpy()
            predicted = 0.5 * (predicted + flip_joints(mirrored_prediction, samples.joint_set))
        outputs.append(predicted)
    return np.concatenate(outputs) if outputs else np.zeros((0, samples.num_joints, 3))


def evaluate(
    model: nn.Module,
    samples: LiftingSamples,
    context: ContextProvider | None = None,
    flip_test: bool = True,
    batch_size: int = 512,
    pck_joints: Sequence[int] | None = None,
) -> EvaluationReport:
    """Every metric of ``model`` on ``samples`` (per action, averaged over actions, per joint)."""
    predicted = predict(model, samples, context, flip_test, batch_size)
    return evaluate_poses(
        predicted,
        samples.joints_3d,
        joint_names=samples.joint_names,
        actions=samples.actions,
        root_index=samples.root_index,
        pck_joints=pck_joints,
    )


def headline_mpjpe_mm(report: EvaluationReport) -> float:
    """The number the papers report: action-averaged MPJPE where actions exist, else overall."""
    return report.action_mean.mpjpe_mm if report.action_mean is not None else report.overall.mpjpe_mm


def save_training_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    state: TrainingState,
    config: LifterTrainingConfig,
    distributed: DistributedContext = SINGLE_PROCESS,
) -> None:
    """Model, optimiser state, progress and settings in one file (readable with weights_only).

    Written atomically by the main process; the others wait for it."""
    payload = {
        "model": unwrap_model(model).state_dict(),
        "optimizer": optimizer.state_dict(),
        "epoch": state.epoch,
        "best_mpjpe_mm": state.best_mpjpe_mm,
        "history": state.history,
        "config": asdict(config),
    }
    save_checkpoint(path, payload, distributed)


def load_training_checkpoint(
    path: str | os.PathLike[str], model: nn.Module, optimizer: torch.optim.Optimizer | None = None
) -> TrainingState:
    """Restore ``model`` (strictly) and ``optimizer`` from :func:`save_training_checkpoint`'s file."""
    payload = read_checkpoint(path)
    if not isinstance(payload, dict) or "model" not in payload or "epoch" not in payload:
        raise CheckpointError(f"{os.fspath(path)} is not a lifter training checkpoint")
    load_strict(model, payload["model"])
    if optimizer is not None:
        if "optimizer" not in payload:
            raise CheckpointError(f"{os.fspath(path)} holds no optimizer state")
        optimizer.load_state_dict(payload["optimizer"])
    return TrainingState(
        epoch=int(payload["epoch"]),
        best_mpjpe_mm=float(payload.get("best_mpjpe_mm", math.inf)),
        history=list(payload.get("history", [])),
    )


def train_lifter(
    model: nn.Module,
    train_samples: LiftingSamples,
    config: LifterTrainingConfig = LifterTrainingConfig(),
    validation_samples: LiftingSamples | None = None,
    context: ContextProvider | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    log: Callable[[str], None] | None = None,
    distributed: DistributedContext = SINGLE_PROCESS,
) -> TrainingState:
    """Train for ``config.epochs`` epochs (continuing from ``checkpoint_dir/last.pt`` with ``resume``).

    After every epoch: validation (when given), ``last.pt`` and, on a new lowest validation
    MPJPE, ``best.pt`` in ``checkpoint_dir``. ``distributed`` (from
    :func:`~hpe_ros.training.distributed.init_distributed`): this process's place under torchrun;
    only the main process validates, writes and logs.
    """
    optimizer = make_optimizer(model, config)
    state = TrainingState()
    directory = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if resume:
        if directory is None or not (directory / CHECKPOINT_LAST).is_file():
            raise FileNotFoundError(f"nothing to resume: no {CHECKPOINT_LAST} in {checkpoint_dir}")
        state = load_training_checkpoint(directory / CHECKPOINT_LAST, model, optimizer)
    arrays = _samples_arrays(train_samples)
    trained = wrap_model(model, distributed)  # after loading: DDP starts from rank 0's parameters
    for epoch in range(state.epoch, config.epochs):
        loss = train_epoch(trained, train_samples, optimizer, config, epoch, context, arrays, distributed)
        record = {"epoch": float(epoch + 1), "loss_mm": 1000.0 * loss, "lr": learning_rate_at(config, epoch)}
        improved = False
        if validation_samples is not None and distributed.is_main:
            report = evaluate(model, validation_samples, context, config.flip_test, config.eval_batch_size)
            record["val_mpjpe_mm"] = headline_mpjpe_mm(report)
            record["val_p_mpjpe_mm"] = (report.action_mean or report.overall).p_mpjpe_mm
            improved = record["val_mpjpe_mm"] < state.best_mpjpe_mm
        record, improved = broadcast_from_main((record, improved), distributed)
        if improved:
            state.best_mpjpe_mm = record["val_mpjpe_mm"]
        state.epoch = epoch + 1
        state.history.append(record)
        if directory is not None:
            for name in (CHECKPOINT_LAST, CHECKPOINT_BEST) if improved else (CHECKPOINT_LAST,):
                save_training_checkpoint(directory / name, model, optimizer, state, config, distributed)
        if log is not None and distributed.is_main:
            log(", ".join(f"{k} {v:.4g}" for k, v in record.items()))
    return state
