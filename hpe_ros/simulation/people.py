"""Made-up people for demos and tests: a walking H36M-17 skeleton and stick-figure images of it."""

from __future__ import annotations

import numpy as np

from hpe_ros.core.camera import CameraModel
from hpe_ros.core.joints import H36M_17

# Rest pose in a body frame (metres; x to the person's left, y up, z forward), H36M-17 order.
_REST_POSE = np.array([
    [0.00, 0.95, 0.0],   # pelvis
    [-0.12, 0.93, 0.0],  # right hip
    [-0.12, 0.50, 0.0],  # right knee
    [-0.12, 0.08, 0.0],  # right ankle
    [0.12, 0.93, 0.0],   # left hip
    [0.12, 0.50, 0.0],   # left knee
    [0.12, 0.08, 0.0],   # left ankle
    [0.00, 1.20, 0.0],   # spine
    [0.00, 1.45, 0.0],   # thorax
    [0.00, 1.55, 0.05],  # neck / nose
    [0.00, 1.70, 0.0],   # head
    [0.18, 1.43, 0.0],   # left shoulder
    [0.20, 1.15, 0.0],   # left elbow
    [0.21, 0.90, 0.05],  # left wrist
    [-0.18, 1.43, 0.0],  # right shoulder
    [-0.20, 1.15, 0.0],  # right elbow
    [-0.21, 0.90, 0.05],  # right wrist
])


def _swing(points: np.ndarray, pivot: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotate (T, N, 3) points about the body's x axis through ``pivot`` by ``angle`` (T,)."""
    c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
    rel = points - pivot
    y = rel[..., 1] * c - rel[..., 2] * s
    z = rel[..., 1] * s + rel[..., 2] * c
    return np.stack([rel[..., 0], y, z], axis=-1) + pivot


def walking_poses(
    num_frames: int, fps: float = 10.0, stride_hz: float = 0.8, phase: float = 0.0
) -> np.ndarray:
    """(T, 17, 3) H36M joints of a person walking on the spot, in the body frame of ``_REST_POSE``
    (x to the person's left, y up from the ground, z forward)."""
    t = np.arange(num_frames) / fps
    angle = 2 * np.pi * stride_hz * t + phase
    pose = np.repeat(_REST_POSE[None], num_frames, axis=0)
    legs = {"right": (1, [2, 3], 1.0), "left": (4, [5, 6], -1.0)}
    for hip, below, sign in legs.values():
        pose[:, below] = _swing(pose[:, below], _REST_POSE[hip], sign * 0.45 * np.sin(angle))
    for shoulder, below, sign in ((14, [15, 16], -1.0), (11, [12, 13], 1.0)):
        pose[:, below] = _swing(pose[:, below], _REST_POSE[shoulder], sign * 0.35 * np.sin(angle))
    return pose


def walking_skeleton(num_frames: int, fps: float = 10.0, distance_m: float = 4.0, stride_hz: float = 0.8,
                     camera_height_m: float = 1.0) -> np.ndarray:
    """(T, 17, 3) H36M joints of a person walking across the view, in a camera optical frame (metres)."""
    t = np.arange(num_frames) / fps
    pose = walking_poses(num_frames, fps, stride_hz)
    # walk from the right to the left of the image, turned side-on
    offset = 1.2 - 2.4 * (t / max(t[-1], 1e-9)) if num_frames > 1 else np.zeros(1)
    camera = np.empty_like(pose)
    camera[..., 0] = -pose[..., 2] + offset[:, None]     # body forward -> image left
    camera[..., 1] = camera_height_m - pose[..., 1]       # body up -> image up (y down)
    camera[..., 2] = distance_m - pose[..., 0]            # body left -> away from the camera
    return camera


def default_camera(
    width: int = 640, height: int = 480, frame_id: str = "camera_optical_frame"
) -> CameraModel:
    focal = 1.1 * width
    return CameraModel.from_intrinsics(focal, focal, (width - 1) / 2, (height - 1) / 2, width, height,
                                       frame_id=frame_id)


def render_stick_figure(joints: np.ndarray, camera: CameraModel, thickness_px: int = 3) -> np.ndarray:
    """An (H, W, 3) uint8 RGB image of the skeleton's bones drawn over a grey background."""
    image = np.full((camera.height, camera.width, 3), 90, dtype=np.uint8)
    pixels = camera.project(joints)
    bones = np.array(H36M_17.bones)
    steps = np.linspace(0.0, 1.0, 64)[None, :, None]
    samples = pixels[bones[:, 0], None] * (1 - steps) + pixels[bones[:, 1], None] * steps  # (B, S, 2)
    r = np.arange(-thickness_px, thickness_px + 1)
    dx, dy = np.meshgrid(r, r)
    disc = (dx**2 + dy**2) <= thickness_px**2
    offsets = np.stack([dx[disc], dy[disc]], axis=-1)
    points = np.round(samples.reshape(-1, 1, 2) + offsets[None]).reshape(-1, 2).astype(int)
    inside = (
        (points[:, 0] >= 0)
        & (points[:, 0] < camera.width)
        & (points[:, 1] >= 0)
        & (points[:, 1] < camera.height)
    )
    points = points[inside]
    image[points[:, 1], points[:, 0]] = (240, 200, 60)
    return image
