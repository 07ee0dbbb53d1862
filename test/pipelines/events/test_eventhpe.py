"""EventHPE pipeline on simulated events: shapes, the stream state, checkpoints, flow output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import hpe_ros.pipelines.events.eventhpe as eventhpe_module
from hpe_ros.core.joints import SMPL_24
from hpe_ros.models.checkpoints import CheckpointError
from hpe_ros.models.eventhpe import SMPLInitialState
from hpe_ros.models.rotations import matrix_to_axis_angle
from hpe_ros.pipelines.base import EventWindow
from hpe_ros.pipelines.events.eventhpe import (
    MAX_ROOT_SPEED_MPS,
    EventHPEPipeline,
    flow_to_rgb,
    flow_to_sensor,
    plausible_root,
    split_window,
)
from hpe_ros.pipelines.events.representations import EventWindower, eventhpe_frames, pad_square_resize_nearest
from hpe_ros.pipelines.events.simulator import EventSimulatorConfig, simulate_events
from hpe_ros.pipelines.registry import create_pipeline, pipeline_spec

SIZE = 64  # network input for the tests; the default (official) is 256
WINDOW_NS = 20_000_000


def _moving_pattern_windows(count: int = 4, width: int = 80, height: int = 64) -> list[EventWindow]:
    """Events of a bright square with a textured edge moving right, cut into 20 ms windows."""
    steps = 10 * (count + 1) + 1
    ys, xs = np.mgrid[0:height, 0:width]
    frames = []
    for i in range(steps):
        left = 8 + i
        inside = (xs >= left) & (xs < left + 20) & (ys >= 16) & (ys < 44)
        frames.append(np.where(inside, 200 + 40 * np.sin(ys / 3.0), 30).astype(np.uint8))
    stamps = 1_000_000_000 + np.arange(steps, dtype=np.int64) * 2_000_000  # 500 fps
    config = EventSimulatorConfig(contrast_pos=0.3, contrast_neg=0.3)
    events = simulate_events(np.stack(frames), stamps, config)
    windower = EventWindower(width, height, duration_ns=WINDOW_NS, frame_id="event_camera")
    windows = windower.add(events)
    assert len(windows) >= count
    return windows[:count]


@pytest.fixture(scope="module")
def windows() -> list[EventWindow]:
    return _moving_pattern_windows()


def _pipeline(**options: object) -> EventHPEPipeline:
    """torch unless asked: an ONNX Runtime pipeline exports both networks when it is made."""
    torch.manual_seed(0)
    options = {"input_size": SIZE, "backend": "torch", **options}
    return create_pipeline("eventhpe", options)  # type: ignore[return-value]


def test_registered_with_options_and_defaults() -> None:
    spec = pipeline_spec("eventhpe")
    assert spec.input_kind == "events"
    assert spec.defaults["input_size"] == 256 and spec.defaults["publish_vertices"] is True
    assert spec.defaults["publish_flow"] is False and spec.defaults["device"] == "cpu"
    for option in ("flownet_checkpoint", "shapenet_checkpoint", "smpl_model_path", "smpl_gender"):
        assert spec.defaults[option] in ("", "neutral")


def test_outputs_smpl24_joints_vertices_and_flow(windows: list[EventWindow]) -> None:
    pipeline = _pipeline(publish_flow=True)
    faces = pipeline.mesh_faces()
    assert faces is not None and faces.shape[1] == 3 and faces.max() < 6890
    for window in windows:
        result = pipeline.process(window)
        assert result.stamp_ns == window.stamp_ns and result.frame_id == "event_camera"
        assert len(result.people) == 1
        person = result.people[0]
        assert person.joint_set is SMPL_24
        assert person.joints_3d.shape == (24, 3) and np.isfinite(person.joints_3d).all()
        smpl = person.smpl
        assert smpl is not None
        assert smpl.betas.shape == (10,) and smpl.body_pose.shape == (24, 3)
        assert smpl.translation.shape == (3,)
        assert smpl.vertices is not None and smpl.vertices.shape == (6890, 3)
        np.testing.assert_allclose(smpl.joints, person.joints_3d)
        assert result.flow is not None and result.flow.shape == (window.height, window.width, 2)
        assert set(result.timings_s) == {"event_frames", "flownet", "shapenet", "smpl"}
    without = _pipeline(publish_vertices=False)
    result = without.process(windows[0])
    assert result.people[0].smpl.vertices is None and result.flow is None


def test_initial_state_is_an_upright_rest_pose_in_front_of_the_camera() -> None:
    pipeline = _pipeline(initial_pelvis="0.5, -0.25, 3")
    state = pipeline.initial_state()
    body = pipeline.smpl(pose=state.rotmats, betas=state.betas, translation=state.translation)
    joints = body.joints[0].numpy()
    np.testing.assert_allclose(joints[0], [0.5, -0.25, 3.0], atol=1e-6)
    head, left_ankle = SMPL_24.joint_names.index("head"), SMPL_24.joint_names.index("left_ankle")
    assert joints[head, 1] < joints[0, 1] < joints[left_ankle, 1]  # optical frame: y points down
    left_shoulder = SMPL_24.joint_names.index("left_shoulder")
    assert joints[left_shoulder, 0] > joints[0, 0]  # facing the camera: the body's left is the image's right


def test_stream_equals_shapenet_over_the_clip(windows: list[EventWindow]) -> None:
    """One step per window with the carried GRU and SMPL state == EventShapeNet over the whole clip."""
    pipeline = _pipeline(clip_steps=0)
    initial = pipeline.initial_state()
    streamed = [pipeline.process(w).people[0] for w in windows]

    frames = torch.stack([torch.from_numpy(pipeline.window_input(w).frames) for w in windows])[None]
    with torch.no_grad():
        flows = torch.stack([pipeline.flownet(f[None], 1.0).flow[0] for f in frames[0]])[None]
        pose = matrix_to_axis_angle(initial.rotmats[0]).reshape(1, 72)
        clip = pipeline.shapenet(frames, SMPLInitialState(initial.translation, pose, initial.betas), flows)
    for step, person in enumerate(streamed):
        np.testing.assert_allclose(person.joints_3d, clip.joints[0, step].numpy(), atol=2e-5)
        np.testing.assert_allclose(person.smpl.vertices, clip.vertices[0, step].numpy(), atol=2e-5)
    # the state moves from window to window (random weights still regress non-zero deltas)
    assert not np.allclose(streamed[0].joints_3d, streamed[1].joints_3d)


def test_gru_restarts_every_clip_steps_while_the_body_carries_on(windows: list[EventWindow]) -> None:
    pipeline = _pipeline(clip_steps=2)
    streamed = [pipeline.process(w).people[0] for w in windows[:3]]
    frames = torch.stack([torch.from_numpy(pipeline.window_input(w).frames) for w in windows[:3]])[None]
    with torch.no_grad():
        flows = torch.stack([pipeline.flownet(f[None], 1.0).flow[0] for f in frames[0]])[None]
        start = pipeline.initial_state()
        start_pose = matrix_to_axis_angle(start.rotmats[0]).reshape(1, 72)
        first = pipeline.shapenet(frames[:, :2], SMPLInitialState(start.translation, start_pose, start.betas),
                                  flows[:, :2])
        # the official long-sequence test: the next clip starts from the last estimate, GRU from zeros
        second = pipeline.shapenet(frames[:, 2:], SMPLInitialState(
            first.translation[:, -1], matrix_to_axis_angle(first.rotmats[0, -1]).reshape(1, 72), start.betas),
            flows[:, 2:])
    np.testing.assert_allclose(streamed[1].joints_3d, first.joints[0, 1].numpy(), atol=2e-5)
    np.testing.assert_allclose(streamed[2].joints_3d, second.joints[0, 0].numpy(), atol=1e-4)


def test_time_going_backwards_restarts_from_the_initial_state(windows: list[EventWindow]) -> None:
    pipeline = _pipeline()
    first = pipeline.process(windows[0]).people[0].joints_3d
    pipeline.process(windows[1])
    again = pipeline.process(windows[0]).people[0].joints_3d  # earlier stamp: a replayed stream
    np.testing.assert_allclose(again, first, atol=1e-6)


def test_window_is_split_into_equal_duration_intervals_of_eight_channels(windows: list[EventWindow]) -> None:
    events = windows[0].events
    halves = split_window(events, 2)
    assert sum(h.size for h in halves) == events.size
    middle = (int(events["t"][0]) + int(events["t"][-1])) // 2
    assert halves[0]["t"].max() <= middle < halves[1]["t"].min()
    pipeline = _pipeline()
    frames = pipeline.window_input(windows[0]).frames
    expected = eventhpe_frames(halves, windows[0].height, windows[0].width, pipeline.frame_config)
    assert frames.shape == (8, SIZE, SIZE) and np.array_equal(frames, expected) and frames.any()
    empty = windows[0].__class__(events[:0], 80, 64, windows[0].stamp_ns, "")
    assert not pipeline.window_input(empty).frames.any()


def _official_flownet_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    layer = {"conv1": "0", "bn1": "1", "conv2": "3", "bn2": "4"}
    out = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "flow_heads":
            out[f"flows.{parts[1]}.conv_block.0.weight"] = value
        elif parts[0] == "bottleneck":
            out[f"residual.conv_block.{layer[parts[1]]}.{'.'.join(parts[2:])}"] = value
        else:
            out[f"{parts[0]}.{parts[1]}.conv_block.{layer[parts[2]]}.{'.'.join(parts[3:])}"] = value
    return out


def _official_shapenet_state(network: dict[str, torch.nn.Module]) -> dict[str, torch.Tensor]:
    prefixes = {"encoder": "img_encoder.", "temporal": "tmp_encoder.", "pose_head": "regressor.decpose.",
                "translation_head": "regressor.dectrans."}
    return {prefixes[name] + key: value
            for name, module in network.items() for key, value in module.state_dict().items()}


def test_official_checkpoints_load_and_reproduce_outputs(windows: list[EventWindow], tmp_path: Path) -> None:
    source = _pipeline(publish_flow=True)
    for module in source.flownet.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
    source.flownet_backend, source.shapenet_backend = source.network_backends(source.backend)  # folded again
    flow_path, shape_path = tmp_path / "model_flow.pkl", tmp_path / "model_events_pose.pkl"
    torch.save(_official_flownet_state(source.flownet.state_dict()), flow_path)
    torch.save({"model_state_dict": _official_shapenet_state(source.shapenet.network_modules()),
                "optimizer_state_dict": {}}, shape_path)
    torch.manual_seed(123)  # different random init: only the checkpoints can make the outputs equal
    loaded = create_pipeline("eventhpe", {"input_size": SIZE, "flownet_checkpoint": str(flow_path),
                                          "shapenet_checkpoint": str(shape_path), "publish_flow": True,
                                          "backend": "torch"})
    assert loaded.describe()["flownet"] == str(flow_path) and "random" not in loaded.describe()["shapenet"]
    for window in windows[:2]:
        expected, got = source.process(window), loaded.process(window)
        np.testing.assert_array_equal(got.people[0].joints_3d, expected.people[0].joints_3d)
        np.testing.assert_array_equal(got.flow, expected.flow)


def test_bad_checkpoints_give_clear_errors(tmp_path: Path) -> None:
    corrupt = tmp_path / "model_flow.pkl"
    corrupt.write_bytes(b"this is not a torch checkpoint")
    with pytest.raises(CheckpointError, match=r"flownet_checkpoint \(.*model_flow\.pkl\): cannot read"):
        create_pipeline("eventhpe", {"input_size": SIZE, "flownet_checkpoint": str(corrupt)})
    with pytest.raises(CheckpointError, match="option shapenet_checkpoint .*not found"):
        create_pipeline("eventhpe", {"input_size": SIZE, "shapenet_checkpoint": str(tmp_path / "no.pkl")})
    wrong = tmp_path / "wrong_layout.pkl"
    torch.save({"model_state_dict": {"img_encoder.conv1.weight": torch.zeros(64, 3, 7, 7)}}, wrong)
    with pytest.raises(CheckpointError, match="option shapenet_checkpoint") as error:
        create_pipeline("eventhpe", {"input_size": SIZE, "shapenet_checkpoint": str(wrong)})
    assert "encoder.conv1.weight" in str(error.value)


def test_describe_and_warnings_say_random_weights_and_synthetic_smpl(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(eventhpe_module, "_warned", set())
    with pytest.warns(UserWarning) as caught:
        pipeline = create_pipeline("eventhpe", {"input_size": SIZE})
    messages = " ".join(str(w.message) for w in caught)
    assert "RANDOM weights" in messages and "synthetic SMPL" in messages
    facts = pipeline.describe()
    assert "random weights" in facts["flownet"] and "random weights" in facts["shapenet"]
    assert "synthetic" in facts["smpl"]


@pytest.mark.parametrize("options, message", [
    ({"input_size": 50}, "multiple of 16"),
    ({"initial_pelvis": "1, 2"}, "three numbers"),
    ({"intervals_per_window": 1}, "at least 2"),
    ({"smpl_model_path": "/nonexistent/smpl.pkl"}, "does not exist"),
])
def test_bad_options_are_refused(options: dict, message: str) -> None:
    with pytest.raises(Exception, match=message):
        EventHPEPipeline(**options)


def test_flow_to_sensor_undoes_the_square_padding() -> None:
    width, height, size = 64, 32, 32  # side 64 -> 32: each network pixel covers 2 x 2 sensor pixels
    network = np.full((2, size, size), np.nan, np.float32)
    top = (64 - height) // 2 * size // 64  # network rows 8..23 hold the sensor image
    network[:, top: top + height * size // 64] = 1.5
    flow = flow_to_sensor(network, width, height)
    assert flow.shape == (height, width, 2)
    np.testing.assert_allclose(flow, 3.0)  # no padding read; vectors scaled by side / size = 2
    ramp = np.arange(width, dtype=np.float32)[None].repeat(height, 0)
    there = pad_square_resize_nearest(ramp[None], size)[0]
    back = flow_to_sensor(np.stack([there, there]), width, height)[..., 0] / 2
    assert np.abs(back - ramp).max() <= 1.0  # nearest neighbour both ways: within one sensor pixel


def test_flow_to_rgb_colour_wheel() -> None:
    flow = np.array([[[0, 0], [2, 0], [-2, 0], [0, 2], [1, 0]]], np.float32)
    rgb = flow_to_rgb(flow)
    assert rgb.shape == (1, 5, 3) and rgb.dtype == np.uint8
    assert rgb[0, 0].tolist() == [255, 255, 255]  # no motion: white
    assert rgb[0, 1].tolist() == [255, 0, 0]  # +x at full magnitude: red
    assert rgb[0, 2].tolist() == [0, 255, 255]  # -x: cyan
    assert rgb[0, 3].tolist() == [128, 255, 0]  # +y (down): between yellow and green
    assert rgb[0, 4].tolist() == [255, 128, 128]  # half magnitude: half saturation
    assert flow_to_rgb(np.zeros((2, 2, 2))).min() == 255


def test_metric_only_while_the_pelvis_is_plausible(windows: list[EventWindow]) -> None:
    """Random weights drift the pelvis by metres per window: those skeletons are not flagged metric."""
    pipeline = _pipeline()
    results = [pipeline.process(window) for window in windows]
    pelvis = np.array([r.people[0].joints_3d[0] for r in results])
    stamps = np.array([w.stamp_ns for w in windows])
    speeds = np.linalg.norm(np.diff(pelvis, axis=0), axis=1) / (np.diff(stamps) * 1e-9)
    assert speeds.max() > MAX_ROOT_SPEED_MPS  # the drift the check is for (random weights)
    flags = [r.people[0].metric for r in results]
    expected = [plausible_root(pelvis[0], None, None, int(stamps[0]))] + [
        plausible_root(pelvis[k], pelvis[k - 1], int(stamps[k - 1]), int(stamps[k]))
        for k in range(1, len(windows))]
    assert flags == expected and not all(flags)
    assert pipeline.implausible == flags.count(False)
    assert pipeline.describe()["not metric (implausible root)"].startswith(f"{flags.count(False)} ")


def test_plausible_root_bounds_depth_and_speed() -> None:
    ms = 1_000_000
    assert plausible_root(np.array([0.0, 0.0, 4.0]), None, None, 0)
    assert not plausible_root(np.array([0.0, 0.0, 0.1]), None, None, 0)  # behind the lens
    assert not plausible_root(np.array([0.0, 0.0, 40.0]), None, None, 0)
    assert not plausible_root(np.array([0.0, np.nan, 4.0]), None, None, 0)
    before = np.array([0.0, 0.0, 4.0])
    assert plausible_root(np.array([0.1, 0.0, 4.0]), before, 0, 50 * ms)  # 2 m/s
    assert not plausible_root(np.array([0.0, 0.0, 4.2]), before, 0, 50 * ms)  # 4 m/s: 4 m to 8 m in 1 s
    assert not plausible_root(np.array([0.0, 0.0, 4.1]), before, 50 * ms, 50 * ms)  # moved in no time


# ONNX Runtime against torch: float32 rounding, carried over the tracked state of 4 windows
ORT_ATOL = {"joints_3d": 1e-4, "vertices": 1e-4, "flow": 1e-4}


def test_onnxruntime_backend_gives_torchs_outputs_within_tolerance(windows: list[EventWindow]) -> None:
    pytest.importorskip("onnxruntime")
    reference = _pipeline(publish_flow=True)
    pipeline = _pipeline(publish_flow=True, backend="onnxruntime")
    assert pipeline.backend == "onnxruntime" and "backend=onnxruntime" in pipeline.describe()["backend"]
    for window in windows:
        expected, got = reference.process(window), pipeline.process(window)
        want, have = expected.people[0], got.people[0]
        np.testing.assert_allclose(have.joints_3d, want.joints_3d, atol=ORT_ATOL["joints_3d"], rtol=0)
        np.testing.assert_allclose(have.smpl.vertices, want.smpl.vertices, atol=ORT_ATOL["vertices"], rtol=0)
        flow_atol = ORT_ATOL["flow"] * max(float(np.abs(expected.flow).max()), 1.0)
        np.testing.assert_allclose(got.flow, expected.flow, atol=flow_atol, rtol=0)


def test_folded_batchnorms_give_the_networks_outputs(windows: list[EventWindow]) -> None:
    pipeline = _pipeline()
    for module in pipeline.shapenet.modules():  # non-trivial statistics, so that folding matters
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_var.uniform_(0.5, 2.0)
    folded = pipeline.network_backends("torch")
    unfolded = pipeline.network_backends("torch", fold=False)
    frames = torch.from_numpy(pipeline.window_input(windows[1]).frames)[None]
    flow_folded, flow_unfolded = folded[0](frames)[0], unfolded[0](frames)[0]
    torch.testing.assert_close(flow_folded, flow_unfolded, atol=1e-4, rtol=1e-4)
    hidden = torch.randn(1, pipeline.shapenet.temporal.gru.hidden_size) * 0.1
    inputs = (frames, flow_folded, hidden)
    for a, b in zip(folded[1](*inputs), unfolded[1](*inputs), strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    with torch.no_grad():
        direct = pipeline.flownet(frames, 1.0).flow
    torch.testing.assert_close(flow_unfolded, direct)
