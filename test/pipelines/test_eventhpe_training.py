import torch

from hpe_ros.models.eventhpe import EventFlowNet, EventShapeNet, SMPLInitialState
from hpe_ros.models.smpl import SMPLModel
from hpe_ros.models.smpl_synthetic import make_synthetic_smpl
from hpe_ros.pipelines.eventhpe_losses import ShapeNetTargets
from hpe_ros.pipelines.eventhpe_training import (
    FlowNetBatch,
    ShapeNetBatch,
    make_flownet_optimizer,
    make_shapenet_optimizer,
    shapenet_parameters,
    train_flownet,
    train_shapenet,
)


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


def _shapenet_batch(smpl: SMPLModel, steps: int = 2, size: int = 32) -> ShapeNetBatch:
    gen = torch.Generator().manual_seed(0)
    initial = SMPLInitialState(
        translation=torch.tensor([[0.0, 0.0, 4.0]]),
        pose=0.1 * torch.randn(1, 72, generator=gen),
        betas=torch.zeros(1, 10),
    )
    pose = initial.pose[:, None] + 0.05 * torch.randn(1, steps, 72, generator=gen)
    translation = initial.translation[:, None] + torch.tensor([0.02, 0.0, 0.0]) * torch.arange(1, steps + 1)[:, None]
    joints = smpl(pose=pose.reshape(steps, 72), betas=torch.zeros(steps, 10)).joints[None] + translation[:, :, None]
    targets = ShapeNetTargets(pose=pose, translation=translation, joints=joints)
    events = (torch.rand(1, steps, 8, size, size, generator=gen) > 0.8).float()
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
