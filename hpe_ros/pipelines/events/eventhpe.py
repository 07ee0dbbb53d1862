"""EventHPE as a streaming pipeline: event windows -> event frames -> FlowNet -> ShapeNet -> SMPL.

One event window is one step of EventHPE's tracker (Zou et al., ICCV 2021):

1. The window's events are cut into ``intervals_per_window`` intervals of equal duration (the
   official step spans 2 gray-frame intervals, ``skip = 2``), each into 4 binary partitions,
   padded to a square, resized to ``input_size`` and OR-pooled into 8 channels
   (:func:`hpe_ros.pipelines.events.representations.eventhpe_frames`).
2. FlowNet predicts the flow of those 8 channels at full network resolution with ``dt = 1`` (one
   step, as the official flow for ``skip = 2``).
3. ShapeNet encodes events + flow (10 channels) with its ResNet-50, advances its GRU by one step
   from the hidden state of the previous window, and regresses a delta rotation per joint and a
   delta translation, applied to the SMPL state of the previous window (``R = dR @ R_prev``,
   ``t = t_prev + dt``): exactly what :class:`~hpe_ros.models.eventhpe.EventShapeNet` does over a
   clip, one step at a time.
4. SMPL poses the body; joints and vertices are in the camera optical frame, metres.

Stream state. The tracker starts from :meth:`EventHPEPipeline.initial_state`: the SMPL rest pose
(a T-pose, mean shape) turned upright and facing the camera (global orientation 180 degrees
about x, see :data:`hpe_ros.models.smpl.Y_UP_TO_OPTICAL`) with its pelvis at ``initial_pelvis``
(camera frame, metres; default 4 m straight ahead). The official model was trained to track 8
steps from a known state with a zero GRU state, and its long-sequence test restarts the GRU
every 8 steps from the last estimate; ``clip_steps`` (default 8) does the same: every
``clip_steps`` windows the GRU hidden state goes back to zeros while the SMPL state carries on
(0: never). Time going backwards (a bag played again) restarts from the initial state.

``metric``. The tracked translation makes the joints absolute in the camera frame, but nothing
ties it to the scene: a tracker that drifts (always, with random weights) still outputs
positions. A skeleton is flagged ``metric`` only while its pelvis is plausible: depth within
:data:`ROOT_DEPTH_RANGE_M` and, from the previous window, moving no faster than
:data:`MAX_ROOT_SPEED_MPS`. Others go out root-relative in meaning (``metric`` false, the
positions as tracked) and are counted (``not metric (implausible root)`` in :meth:`describe`).

``backend``. FlowNet and ShapeNet's step (encoder, GRU step, heads: :class:`ShapeNetStep`) run
with their BatchNorms folded into the convolutions, on ``torch`` or ``onnxruntime`` (exported at
start-up, in memory) or ``tensorrt`` (see :mod:`hpe_ros.pipelines.backends.runtime`); ``auto``
is ONNX Runtime on a CPU when it is installed, torch on CUDA. ONNX Runtime gives torch's outputs
within float32 rounding (tested: flow, delta rotations, translation and hidden state).
``onnxruntime-int8`` (opt-in, CPU only) runs both with int8 convolutions, quantised at start-up
and calibrated on ``int8_calibration`` or a fixed simulated set (:mod:`hpe_ros.pipelines.events.int8`):
faster, and no longer within rounding of fp32 (measured differences in docs/performance.md).

Without trained EventHPE weights (``flownet_checkpoint`` / ``shapenet_checkpoint`` empty) the
networks have random weights: the output has the right form and nothing else. Without a SMPL
file (``smpl_model_path`` empty) the synthetic SMPL-format stand-in is used, which is not a
human body. Both are said once as a warning and always in :meth:`EventHPEPipeline.describe`.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from hpe_ros.core.joints import SMPL_24
from hpe_ros.models.checkpoints import CheckpointError
from hpe_ros.models.convert_eventhpe import (
    SMPLCheckpointMismatchError,
    load_flownet_state,
    load_shapenet_state,
)
from hpe_ros.models.eventhpe import NUM_SMPL_JOINTS, EventFlowNet, EventShapeNet, contiguous_rot6d_to_matrix
from hpe_ros.models.fuse import ModuleT, optimize_for_inference
from hpe_ros.models.rotations import matrix_to_axis_angle
from hpe_ros.models.smpl import Y_UP_TO_OPTICAL, SMPLModel
from hpe_ros.models.smpl_file import normalise_gender
from hpe_ros.models.smpl_synthetic import make_synthetic_smpl
from hpe_ros.pipelines.backends.quantize import INT8_BACKEND
from hpe_ros.pipelines.backends.runtime import (
    BACKENDS,
    Backend,
    OnnxRuntimeBackend,
    create_backend,
    resolve_backend,
)
from hpe_ros.pipelines.base import EventWindow, PersonPose, Pipeline, PoseResult, SMPLEstimate
from hpe_ros.pipelines.events.int8 import (
    int8_network_backends,
    load_calibration_frames,
    simulated_calibration_windows,
)
from hpe_ros.pipelines.events.representations import EventHPEFrameConfig, eventhpe_frames

RANDOM_WEIGHTS_WARNING = (
    "EventHPE runs with RANDOM weights ({which} checkpoint not set): its joints and meshes mean nothing. "
    "Set eventhpe.flownet_checkpoint and eventhpe.shapenet_checkpoint to the official model_flow.pkl / "
    "model_events_pose.pkl."
)
SYNTHETIC_SMPL_WARNING = (
    "EventHPE uses the synthetic SMPL-format stand-in (eventhpe.smpl_model_path not set): it is not a human "
    "body model. Set eventhpe.smpl_model_path to your SMPL file (the official ShapeNet was trained with "
    "basicModel_m_lbs_10_207_0_v1.0.0.pkl)."
)
_warned: set[str] = set()

# A pelvis that is a person's: in front of the camera within this depth (m), and moving no faster
# than a jogging person between two windows (m/s). Random weights drift at tens of m/s.
ROOT_DEPTH_RANGE_M = (0.3, 15.0)
MAX_ROOT_SPEED_MPS = 3.0


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        warnings.warn(message, UserWarning, stacklevel=3)


def parse_vector3(text: str, name: str) -> np.ndarray:
    """``"x,y,z"`` (commas and/or spaces) -> (3,) float64; a ValueError naming the option otherwise."""
    parts = text.replace(",", " ").split()
    try:
        values = np.array([float(p) for p in parts], dtype=np.float64)
    except ValueError:
        values = np.empty(0)
    if values.shape != (3,) or not np.isfinite(values).all():
        raise ValueError(f"option {name} must be three numbers 'x,y,z', got {text!r}")
    return values


@dataclass
class TrackingState:
    """What carries from one window to the next (batch of one)."""

    rotmats: torch.Tensor  # (1, 24, 3, 3) local joint rotations, global orientation first, optical frame
    translation: torch.Tensor  # (1, 3) SMPL translation, metres
    betas: torch.Tensor  # (1, 10) shape, fixed over the stream
    hidden: torch.Tensor  # (layers, 1, hidden) GRU state
    steps_in_clip: int = 0  # windows since the GRU state was last reset
    last_stamp_ns: int | None = None
    last_pelvis: np.ndarray | None = None  # (3,) metres, of the previous window


@dataclass(frozen=True)
class WindowInput:
    """The network inputs of one window."""

    frames: np.ndarray  # (8, S, S) float32 binary event frames
    intervals: int


def split_window(events: np.ndarray, intervals: int) -> list[np.ndarray]:
    """Cut time-sorted events into ``intervals`` slices of equal duration, first to last event."""
    if events.size == 0:
        return [events] * intervals
    t = events["t"]
    start, span = int(t[0]), int(t[-1]) - int(t[0])
    edges = start + (np.arange(1, intervals) * span) // intervals
    return np.split(events, np.searchsorted(t, edges, side="right"))


def plausible_root(pelvis: np.ndarray, previous: np.ndarray | None, previous_stamp_ns: int | None,
                   stamp_ns: int) -> bool:
    """Whether a tracked pelvis (camera frame, m) can be a person's: depth in range, speed bounded."""
    if not (np.all(np.isfinite(pelvis)) and ROOT_DEPTH_RANGE_M[0] <= pelvis[2] <= ROOT_DEPTH_RANGE_M[1]):
        return False
    if previous is None or previous_stamp_ns is None:
        return True
    dt_s = (stamp_ns - previous_stamp_ns) * 1e-9
    step_m = float(np.linalg.norm(pelvis - previous))
    return step_m <= MAX_ROOT_SPEED_MPS * dt_s if dt_s > 0 else step_m == 0.0


