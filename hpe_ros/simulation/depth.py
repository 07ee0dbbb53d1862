"""Depth images of H36M-17 people, with the holes and noise of real RGB-D cameras (tests, measurements).

Each person is a set of capsules along the skeleton's bones (thick for the trunk, thin for the
limbs) and a sphere for the head, drawn as dense surface points into a z-buffer in front of a
wall. :class:`DepthNoise` then spoils the image the way structured-light and stereo cameras do:
depth noise growing with the square of the distance, invalid pixels along depth edges, random
dropouts and a few larger holes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hpe_ros.core.camera import CameraModel
from hpe_ros.core.joints import H36M_17

# Capsule radius (metres) of each bone, by its child joint.
_RADIUS = {
    "right_hip": 0.10, "left_hip": 0.10, "right_knee": 0.075, "left_knee": 0.075, "right_ankle": 0.055,
    "left_ankle": 0.055, "spine": 0.11, "thorax": 0.11, "neck": 0.06, "head": 0.09, "left_shoulder": 0.07,
    "right_shoulder": 0.07, "left_elbow": 0.05, "right_elbow": 0.05, "left_wrist": 0.04, "right_wrist": 0.04,
}  # fmt: skip
_BONES = [
    (child, parent, _RADIUS[H36M_17.joint_names[child]])
    for child, parent in enumerate(H36M_17.parents)
    if parent >= 0
]
_EXTRA = [
    (H36M_17.index("left_shoulder"), H36M_17.index("right_shoulder"), 0.07),
    (H36M_17.index("left_hip"), H36M_17.index("right_hip"), 0.09),
    (H36M_17.index("left_hip"), H36M_17.index("left_shoulder"), 0.08),
    (H36M_17.index("right_hip"), H36M_17.index("right_shoulder"), 0.08),
]  # the trunk's width
HEAD_RADIUS = 0.11


def _capsule_points(
    a: np.ndarray, b: np.ndarray, radius: float, density: float, rng: np.random.Generator
) -> np.ndarray:
    length = float(np.linalg.norm(b - a))
    area = 2 * np.pi * radius * length + 4 * np.pi * radius**2
    count = max(64, int(area * density))
    along = rng.uniform(-radius, length + radius, count)
    direction = rng.standard_normal((count, 3))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    axis = (b - a) / max(length, 1e-9)
    centre = a + np.clip(along, 0.0, length)[:, None] * axis
    if length > 0:  # on the cylinder: directions perpendicular to the axis
        cylinder = (along >= 0) & (along <= length)
        direction[cylinder] -= (direction[cylinder] @ axis)[:, None] * axis
        direction[cylinder] /= np.maximum(np.linalg.norm(direction[cylinder], axis=1, keepdims=True), 1e-9)
    return centre + radius * direction


def body_surface(joints: np.ndarray, rng: np.random.Generator, density: float = 60000.0) -> np.ndarray:
    """(P, 3) points on the capsule body of one (17, 3) skeleton (camera frame, metres)."""
    parts = [_capsule_points(joints[c], joints[p], r, density, rng) for c, p, r in _BONES + _EXTRA]
    head = joints[H36M_17.index("head")]
    parts.append(_capsule_points(head, head, HEAD_RADIUS, density, rng))
    return np.concatenate(parts)


def render_depth(
    people: np.ndarray, camera: CameraModel, rng: np.random.Generator, wall_distance_m: float | None = 2.5
) -> np.ndarray:
    """(H, W) float32 metres of (N, 17, 3) camera-frame skeletons; a wall ``wall_distance_m`` behind
    the farthest person (None: no background, NaN there)."""
    flat = np.full(camera.height * camera.width, np.inf)
    for joints in np.asarray(people, dtype=np.float64):
        points = body_surface(joints, rng)
        points = points[points[:, 2] > 0.05]
        pixels = np.floor(camera.project(points)).astype(np.int64)
        for dx in (0, 1):  # 2x2 splats close the gaps between surface samples
            for dy in (0, 1):
                u, v = pixels[:, 0] + dx, pixels[:, 1] + dy
                inside = (u >= 0) & (u < camera.width) & (v >= 0) & (v < camera.height)
                np.minimum.at(flat, v[inside] * camera.width + u[inside], points[inside, 2])
    depth = flat.reshape(camera.height, camera.width)
    if wall_distance_m is not None and len(people):
        wall = float(np.max(np.asarray(people)[..., 2])) + wall_distance_m
        depth = np.minimum(depth, wall)
    depth[~np.isfinite(depth)] = np.nan
    return depth.astype(np.float32)


@dataclass(frozen=True)
class DepthNoise:
    """A depth camera's imperfections (defaults: a stereo camera of the RealSense D4xx kind)."""

    sigma_per_m2: float = 0.002  # depth noise std = sigma_per_m2 * z^2 (about 3 cm at 4 m)
    dropout_rate: float = 0.05  # isolated invalid pixels
    edge_jump_m: float = 0.15  # pixels next to a depth step larger than this are invalid
    holes: int = 4  # larger invalid blobs per image
    hole_radius_px: tuple[int, int] = (4, 20)

    def apply(self, depth: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        noisy = depth.astype(np.float64).copy()
        noisy += rng.standard_normal(noisy.shape) * self.sigma_per_m2 * noisy**2
        padded = np.pad(depth, 1, mode="edge")
        jump = np.zeros(depth.shape, dtype=bool)
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                shifted = padded[1 + dy : 1 + dy + depth.shape[0], 1 + dx : 1 + dx + depth.shape[1]]
                jump |= np.abs(shifted - depth) > self.edge_jump_m
        noisy[jump] = np.nan
        noisy[rng.random(depth.shape) < self.dropout_rate] = np.nan
        rows, cols = np.mgrid[: depth.shape[0], : depth.shape[1]]
        for _ in range(self.holes):
            r = rng.integers(*self.hole_radius_px)
            cy, cx = rng.integers(depth.shape[0]), rng.integers(depth.shape[1])
            noisy[(rows - cy) ** 2 + (cols - cx) ** 2 <= r * r] = np.nan
        return noisy.astype(np.float32)
