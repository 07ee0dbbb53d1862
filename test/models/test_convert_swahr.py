"""Loading SWAHR / HigherHRNet / mmpose checkpoints strictly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from hpe_ros.models.checkpoints import CheckpointMismatchError
from hpe_ros.models.convert_swahr import convert_swahr_state_dict, load_swahr_checkpoint
from hpe_ros.models.swahr import HigherHRNet, HigherHRNetConfig


def _tiny(scale_aware: bool = True, seed: int = 0) -> HigherHRNet:
    torch.manual_seed(seed)
    config = HigherHRNetConfig(
        width=8,
        num_joints=5,
        blocks=1,
        stage_modules=(1, 1, 1),
        stem_blocks=1,
        num_basic_blocks=1,
        scale_aware=scale_aware,
    )
    model = HigherHRNet(config)
    with torch.no_grad():  # non-trivial BN statistics so that a wrong mapping would show
        for name, value in model.state_dict().items():
            if name.endswith("running_mean"):
                value.normal_(0, 0.1)
            elif name.endswith("running_var"):
                value.uniform_(0.5, 1.5)
    return model.eval()


def _outputs(model: HigherHRNet) -> tuple[torch.Tensor, ...]:
    torch.manual_seed(5)
    with torch.no_grad():
        return model(torch.randn(1, 3, 64, 64))


def _assert_same(a: HigherHRNet, b: HigherHRNet) -> None:
    for x, y in zip(_outputs(a), _outputs(b), strict=True):
        torch.testing.assert_close(x, y, rtol=0, atol=0)


def test_official_release_layout_round_trip(tmp_path: Path) -> None:
    source = _tiny(seed=1)
    path = tmp_path / "pose_higher_hrnet_w32_512.pth"
    torch.save(source.state_dict(), path)  # the release files are bare state dicts
    target = _tiny(seed=2)
    load_swahr_checkpoint(target, path)
    _assert_same(source, target)


def test_training_snapshot_with_dataparallel_prefix(tmp_path: Path) -> None:
    source = _tiny(seed=1)
    snapshot = {
        "epoch": 3,
        "model": "pose_higher_hrnet",
        "state_dict": {"module." + k: v for k, v in source.state_dict().items()},
        "perf": 0.5,
    }
    path = tmp_path / "checkpoint.pth.tar"
    torch.save(snapshot, path)
    target = _tiny(seed=2)
    load_swahr_checkpoint(target, path)
    _assert_same(source, target)


def test_mmpose_associative_embedding_layout(tmp_path: Path) -> None:
    source = _tiny(scale_aware=False, seed=1)
    head = ("final_layers.", "deconv_layers.")
    state = {
        ("keypoint_head." if k.startswith(head) else "backbone.") + k: v
        for k, v in source.state_dict().items()
    }
    path = tmp_path / "hrnet_w32_coco_512x512.pth"
    torch.save({"meta": {"epoch": 300}, "state_dict": state}, path)
    target = _tiny(scale_aware=False, seed=2)
    load_swahr_checkpoint(target, path)
    _assert_same(source, target)
    assert convert_swahr_state_dict(state).keys() == source.state_dict().keys()


def test_checkpoint_without_batch_counters_loads(tmp_path: Path) -> None:
    source = _tiny(seed=1)
    state = {k: v for k, v in source.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "old.pth"
    torch.save(state, path)
    target = _tiny(seed=2)
    load_swahr_checkpoint(target, path)
    _assert_same(source, target)


def test_broken_checkpoint_reports_every_difference(tmp_path: Path) -> None:
    state = _tiny(seed=1).state_dict()
    del state["final_layers.1.bias"]
    state["final_layers.0.weight"] = torch.zeros(3, 8, 1, 1)
    state["extra_head.weight"] = torch.zeros(1)
    path = tmp_path / "broken.pth"
    torch.save(state, path)
    target = _tiny(seed=2)
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(CheckpointMismatchError) as caught:
        load_swahr_checkpoint(target, path)
    diff = caught.value.diff
    assert diff.missing == ["final_layers.1.bias"]
    assert diff.unexpected == ["extra_head.weight"]
    assert [m[0] for m in diff.mismatched] == ["final_layers.0.weight"]
    assert "final_layers.1.bias" in str(caught.value)
    for key, value in target.state_dict().items():  # nothing was loaded
        assert torch.equal(value, before[key]), key


def test_swahr_checkpoint_does_not_fit_plain_higher_hrnet(tmp_path: Path) -> None:
    path = tmp_path / "swahr.pth"
    torch.save(_tiny(seed=1).state_dict(), path)
    with pytest.raises(CheckpointMismatchError) as caught:
        load_swahr_checkpoint(_tiny(scale_aware=False), path)
    assert caught.value.diff.unexpected and all(
        k.startswith("conv_scale_layers.") for k in caught.value.diff.unexpected
    )
    assert not caught.value.diff.missing