def flow_to_sensor(flow: np.ndarray, width: int, height: int) -> np.ndarray:
    """(2, S, S) network flow of the padded square -> (H, W, 2) flow in sensor pixels.

    Inverse of :func:`~hpe_ros.pipelines.events.representations.pad_square_resize_nearest`: each sensor pixel
    reads the network pixel its padded position falls in; vectors scale by ``side / S``.
    """
    size = flow.shape[-1]
    side = max(width, height)
    top, left = (side - height) // 2, (side - width) // 2
    rows = np.minimum((np.arange(height) + top) * size // side, size - 1)
    cols = np.minimum((np.arange(width) + left) * size // side, size - 1)
    sampled = flow[:, rows[:, None], cols[None, :]] * (side / size)
    return np.ascontiguousarray(np.moveaxis(sampled, 0, -1), dtype=np.float32)


def flow_to_rgb(flow: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """(H, W, 2) flow -> (H, W, 3) uint8 on the HSV colour wheel (Middlebury style).

    Hue is the direction (0 degrees = +x, red; 90 = +y, down in the image), saturation the
    magnitude relative to ``max_magnitude`` (default: the largest in the image), value 1:
    no motion is white.
    """
    u, v = flow[..., 0].astype(np.float64), flow[..., 1].astype(np.float64)
    magnitude = np.hypot(u, v)
    scale = float(magnitude.max()) if max_magnitude is None else float(max_magnitude)
    saturation = np.clip(magnitude / scale, 0.0, 1.0) if scale > 0 else np.zeros_like(magnitude)
    hue = (np.arctan2(v, u) / (2 * np.pi)) % 1.0 * 6.0  # sector 0..6
    sector = np.floor(hue).astype(np.int64) % 6
    fraction = hue - np.floor(hue)
    # HSV -> RGB with V = 1: p = 1 - S, q = 1 - S f, t = 1 - S (1 - f)
    p, q, t = 1.0 - saturation, 1.0 - saturation * fraction, 1.0 - saturation * (1.0 - fraction)
    one = np.ones_like(saturation)
    table = np.stack([
        np.stack([one, t, p], -1), np.stack([q, one, p], -1), np.stack([p, one, t], -1),
        np.stack([p, q, one], -1), np.stack([t, p, one], -1), np.stack([one, p, q], -1),
    ])  # (6, H, W, 3)
    rgb = np.take_along_axis(table, sector[None, ..., None], axis=0)[0]
    return np.rint(rgb * 255.0).astype(np.uint8)


class FlowNetStep(nn.Module):
    """FlowNet as the pipeline runs it: ``events (B, 8, S, S)`` -> full-resolution flow ``(B, 2, S, S)``
    at ``dt = 1``."""

    def __init__(self, flownet: nn.Module) -> None:
        super().__init__()
        self.flownet = flownet

    def forward(self, events: Tensor) -> Tensor:
        return self.flownet(events, 1.0).flow


class ShapeNetStep(nn.Module):
    """One window of ShapeNet as the pipeline runs it (:meth:`EventHPEPipeline.step`).

    ``(frames (B, C, S, S), flow (B, 2, S, S), hidden (B, H))`` -> ``(delta rotations (B, 24, 3, 3),
    delta translation (B, 3), new hidden (B, H))``; the caller composes the deltas with its state.
    """

    def __init__(self, shapenet: EventShapeNet) -> None:
        super().__init__()
        if shapenet.temporal.gru.num_layers != 1:
            raise ValueError("ShapeNetStep runs a one-layer GRU (the official ShapeNet's)")
        self.encoder = shapenet.encoder
        self.temporal = shapenet.temporal
        self.pose_head = shapenet.pose_head
        self.translation_head = shapenet.translation_head

    def forward(self, frames: Tensor, flow: Tensor, hidden: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        feature = self.encoder(torch.cat([frames, flow], dim=1))
        out, new_hidden = self.temporal.gru(feature[:, None], hidden[None])
        temporal = out[:, 0] + feature if self.temporal.use_residual else out[:, 0]
        delta = contiguous_rot6d_to_matrix(self.pose_head(temporal).reshape(-1, NUM_SMPL_JOINTS, 6))
        return delta, self.translation_head(temporal), new_hidden[0]


class EventHPEPipeline(Pipeline[EventWindow]):
    """Event windows -> one tracked SMPL body per window (see the module docstring)."""

    name = "eventhpe"
    input_kind = "events"

    def __init__(
        self,
        flownet_checkpoint: str = "",
        shapenet_checkpoint: str = "",
        smpl_model_path: str = "",
        smpl_gender: str = "neutral",
        device: str = "cpu",
        publish_vertices: bool = True,
        publish_flow: bool = False,
        input_size: int = 256,
        intervals_per_window: int = 2,
        clip_steps: int = 8,
        initial_pelvis: str = "0.0,0.0,4.0",
        backend: str = "auto",
        int8_calibration: str = "",
    ) -> None:
        if input_size <= 0 or input_size % 16:
            raise ValueError(f"option input_size must be a positive multiple of 16, got {input_size}")
        if intervals_per_window < 2:
            raise ValueError("option intervals_per_window must be at least 2 (4 partitions each, 8 channels)")
        if clip_steps < 0:
            raise ValueError(f"option clip_steps must be >= 0, got {clip_steps}")
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"option device is {device!r} but torch sees no CUDA device")
        self.device = torch.device(device)
        self.publish_vertices, self.publish_flow = bool(publish_vertices), bool(publish_flow)
        self.frame_config = EventHPEFrameConfig(out_size=int(input_size))
        self.intervals_per_window = int(intervals_per_window)
        self.clip_steps = int(clip_steps)
        self.initial_pelvis = parse_vector3(initial_pelvis, "initial_pelvis")
        self._facts: dict[str, str] = {}
        self.implausible = 0  # skeletons not flagged metric: their pelvis failed the plausibility check

        if smpl_model_path:
            smpl = SMPLModel.from_file(smpl_model_path, gender=normalise_gender(smpl_gender))
            self._facts["smpl"] = f"{smpl_model_path} ({smpl.gender})"
        else:
            _warn_once(SYNTHETIC_SMPL_WARNING)
            smpl = SMPLModel(make_synthetic_smpl())
            self._facts["smpl"] = "synthetic stand-in (not a human body model; set smpl_model_path)"

        self.flownet = EventFlowNet(in_channels=self.frame_config.channels)
        self.shapenet = EventShapeNet(smpl, event_channels=self.frame_config.channels, use_flow=True)
        self._load("flownet", flownet_checkpoint,
                   lambda: load_flownet_state(self.flownet, flownet_checkpoint))
        self._load("shapenet", shapenet_checkpoint,
                   lambda: load_shapenet_state(self.shapenet, shapenet_checkpoint))
        missing = [name for name, path in (("flownet", flownet_checkpoint), ("shapenet", shapenet_checkpoint))
                   if not path]
        if missing:
            _warn_once(RANDOM_WEIGHTS_WARNING.format(which=" and ".join(missing)))
        self.flownet.to(self.device).eval()
        self.shapenet.to(self.device).eval()
        self.smpl = smpl
        if backend not in (*BACKENDS, INT8_BACKEND):
            raise ValueError(f"option backend must be one of {(*BACKENDS, INT8_BACKEND)}, got {backend!r}")
        if backend == INT8_BACKEND and self.device.type != "cpu":
            raise ValueError(f"option backend {INT8_BACKEND} runs on the CPU, but device is {device!r}")
        self.int8_calibration = str(int8_calibration)
        self.backend = backend if backend == INT8_BACKEND else resolve_backend(backend, device)
        self.flownet_backend, self.shapenet_backend = self.network_backends(self.backend)
        self._faces = smpl.faces.cpu().numpy().astype(np.int64)
        self.state = self.initial_state()

    def _load(self, which: str, path: str, load: Callable[[], None]) -> None:
        if not path:
            self._facts[which] = "random weights (numbers mean nothing without trained EventHPE weights)"
            return
        try:
            load()
        except SMPLCheckpointMismatchError as error:
            raise CheckpointError(
                f"option {which}_checkpoint ({path}): {error}\nset smpl_model_path to the SMPL model the "
                "checkpoint was trained with (the official ShapeNet: basicModel_m_lbs_10_207_0_v1.0.0.pkl, "
                "male)"
            ) from error
        except CheckpointError as error:
            raise CheckpointError(f"option {which}_checkpoint ({path}): {error}") from error
        self._facts[which] = path

    def network_backends(self, backend: str, fold: bool = True) -> tuple[Backend, Backend]:
        """FlowNet's and ShapeNet's step on ``backend`` (BatchNorms folded unless ``fold`` is False).

        The pipeline makes them once, from the networks as loaded: after changing the networks'
        weights, make them again. ONNX Runtime on the CPU gets as many threads as torch has."""
        size = self.frame_config.out_size
        frames = torch.zeros(1, self.frame_config.channels, size, size, device=self.device)
        flow = torch.zeros(1, 2, size, size, device=self.device)
        hidden = torch.zeros(1, self.shapenet.temporal.gru.hidden_size, device=self.device)
        device = str(self.device)

        def runner(step: nn.Module, inputs: list[Tensor]) -> Backend:
            if backend == "onnxruntime" and self.device.type == "cpu":
                return OnnxRuntimeBackend.from_module(step, inputs, threads=torch.get_num_threads())
            return create_backend(backend, step, inputs, device=device)

        def prepared(module: ModuleT) -> ModuleT:
            return optimize_for_inference(module, channels_last=False, fold=fold)

        if backend == INT8_BACKEND:
            return int8_network_backends(
                FlowNetStep(prepared(self.flownet)), ShapeNetStep(prepared(self.shapenet)),
                self.calibration_frames(), self.shapenet.temporal.gru.hidden_size, self.clip_steps,
                threads=torch.get_num_threads(),
            )  # fmt: skip
        return (runner(FlowNetStep(prepared(self.flownet)), [frames]),
                runner(ShapeNetStep(prepared(self.shapenet)), [frames, flow, hidden]))

    def calibration_frames(self) -> np.ndarray:
        """INT8 calibration frames (N, 8, S, S): ``int8_calibration``'s, else the fixed simulated set's."""
        channels, size = self.frame_config.channels, self.frame_config.out_size
        if self.int8_calibration:
            return load_calibration_frames(self.int8_calibration, channels, size)
        return np.stack([self.window_input(window).frames for window in simulated_calibration_windows()])

    # ---- state ---------------------------------------------------------------------------------
    def initial_state(self) -> TrackingState:
        """Rest pose, mean shape, upright and facing the camera, pelvis at ``initial_pelvis``."""
        smpl = self.shapenet.smpl
        dtype = smpl.v_template.dtype
        betas = torch.zeros(1, 10, dtype=dtype, device=self.device)
        rotmats = torch.eye(3, dtype=dtype, device=self.device).repeat(1, 24, 1, 1)
        rotmats[:, 0] = Y_UP_TO_OPTICAL.to(dtype=dtype, device=self.device)
        # every SMPL point is R_0 (X - J_0) + J_0 + t: the pelvis (joint 0) sits at J_0 + t
        root_rest = smpl.rest_joints(betas)[:, 0]
        pelvis = torch.as_tensor(self.initial_pelvis, dtype=dtype, device=self.device)[None]
        gru = self.shapenet.temporal.gru
        hidden = torch.zeros(gru.num_layers, 1, gru.hidden_size, dtype=dtype, device=self.device)
        return TrackingState(rotmats=rotmats, translation=pelvis - root_rest, betas=betas, hidden=hidden)

    def reset(self) -> None:
        """Start tracking again from the initial state."""
        self.state = self.initial_state()

    # ---- per window ----------------------------------------------------------------------------
    def window_input(self, window: EventWindow) -> WindowInput:
        intervals = split_window(window.events, self.intervals_per_window)
        frames = eventhpe_frames(intervals, window.height, window.width, self.frame_config)
        return WindowInput(frames=frames, intervals=len(intervals))

    @torch.no_grad()
    def step(self, frames: torch.Tensor, flow: torch.Tensor) -> None:
        """Advance :attr:`state` by one step from (1, 8, S, S) events and (1, 2, S, S) flow."""
        state = self.state
        if self.clip_steps and state.steps_in_clip >= self.clip_steps:
            state.hidden = torch.zeros_like(state.hidden)
            state.steps_in_clip = 0
        delta_rotmats, delta_translation, hidden = self.shapenet_backend(frames, flow, state.hidden[0])
        like = state.rotmats
        state.hidden = hidden.to(like)[None]
        state.rotmats = delta_rotmats.to(like) @ state.rotmats
        state.translation = state.translation + delta_translation.to(like)
        state.steps_in_clip += 1

    def process(self, frame: EventWindow) -> PoseResult:
        result = PoseResult(stamp_ns=frame.stamp_ns, frame_id=frame.frame_id, image_size=frame.size)
        if self.state.last_stamp_ns is not None and frame.stamp_ns < self.state.last_stamp_ns:
            self.reset()  # time went backwards: a new stream
        previous_stamp_ns = self.state.last_stamp_ns
        self.state.last_stamp_ns = frame.stamp_ns

        started = time.perf_counter()
        frames = torch.from_numpy(self.window_input(frame).frames)[None].to(self.device)
        result.timings_s["event_frames"] = time.perf_counter() - started

        started = time.perf_counter()
        flow = self.flownet_backend(frames)[0].to(self.device)
        result.timings_s["flownet"] = time.perf_counter() - started

        started = time.perf_counter()
        self.step(frames, flow)
        result.timings_s["shapenet"] = time.perf_counter() - started

        started = time.perf_counter()
        state = self.state
        with torch.no_grad():
            body = self.smpl(pose=state.rotmats, betas=state.betas, translation=state.translation)
        joints = body.joints[0, :24].double().cpu().numpy()
        vertices = body.vertices[0].double().cpu().numpy() if self.publish_vertices else None
        body_pose = matrix_to_axis_angle(state.rotmats[0]).double().cpu().numpy()
        result.timings_s["smpl"] = time.perf_counter() - started

        smpl = SMPLEstimate(
            betas=state.betas[0].double().cpu().numpy(),
            body_pose=body_pose,
            translation=state.translation[0].double().cpu().numpy(),
            joints=joints,
            vertices=vertices,
            gender=self.smpl.gender if self.smpl.gender in ("neutral", "male", "female") else "neutral",
        )
        plausible = plausible_root(joints[0], state.last_pelvis, previous_stamp_ns, frame.stamp_ns)
        state.last_pelvis = joints[0].copy()
        if not plausible:
            self.implausible += 1
        result.people.append(PersonPose(
            joint_set=SMPL_24,
            joints_3d=joints.copy(),
            confidence=np.ones(24, np.float32),
            metric=plausible,  # absolute in the camera frame from the tracked translation, when plausible
            root_confidence=1.0,
            smpl=smpl,
        ))
        if self.publish_flow:
            result.flow = flow_to_sensor(flow[0].float().cpu().numpy(), frame.width, frame.height)
        return result

    # ---- contract ------------------------------------------------------------------------------
    def describe(self) -> dict[str, str]:
        size = self.frame_config.out_size
        return {
            "pipeline": self.name,
            "flownet": self._facts["flownet"],
            "shapenet": self._facts["shapenet"],
            "smpl": self._facts["smpl"],
            "device": str(self.device),
            "backend": ", ".join(f"{k}={v}" for k, v in self.shapenet_backend.describe().items()),
            "input": f"{self.frame_config.channels} x {size} x {size} event frames, "
                     f"{self.intervals_per_window} intervals per window",
            "tracking": f"GRU state reset every {self.clip_steps or 'never'} windows; "
                        f"start: rest pose, pelvis at {tuple(float(v) for v in self.initial_pelvis)} m",
            "not metric (implausible root)": f"{self.implausible} (depth outside {ROOT_DEPTH_RANGE_M[0]:g}.."
                                             f"{ROOT_DEPTH_RANGE_M[1]:g} m or faster than "
                                             f"{MAX_ROOT_SPEED_MPS:g} m/s)",
        }

    def mesh_faces(self) -> np.ndarray | None:
        return self._faces

    def close(self) -> None:
        self.flownet = self.shapenet = None  # type: ignore[assignment]
        self.flownet_backend = self.shapenet_backend = None  # type: ignore[assignment]
