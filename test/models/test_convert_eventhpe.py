import pytest
import torch

from hpe_ros.models.checkpoints import CheckpointError, CheckpointMismatchError
from hpe_ros.models.convert_eventhpe import (
    SMPLCheckpointMismatchError,
    convert_flownet_state_dict,
    convert_shapenet_state_dict,
    load_flownet_state,
    load_shapenet_state,
)
from hpe_ros.models.eventhpe import EventFlowNet, EventShapeNet, SMPLInitialState
from hpe_ros.models.smpl import SMPLModel
from hpe_ros.models.smpl_synthetic import make_synthetic_smpl

# Official OpticalFlowNet blocks are nn.Sequential(conv, bn, relu, conv, bn, relu) and the flow
# heads nn.Sequential(conv1x1, tanh): indices 0, 1, 3, 4 and 0.
_OURS_TO_OFFICIAL_LAYER = {"conv1": "0", "bn1": "1", "conv2": "3", "bn2": "4"}


def _official_flownet_key(key: str) -> str:
    parts = key.split(".")
    if parts[0] == "flow_heads":
        return f"flows.{parts[1]}.conv_block.0.weight"
    if parts[0] == "bottleneck":
        return f"residual.conv_block.{_OURS_TO_OFFICIAL_LAYER[parts[1]]}.{'.'.join(parts[2:])}"
    return f"{parts[0]}.{parts[1]}.conv_block.{_OURS_TO_OFFICIAL_LAYER[parts[2]]}.{'.'.join(parts[3:])}"


def _randomise_batchnorm(model: torch.nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.3, 0.3)
            module.running_var.uniform_(0.5, 2.0)


def test_flownet_official_keys_convert_and_reproduce_outputs(tmp_path) -> None:
    torch.manual_seed(0)
    source = EventFlowNet(base_channels=8)
    _randomise_batchnorm(source)
    official = {_official_flownet_key(k): v for k, v in source.state_dict().items()}
    assert "encoders.2.conv_block.4.running_var" in official and "flows.3.conv_block.0.weight" in official
    assert "residual.conv_block.0.weight" in official
    path = tmp_path / "model_flow.pkl"
    torch.save(official, path)  # flow_net/train.py saves the bare state dict

    target = EventFlowNet(base_channels=8)
    load_flownet_state(target, path)
    events = (torch.rand(1, 8, 32, 32) > 0.7).float()
    with torch.no_grad():
        assert torch.equal(source.eval()(events).flow, target.eval()(events).flow)


def test_flownet_converter_refuses_unknown_or_missing_keys() -> None:
    official = {_official_flownet_key(k): v for k, v in EventFlowNet(base_channels=4).state_dict().items()}
    with pytest.raises(CheckpointError, match="unknown keys"):
        convert_flownet_state_dict({**official, "encoders.0.conv_block.2.weight": torch.zeros(1)})
    del official["flows.0.conv_block.0.weight"]
    with pytest.raises(CheckpointMismatchError, match="flow_heads.0.weight"):
        load_flownet_state(EventFlowNet(base_channels=4), official)


_OURS_TO_OFFICIAL_PREFIX = {
    "encoder.": "img_encoder.",
    "temporal.": "tmp_encoder.",
    "pose_head.": "regressor.decpose.",
    "translation_head.": "regressor.dectrans.",
}


def _official_smpl_buffers(smpl: SMPLModel, tiles: int) -> dict[str, torch.Tensor]:
    """What the official SMPL layer registers: flattened blend shapes (K, 3V), regressor (V, 24),
    tiled weights."""
    num_vertices = smpl.v_template.shape[0]
    return {
        "smpl.v_template": smpl.v_template.clone(),
        "smpl.shapedirs": smpl.shapedirs.reshape(num_vertices * 3, -1).T.clone(),
        "smpl.J_regressor": smpl.J_regressor.T.clone(),
        "smpl.posedirs": smpl.posedirs.clone(),
        "smpl.weight": smpl.lbs_weights[None].repeat(tiles, 1, 1),
        "smpl.e3": torch.eye(3),
    }


def _official_shapenet_checkpoint(model: EventShapeNet, smpl: SMPLModel) -> dict[str, object]:
    state = {}
    for key, value in model.state_dict().items():
        prefix = next(p for p in _OURS_TO_OFFICIAL_PREFIX if key.startswith(p))
        state[_OURS_TO_OFFICIAL_PREFIX[prefix] + key[len(prefix):]] = value
    state.update(_official_smpl_buffers(smpl, tiles=16))  # batch 8 x 2 steps at training time
    return {"model_state_dict": state, "optimizer_state_dict": {}}


@pytest.fixture(scope="module")
def shapenet_pair() -> tuple[EventShapeNet, EventShapeNet, SMPLModel, dict[str, object]]:
    torch.manual_seed(0)
    smpl = SMPLModel(make_synthetic_smpl(num_vertices=240, seed=0))
    source = EventShapeNet(smpl, use_flow=False)
    _randomise_batchnorm(source)
    with torch.no_grad():
        source.pose_head.weight.mul_(0.01)
    return source, EventShapeNet(smpl, use_flow=False), smpl, _official_shapenet_checkpoint(source, smpl)


def test_shapenet_checkpoint_converts_drops_smpl_and_reproduces_outputs(shapenet_pair, tmp_path) -> None:
    source, target, _, checkpoint = shapenet_pair
    assert "img_encoder.layer3.5.bn3.running_var" in checkpoint["model_state_dict"]
    converted = convert_shapenet_state_dict(checkpoint)
    assert not any(key.startswith("smpl.") for key in converted)
    assert "encoder.layer3.5.bn3.running_var" in converted and "temporal.gru.bias_hh_l0" in converted
    path = tmp_path / "model_events_pose.pkl"
    torch.save(checkpoint, path)
    load_shapenet_state(target, path)
    initial = SMPLInitialState(torch.tensor([[0.0, 0.0, 4.0]]), 0.2 * torch.randn(1, 72), torch.randn(1, 10))
    events = (torch.rand(1, 2, 8, 32, 32) > 0.8).float()
    with torch.no_grad():
        a, b = source.eval()(events, initial), target.eval()(events, initial)
    assert torch.equal(a.vertices, b.vertices) and torch.equal(a.translation, b.translation)


def test_shapenet_checkpoint_of_another_body_model_is_refused(shapenet_pair) -> None:
    _, target, smpl, checkpoint = shapenet_pair
    other = SMPLModel(make_synthetic_smpl(num_vertices=240, seed=1))
    with pytest.raises(SMPLCheckpointMismatchError, match="v_template"):
        convert_shapenet_state_dict(checkpoint, smpl=other)
    # one tile of the skinning weights differs: refused too
    state = dict(checkpoint["model_state_dict"])
    state["smpl.weight"] = state["smpl.weight"].clone()
    state["smpl.weight"][3, 0] += 0.5
    with pytest.raises(SMPLCheckpointMismatchError, match="weight"):
        convert_shapenet_state_dict(state, smpl=smpl)
    convert_shapenet_state_dict(state)  # without a body model to compare, the buffers are only dropped


def test_shapenet_converter_refuses_unknown_keys(shapenet_pair) -> None:
    _, _, _, checkpoint = shapenet_pair
    state = dict(checkpoint["model_state_dict"])
    with pytest.raises(CheckpointError, match="regressor.fc1.weight"):
        convert_shapenet_state_dict({**state, "regressor.fc1.weight": torch.zeros(2, 2)})
    with pytest.raises(CheckpointError, match="smpl.faces"):
        convert_shapenet_state_dict({**state, "smpl.faces": torch.zeros(2, 3)})
