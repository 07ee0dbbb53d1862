"""EventHPE's FlowNet and ShapeNet step in INT8 on ONNX Runtime (``eventhpe.backend: onnxruntime-int8``).

Both networks are exported with their BatchNorms folded and statically quantised at start-up
(:mod:`hpe_ros.pipelines.backends.quantize`: convolutions int8, per channel, Q/DQ; ConvTranspose,
the GRU and the heads stay fp32). Activation ranges are calibrated on event frames:

* by default :func:`simulated_calibration_windows`, a fixed set of simulated windows (textured
  shapes moving in several directions and speeds over a 346 x 260 sensor, 50 ms each), the same
  on every start-up;
* or the frames in ``eventhpe.int8_calibration``, an ``.npz`` whose ``frames`` array is
  ``(N, 8, S, S)`` event frames as :meth:`EventHPEPipeline.window_input` makes them (write one
  with :func:`save_calibration_frames` from windows of your own sensor and scenes).

ShapeNet's calibration inputs are what the stream gives it: the fp32 FlowNet's flow of each
frame, and the hidden state carried from the frame before (zeros every ``clip_steps``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from hpe_ros.pipelines.backends.quantize import int8_backend_from_module
from hpe_ros.pipelines.backends.runtime import Backend
from hpe_ros.pipelines.base import EventWindow
from hpe_ros.pipelines.events.representations import EventWindower
from hpe_ros.pipelines.events.simulator import EventSimulatorConfig, simulate_events

CALIBRATION_WINDOWS = 8
SENSOR_SIZE = (346, 260)  # DAVIS346, as the official EventHPE data
WINDOW_NS = 50_000_000
# (x, y) pixels per 5 ms frame of each simulated scene; two windows each
_MOTIONS = ((2.0, 0.0), (0.0, 1.5), (-0.6, 0.4), (3.0, -2.0))  # sparse to dense windows


@dataclass
class CalibrationSet:
    """One run's inputs per calibration frame, for each network."""

    flownet: list[list[Tensor]]  # [events]
    shapenet: list[list[Tensor]]  # [frames, flow, hidden]


def simulated_calibration_windows(count: int = CALIBRATION_WINDOWS) -> list[EventWindow]:
    """``count`` deterministic windows of simulated events: a textured rectangle and a disc moving over
    a 346 x 260 sensor, each pair of windows with another motion."""
    width, height = SENSOR_SIZE
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    windows: list[EventWindow] = []
    per_motion = -(-count // len(_MOTIONS))
    frames_per_window = WINDOW_NS // 5_000_000
    for index, (vx, vy) in enumerate(_MOTIONS):
        images, stamps = [], []
        for step in range(per_motion * frames_per_window + 2):
            dx, dy = vx * step, vy * step
            box = (abs(xs - 120 - dx) < 40) & (abs(ys - 130 - dy) < 70)
            disc = (xs - 230 + dx) ** 2 + (ys - 110 + dy) ** 2 < 35**2
            texture = 170 + 70 * np.sin((ys - dy) / (3.0 + index)) * np.cos((xs - dx) / 5.0)
            image = np.where(box, texture, np.where(disc, 220 - 0.5 * texture, 40.0))
            images.append(image.astype(np.uint8))
            stamps.append(step * 5_000_000)
        config = EventSimulatorConfig(noise_rate_hz=2.0, seed=index)
        events = simulate_events(np.stack(images), np.array(stamps), config)
        windows += EventWindower(width, height, duration_ns=WINDOW_NS).add(events)[:per_motion]
    return windows[:count]


def save_calibration_frames(path: str | os.PathLike[str], frames: np.ndarray) -> Path:
    """Write ``(N, C, S, S)`` event frames as a calibration file for ``eventhpe.int8_calibration``."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[2] != frames.shape[3] or len(frames) == 0:
        raise ValueError(f"calibration frames must be (N, C, S, S) with N >= 1, got {frames.shape}")
    path = Path(path)
    np.savez_compressed(path, frames=frames.astype(np.uint8))
    return path


def load_calibration_frames(path: str | os.PathLike[str], channels: int, size: int) -> np.ndarray:
    """The ``frames`` of a calibration ``.npz`` as float32 ``(N, channels, size, size)``; a ValueError
    naming the option when the file does not hold such frames."""
    where = f"option int8_calibration ({path})"
    if not Path(path).is_file():
        raise FileNotFoundError(f"{where}: no such file")
    with np.load(path) as archive:
        if "frames" not in archive:
            raise ValueError(f"{where}: no 'frames' array (see hpe_ros.pipelines.events.int8)")
        frames = archive["frames"]
    if frames.ndim != 4 or frames.shape[1:] != (channels, size, size) or len(frames) == 0:
        raise ValueError(
            f"{where}: frames are {frames.shape}, the networks take (N, {channels}, {size}, {size}) "
            "(input_size and the 8 event channels must match)"
        )
    return frames.astype(np.float32)


def calibration_inputs(
    frames: np.ndarray, flow_step: nn.Module, shape_step: nn.Module, hidden_size: int, clip_steps: int
) -> CalibrationSet:
    """Both networks' inputs for ``frames`` taken as consecutive windows of one stream (fp32 torch)."""
    events = [torch.from_numpy(np.ascontiguousarray(f, dtype=np.float32))[None] for f in frames]
    hidden = torch.zeros(1, hidden_size)
    shapenet = []
    with torch.inference_mode():
        for index, frame in enumerate(events):
            if clip_steps and index % clip_steps == 0:
                hidden = torch.zeros(1, hidden_size)
            flow = flow_step(frame)
            shapenet.append([frame, flow, hidden])
            hidden = shape_step(frame, flow, hidden)[2]
    return CalibrationSet(flownet=[[frame] for frame in events], shapenet=shapenet)


def int8_network_backends(
    flow_step: nn.Module,
    shape_step: nn.Module,
    frames: np.ndarray,
    hidden_size: int,
    clip_steps: int,
    threads: int = 0,
    op_types: Sequence[str] = ("Conv",),
) -> tuple[Backend, Backend]:
    """FlowNet's and ShapeNet's step (fp32 torch modules, BatchNorms folded) quantised on ``frames``."""
    calibration = calibration_inputs(frames, flow_step, shape_step, hidden_size, clip_steps)
    return (
        int8_backend_from_module(flow_step, calibration.flownet, threads=threads, op_types=op_types),
        int8_backend_from_module(shape_step, calibration.shapenet, threads=threads, op_types=op_types),
    )


__all__ = [
    "CALIBRATION_WINDOWS",
    "CalibrationSet",
    "calibration_inputs",
    "int8_network_backends",
    "load_calibration_frames",
    "save_calibration_frames",
    "simulated_calibration_windows",
]
