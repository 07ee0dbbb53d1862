"""Training loop, checkpoints and evaluation of the coordinate-only lifter on a few made poses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from hpe_ros.core.joints import H36M_17, flip_joints
from hpe_ros.datasets import LiftingSamples
from hpe_ros.models.registry import create_model
from hpe_ros.training.lifter import (
    CHECKPOINT_BEST,
    CHECKPOINT_LAST,
    LifterTrainingConfig,
    evaluate,
    iterate_batches,
    learning_rate_at,
    load_training_checkpoint,
    make_optimizer,
    predict,
    train_lifter,
)

WIDTH = HEIGHT = 1000.0
FOCAL = 1000.0


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _samples(n: int = 8, seed: int = 0) -> LiftingSamples:
    """Random 1.7 m skeletons 5 m in front of a pinhole camera centred on the image."""
    rng = np.random.default_rng(seed)
    relative = rng.uniform(-0.25, 0.25, (n, 17, 3)) * np.array([1.0, 3.4, 1.0])
    relative -= relative[:, :1]
    joints = relative + np.array([0.0, 0.0, 5.0])
    keypoints = FOCAL * joints[..., :2] / joints[..., 2:] + np.array([WIDTH / 2, HEIGHT / 2])
    return LiftingSamples(
        keypoints_2d=keypoints,
        scores_2d=np.ones((n, 17)),
        joints_3d=joints,
        image_size=np.full((n, 2), WIDTH),
        subjects=np.full(n, "S9"),
        actions=np.array(["Walking 1", "Eating 2"] * (n // 2)),
        camera_ids=np.full(n, "54138969"),
        frame_indices=np.arange(n),
        joint_set=H36M_17,
    )


def _model() -> torch.nn.Module:
    """The coordinate-only lifter, narrowed so that a CPU trains it in seconds."""
    torch.manual_seed(0)
    return create_model("capf_baseline", dim=64, depth=2)


def test_tiny_run_overfits_a_few_poses() -> None:
    samples = _samples(n=4)
    model = _model()
    config = LifterTrainingConfig(
        batch_size=4, epochs=300, learning_rate=2e-3, weight_decay=0.0, flip_augmentation=False
    )
    state = train_lifter(model, samples, config)
    losses = [record["loss_mm"] for record in state.history]
    assert losses[-1] < losses[0] / 10
    report = evaluate(model, samples, flip_test=False)
    assert report.overall.mpjpe_mm < losses[0] / 10
    assert set(report.per_action) == {"Walking", "Eating"}


def test_flipped_batches_stay_geometrically_consistent() -> None:
    # With the principal point at the image centre, mirroring the 3D pose (x -> -x, left <-> right)
    # projects to the mirrored normalised 2D pose: the augmentation keeps input and target paired.
    samples = _samples(n=4)
    (batch,) = iterate_batches(samples, batch_size=4, flip_probability=1.0)
    assert batch.flipped
    mirrored = flip_joints(samples.joints_3d, H36M_17)
    projected = FOCAL * mirrored[..., :2] / mirrored[..., 2:] / WIDTH * 2.0
    np.testing.assert_allclose(batch.keypoints_2d.numpy(), projected, atol=1e-6)
    np.testing.assert_allclose(batch.target_3d.numpy(), mirrored - mirrored[:, :1], atol=1e-6)


def test_flip_test_averages_the_mirrored_prediction() -> None:
    samples = _samples(n=4)
    model = _model()
    plain = predict(model, samples, flip_test=False)
    mirrored_input = samples.with_keypoints(
        # pixels whose normalised coordinates are the mirrored ones
        flip_joints(samples.keypoints_2d, H36M_17, image_width=WIDTH + 1.0)
    )
    mirrored = flip_joints(predict(model, mirrored_input, flip_test=False), H36M_17)
    np.testing.assert_allclose(predict(model, samples, flip_test=True), 0.5 * (plain + mirrored), atol=1e-5)


def test_checkpoint_resume_restores_the_optimizer_and_continues(tmp_path: Path) -> None:
    samples = _samples()
    config = LifterTrainingConfig(batch_size=4, epochs=2, learning_rate=1e-3)
    model = _model()
    state = train_lifter(model, samples, config, validation_samples=samples, checkpoint_dir=tmp_path)
    assert (
        state.epoch == 2 and (tmp_path / CHECKPOINT_LAST).is_file() and (tmp_path / CHECKPOINT_BEST).is_file()
    )
    assert state.best_mpjpe_mm == min(r["val_mpjpe_mm"] for r in state.history)

    # A fresh model and optimizer get the exact weights and Adam moments back.
    restored = _model()
    torch.manual_seed(1)
    for parameter in restored.parameters():
        parameter.data.normal_()
    optimizer = make_optimizer(restored, config)
    loaded = load_training_checkpoint(tmp_path / CHECKPOINT_LAST, restored, optimizer)
    assert loaded.epoch == 2 and len(loaded.history) == 2
    for a, b in zip(model.state_dict().values(), restored.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    saved_optimizer = torch.load(tmp_path / CHECKPOINT_LAST, weights_only=True)["optimizer"]
    moments = optimizer.state_dict()["state"]
    assert len(moments) == len(saved_optimizer["state"]) > 0
    for key, values in saved_optimizer["state"].items():
        torch.testing.assert_close(moments[key]["exp_avg"], values["exp_avg"], rtol=0, atol=0)
        torch.testing.assert_close(moments[key]["exp_avg_sq"], values["exp_avg_sq"], rtol=0, atol=0)
        assert float(moments[key]["step"]) == 2 * 2  # two epochs of two batches

    # Resuming runs only the remaining epoch, at that epoch's decayed learning rate.
    resumed_model = _model()
    longer = LifterTrainingConfig(batch_size=4, epochs=3, learning_rate=1e-3)
    resumed = train_lifter(resumed_model, samples, longer, checkpoint_dir=tmp_path, resume=True)
    assert resumed.epoch == 3 and len(resumed.history) == 3
    assert (
        resumed.history[-1]["lr"]
        == pytest.approx(learning_rate_at(longer, 2))
        == pytest.approx(1e-3 * 0.99**2)
    )

    # ... and ends where an uninterrupted run ends (same data order, same optimizer moments).
    uninterrupted = _model()
    train_lifter(uninterrupted, samples, longer)
    for a, b in zip(uninterrupted.state_dict().values(), resumed_model.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b)


def test_official_schedule_defaults() -> None:
    hrnet, cpn = LifterTrainingConfig.official("hrnet_32"), LifterTrainingConfig.official("cpn")
    assert (hrnet.learning_rate, hrnet.batch_size, hrnet.weight_decay, hrnet.lr_decay) == (
        6.4e-4,
        512,
        0.1,
        0.99,
    )
    assert (cpn.learning_rate, cpn.batch_size) == (3.2e-4, 256)
    with pytest.raises(ValueError):
        LifterTrainingConfig.official("resnet")
