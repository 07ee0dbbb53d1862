import numpy as np
import torch

from hpe_ros.models.eventhpe import EventFlowNet, EventShapeNet, SMPLInitialState
from hpe_ros.models.smpl import SMPLModel
from hpe_ros.models.smpl_synthetic import make_synthetic_smpl
from hpe_ros.training.eventhpe import (
    FlowNetBatch,
    ShapeNetBatch,
    make_flownet_optimizer,
    make_shapenet_optimizer,
    shapenet_parameters,
    train_flownet,
    train_shapenet,
)
from hpe_ros.training.eventhpe_losses import ShapeNetTargets


def _moving_square_batch(size: int = 32) -> FlowNetBatch:
    """Two gray frames of a bright square moving 2 px right, and event frames at its edges."""
    image1 = torch.zeros(2, 1, size, size)
    image1[:, :, 10:20, 8:18] = 200.0
    image2 = torch.roll(image1, shifts=2, dims=-1)
    events = torch.stack([(image2 - image1).abs()[:, 0] > 0] * 4, dim=1).float()
    return FlowNetBatch(events=events, image1=image1, image2=image2, dt=torch.ones(2))


def test_flownet_training_lowers_the_unsupervised_loss() -> None:
    torch.manual_seed(0)
    model = EventFlowNet(in_channels=4, base_channels=4)
    optimizer, scheduler = make_flownet_optimizer(model)
    batch = _moving_square_batch()
    history = train_flownet(model, [batch] * 15, optimizer)
    totals = history.series("total")
    assert len(totals) == 15
    # the static parts of the frames bound how low it can go; the moving edges give the decrease
    assert sum(totals[-3:]) / 3 < 0.95 * sum(totals[:3]) / 3
    assert history.series("photometric")[-1] < history.series("photometric")[0]
    scheduler.step()  # per-epoch decay stays usable


def _simulated_event_frames(steps: int, size: int, channels: int = 8) -> torch.Tensor:
    """(1, steps, channels, size, size) occupancy frames of events simulated from a moving square."""
    from hpe_ros.pipelines.events.representations import partition_occupancy
    from hpe_ros.pipelines.events.simulator import EventSimulatorConfig, simulate_events

    frames = np.full((steps * 2 + 1, size, size), 30, np.uint8)
    for k in range(len(frames)):
        frames[k, 8:20, 4 + k : 14 + k] = 220
    stamps = np.arange(len(frames), dtype=np.int64) * 5_000_000
    events = simulate_events(frames, stamps, EventSimulatorConfig(contrast_pos=0.3, contrast_neg=0.3, seed=2))
    per_step = np.array_split(events, steps)
    occupancy = np.stack([partition_occupancy(e, size, size, channels) for e in per_step])
    return torch.from_numpy(occupancy).float()[None]


def _shapenet_batch(smpl: SMPLModel, steps: int = 2, size: int = 32) -> ShapeNetBatch:
    gen = torch.Generator().manual_seed(0)
    initial = SMPLInitialState(
        translation=torch.tensor([[0.0, 0.0, 4.0]]),
        pose=0.1 * torch.randn(1, 72, generator=gen),
        betas=torch.zeros(1, 10),
    )
    pose = initial.pose[:, None] + 0.05 * torch.randn(1, steps, 72, generator=gen)
    translation = (initial.translation[:, None]
                   + torch.tensor([0.02, 0.0, 0.0]) * torch.arange(1, steps + 1)[:, None])
    joints = (smpl(pose=pose.reshape(steps, 72), betas=torch.zeros(steps, 10)).joints[None]
              + translation[:, :, None])
    targets = ShapeNetTargets(pose=pose, translation=translation, joints=joints)
    events = _simulated_event_frames(steps, size)
    flows = torch.zeros(1, steps, 2, size, size)
    flows[:, :, 0] = 5.0
    return ShapeNetBatch(events=events, initial=initial, targets=targets, flows=flows)


def test_shapenet_training_lowers_its_loss_and_leaves_smpl_alone() -> None:
    torch.manual_seed(0)
    smpl = SMPLModel(make_synthetic_smpl(num_vertices=240, seed=0))
    model = EventShapeNet(smpl, camera_intrinsics=(40.0, 40.0, 16.0, 16.0))
    template = smpl.v_template.clone()
    assert len(shapenet_parameters(model)) == len(list(model.parameters()))
    # A full ResNet-50 + GRU update takes seconds per step on a shared CPU: train the heads only
    # (frozen parameters get no gradient and Adam skips them); the loop and losses are the same.
    model.encoder.requires_grad_(False)
    model.temporal.requires_grad_(False)
    optimizer, _ = make_shapenet_optimizer(model, lr=1e-3)
    batch = _shapenet_batch(smpl)
    history = train_shapenet(model, [batch] * 10, optimizer)
    totals = history.series("total")
    assert sum(totals[-3:]) / 3 < 0.7 * totals[0]  # the heads' loss is noisy step to step
    assert history.series("rotation")[-1] < history.series("rotation")[0]
    assert all(step["flow"] >= 0 for step in history.steps)
    assert torch.equal(smpl.v_template, template)


def test_flownet_learns_from_simulated_events() -> None:
    """The whole chain: frames -> the event simulator -> occupancy frames -> FlowNet's unsupervised loss."""
    from hpe_ros.pipelines.events.representations import partition_occupancy
    from hpe_ros.pipelines.events.simulator import EventSimulatorConfig, simulate_events

    size, steps = 32, 5
    frames = np.full((steps, size, size), 30, np.uint8)
    for k in range(steps):  # a bright square moving 1 px right per frame
        frames[k, 10:20, 8 + k : 18 + k] = 220
    stamps = np.arange(steps, dtype=np.int64) * 10_000_000
    events = simulate_events(frames, stamps, EventSimulatorConfig(contrast_pos=0.3, contrast_neg=0.3, seed=1))
    assert events.size > 0 and set(np.unique(events["p"])) == {0, 1}
    occupancy = partition_occupancy(events, size, size, partitions=4)
    batch = FlowNetBatch(
        events=torch.from_numpy(occupancy).float()[None],
        image1=torch.from_numpy(frames[0]).float()[None, None],
        image2=torch.from_numpy(frames[-1]).float()[None, None],
        dt=torch.ones(1),
    )
    torch.manual_seed(0)
    model = EventFlowNet(in_channels=4, base_channels=4)
    optimizer, _ = make_flownet_optimizer(model)
    history = train_flownet(model, [batch] * 40, optimizer)
    totals = history.series("total")
    # the static background bounds the loss from below; the moving edges give a steady decrease
    assert sum(totals[-3:]) / 3 < 0.93 * sum(totals[:3]) / 3
    assert history.series("photometric")[-1] < history.series("photometric")[0]
