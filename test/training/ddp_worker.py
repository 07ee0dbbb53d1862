"""Run by test_distributed.py, alone or under torchrun: a tiny training run on made data.

python ddp_worker.py OUT_DIR KIND[,KIND...] [--die-after KIND:EPOCH]

Trains each KIND in turn into OUT_DIR/KIND: ``lifter`` (training/lifter.py's train_lifter, 3
epochs), ``flownet`` and ``shapenet`` (training/eventhpe.py's fit loops, 2 epochs),
``default_lifter`` (training/default_lifter.py, 6 steps, a checkpoint every 2); a KIND whose
last.pt exists is resumed from it. ``--die-after KIND:N``: the main process SIGKILLs itself
right after the checkpoint of epoch (or step) N, as a crash or a preempted machine would.
"""

from __future__ import annotations

import argparse
import os
import signal
from pathlib import Path

import numpy as np
import torch

from hpe_ros.core.joints import H36M_17
from hpe_ros.datasets import LiftingSamples
from hpe_ros.training.distributed import distributed_session


def lifter_samples(n: int = 10) -> LiftingSamples:
    rng = np.random.default_rng(0)
    relative = rng.uniform(-0.25, 0.25, (n, 17, 3)) * np.array([1.0, 3.4, 1.0])
    joints = relative - relative[:, :1] + np.array([0.0, 0.0, 5.0])
    keypoints = 1000.0 * joints[..., :2] / joints[..., 2:] + 500.0
    return LiftingSamples(keypoints_2d=keypoints, scores_2d=np.ones((n, 17)), joints_3d=joints,
                          image_size=np.full((n, 2), 1000.0), subjects=np.full(n, "S9"),
                          actions=np.full(n, "Walking 1"), camera_ids=np.full(n, "54138969"),
                          frame_indices=np.arange(n), joint_set=H36M_17)


def flownet_batches(epoch: int) -> list:
    """Two batches of 4 squares moving by 1-3 px; different every epoch, the same on every rank."""
    from hpe_ros.training.eventhpe import FlowNetBatch

    rng = np.random.default_rng([7, epoch])
    batches = []
    for _ in range(2):
        image1 = torch.zeros(4, 1, 16, 16)
        for b, (y, x) in enumerate(rng.integers(2, 8, (4, 2))):
            image1[b, :, y : y + 6, x : x + 6] = 200.0
        image2 = torch.roll(image1, shifts=int(rng.integers(1, 4)), dims=-1)
        events = torch.stack([(image2 - image1).abs()[:, 0] > 0] * 4, dim=1).float()
        batches.append(FlowNetBatch(events=events, image1=image1, image2=image2, dt=torch.ones(4)))
    return batches


def shapenet_batches(epoch: int) -> list:
    """One batch of 2 clips of 2 steps: random events, a slowly moving synthetic SMPL body."""
    from hpe_ros.models.eventhpe import SMPLInitialState
    from hpe_ros.training.eventhpe import ShapeNetBatch
    from hpe_ros.training.eventhpe_losses import ShapeNetTargets

    gen = torch.Generator().manual_seed(100 + epoch)
    b, t, size = 2, 2, 16
    initial = SMPLInitialState(translation=torch.tensor([[0.0, 0.0, 4.0]] * b),
                               pose=0.1 * torch.randn(b, 72, generator=gen), betas=torch.zeros(b, 10))
    pose = initial.pose[:, None] + 0.05 * torch.randn(b, t, 72, generator=gen)
    translation = initial.translation[:, None].expand(b, t, 3).clone()
    joints = torch.randn(b, t, 24, 3, generator=gen) * 0.3 + translation[:, :, None]
    events = (torch.rand(b, t, 8, size, size, generator=gen) > 0.9).float()
    flows = torch.ones(b, t, 2, size, size)
    return [ShapeNetBatch(events=events, initial=initial,
                          targets=ShapeNetTargets(pose=pose, translation=translation, joints=joints),
                          flows=flows)]


def train(kind: str, out: Path, log, distributed) -> None:  # noqa: ANN001
    resume = (out / "last.pt").is_file()
    if kind == "lifter":
        from hpe_ros.models.registry import create_model
        from hpe_ros.training.lifter import LifterTrainingConfig, train_lifter

        model = create_model("capf_baseline", dim=16, depth=1)
        config = LifterTrainingConfig(epochs=3, batch_size=4, learning_rate=1e-3)
        train_lifter(model, lifter_samples(), config, lifter_samples(4), checkpoint_dir=out, resume=resume,
                     log=log, distributed=distributed)
    elif kind == "flownet":
        from hpe_ros.models.eventhpe import EventFlowNet
        from hpe_ros.training.eventhpe import fit_flownet

        fit_flownet(EventFlowNet(in_channels=4, base_channels=4), flownet_batches, 2, checkpoint_dir=out,
                    resume=resume, distributed=distributed, log=log)
    elif kind == "default_lifter":
        from hpe_ros.training.default_lifter import MocapFrames, TrainingCheckpoint, train_lifter

        rng = np.random.default_rng(3)
        frames = MocapFrames(rng.normal(0, 0.05, (40, 3)) + [0, 0.9, 0], rng.normal(0, 0.2, (40, 38, 3)), 1)
        checkpoint = TrainingCheckpoint(out / "last.pt", every=2, resume=resume)
        kwargs = {"num_joints": 17, "in_features": 3, "hidden": 32, "num_blocks": 1}
        train_lifter(frames, 6, 0, 8, model_kwargs=kwargs, log_every=2, checkpoint=checkpoint,
                     distributed=distributed, log=lambda line: log(line.replace("/", ",")))
    else:
        from hpe_ros.models.eventhpe import EventShapeNet
        from hpe_ros.models.smpl import SMPLModel
        from hpe_ros.models.smpl_synthetic import make_synthetic_smpl
        from hpe_ros.training.eventhpe import fit_shapenet

        model = EventShapeNet(SMPLModel(make_synthetic_smpl(num_vertices=240, seed=0)),
                              camera_intrinsics=(20.0, 20.0, 8.0, 8.0))
        # the ResNet-50 trunk and the GRU frozen, as in test_eventhpe.py: a full update takes seconds
        model.encoder.requires_grad_(False)
        model.temporal.requires_grad_(False)
        fit_shapenet(model, shapenet_batches, 2, checkpoint_dir=out, resume=resume, distributed=distributed,
                     log=log)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("kinds")
    parser.add_argument("--die-after", default="")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with distributed_session() as distributed:
        for kind in args.kinds.split(","):
            torch.manual_seed(0)

            def log(line: str, kind: str = kind) -> None:
                if args.die_after and f"{kind}:{line.split(',')[0].split()[-1]}" == args.die_after:
                    os.kill(os.getpid(), signal.SIGKILL)

            train(kind, args.out / kind, log, distributed)


if __name__ == "__main__":
    main()
