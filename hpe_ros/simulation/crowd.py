"""People walking in front of a camera, for measuring tracking: crossings, occlusions, exits and returns.

Each :class:`Walker` follows a piecewise-linear path on the ground (camera x right, z forward),
facing where they go, with a walking motion (or any (T, 17, 3) body-frame motion, e.g. motion
capture) and their own size. :func:`simulate` projects everyone through a :class:`CameraModel`
(lens included), decides who is visible (inside the image, not hidden behind nearer people),
and makes a detector's output of each frame: the visible people's keypoints with noise like a
2D pose network's (Gaussian in box heights, occasional outliers, low scores where hidden or
outside), occasional misses, and occasional false people that last one frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hpe_ros.core.camera import CameraModel
from hpe_ros.core.joints import H36M_17
from hpe_ros.pipelines.base import PersonPose
from hpe_ros.simulation.people import walking_poses

CAMERA_HEIGHT_M = 1.2  # above the ground, looking level
_BOX_MARGIN = 0.1  # of the box height, around the keypoints
_GRID_PX = 4  # occlusion raster cell


@dataclass(frozen=True)
class Walker:
    #: (t seconds, x metres, z metres) on the ground; present from the first time to the last
    waypoints: tuple[tuple[float, float, float], ...]
    scale: float = 1.0  # body size relative to a 1.7 m adult
    phase: float = 0.0  # of the walking cycle
    stride_hz: float = 0.9

    def present(self, t: float) -> bool:
        return self.waypoints[0][0] <= t <= self.waypoints[-1][0]

    def position_and_heading(self, t: float) -> tuple[np.ndarray, np.ndarray, float]:
        """Ground position (x, z), unit heading (x, z), and speed (m/s) at time ``t``."""
        times = np.array([w[0] for w in self.waypoints])
        points = np.array([w[1:] for w in self.waypoints])
        segment = int(np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 2))
        span = max(times[segment + 1] - times[segment], 1e-9)
        u = float(np.clip((t - times[segment]) / span, 0.0, 1.0))
        position = points[segment] + u * (points[segment + 1] - points[segment])
        heading, speed = np.array([0.0, -1.0]), 0.0  # standing still: facing the camera
        for index in [segment, *range(segment - 1, -1, -1)]:  # the last segment with motion sets the heading
            step = points[index + 1] - points[index]
            if np.linalg.norm(step) > 1e-9:
                heading = step / np.linalg.norm(step)
                if index == segment:
                    speed = float(np.linalg.norm(step) / span)
                break
        return position, heading, speed


@dataclass(frozen=True)
class KeypointNoise:
    sigma_heights: float = 0.02  # per axis, in box heights
    outlier_rate: float = 0.02  # of joints, placed anywhere in the box
    miss_rate: float = 0.02  # of visible people, not detected in a frame
    false_rate: float = 0.02  # false people per frame


@dataclass(frozen=True)
class SceneFrame:
    stamp_s: float
    true_ids: np.ndarray  # (P,) walker index of each visible person
    true_boxes: np.ndarray  # (P, 4)
    true_joints: np.ndarray  # (P, 17, 3) camera frame, metres
    boxes: np.ndarray  # (N, 4) detections
    keypoints: np.ndarray  # (N, 17, 2) H36M-17 pixels
    scores: np.ndarray  # (N, 17)
    sources: np.ndarray  # (N,) walker index of each detection, -1 for false ones


def body_to_camera(pose: np.ndarray, position: np.ndarray, heading: np.ndarray) -> np.ndarray:
    """(J, 3) body-frame joints (x left, y up, z forward) at ground ``position`` facing ``heading``."""
    forward = np.array([heading[0], 0.0, heading[1]])
    up = np.array([0.0, -1.0, 0.0])
    left = np.cross(up, forward)
    origin = np.array([position[0], CAMERA_HEIGHT_M, position[1]])
    return origin + pose @ np.stack([left, up, forward])


def _boxes_of(pixels: np.ndarray) -> np.ndarray:
    lo, hi = pixels.min(axis=1), pixels.max(axis=1)
    margin = _BOX_MARGIN * (hi[:, 1] - lo[:, 1])[:, None]
    return np.concatenate([lo - margin, hi + margin], axis=1)


def _visible_fractions(boxes: np.ndarray, depths: np.ndarray, width: int, height: int) -> np.ndarray:
    """Per box, the fraction of its area inside the image and not behind a nearer box."""
    grid = np.zeros((height // _GRID_PX + 1, width // _GRID_PX + 1), dtype=bool)
    fractions = np.zeros(len(boxes))
    for index in np.argsort(depths):
        x0, y0, x1, y1 = boxes[index] / _GRID_PX
        cols = np.arange(int(np.floor(x0)), int(np.ceil(x1)))
        rows = np.arange(int(np.floor(y0)), int(np.ceil(y1)))
        total = max(len(cols) * len(rows), 1)
        cols, rows = cols[(cols >= 0) & (cols < grid.shape[1])], rows[(rows >= 0) & (rows < grid.shape[0])]
        if len(cols) and len(rows):
            window = grid[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
            fractions[index] = float((~window).sum()) / total
            window[:] = True
    return fractions


def simulate(
    walkers: list[Walker],
    camera: CameraModel,
    duration_s: float,
    fps: float,
    noise: KeypointNoise,
    rng: np.random.Generator,
    motions: list[np.ndarray] | None = None,
    min_visible: float = 0.4,
) -> list[SceneFrame]:
    """Frames at ``fps`` for ``duration_s``. ``motions[i]`` (T, 17, 3): walker i's body-frame
    motion, looped (default: :func:`~hpe_ros.simulation.people.walking_poses`)."""
    count = int(round(duration_s * fps))
    if motions is None:
        motions = [walking_poses(count, fps, w.stride_hz, w.phase) for w in walkers]
    frames = []
    for frame in range(count):
        t = frame / fps
        present = [i for i, w in enumerate(walkers) if w.present(t)]
        joints = np.zeros((len(present), 17, 3))
        for row, index in enumerate(present):
            walker = walkers[index]
            position, heading, speed = walker.position_and_heading(t)
            motion = motions[index]
            pose = motion[frame % len(motion)] if speed > 0.05 else motion[0]
            joints[row] = body_to_camera(pose * walker.scale, position, heading)
        in_front = joints[:, :, 2].min(axis=1) > 0.3 if len(present) else np.zeros(0, bool)
        joints, present = joints[in_front], [p for p, keep in zip(present, in_front, strict=True) if keep]
        pixels = camera.project(joints) if len(present) else np.zeros((0, 17, 2))
        boxes = _boxes_of(pixels) if len(present) else np.zeros((0, 4))
        fractions = _visible_fractions(boxes, joints[:, 0, 2], camera.width, camera.height)
        visible = fractions >= min_visible
        frames.append(
            _detect(t, np.array(present, dtype=int), joints, pixels, boxes, visible, camera, noise, rng)
        )
    return frames


def _detect(
    t: float,
    ids: np.ndarray,
    joints: np.ndarray,
    pixels: np.ndarray,
    boxes: np.ndarray,
    visible: np.ndarray,
    camera: CameraModel,
    noise: KeypointNoise,
    rng: np.random.Generator,
) -> SceneFrame:
    detected = visible & (rng.random(len(ids)) >= noise.miss_rate)
    keypoints, scores = pixels[detected].copy(), np.full((int(detected.sum()), 17), 0.9)
    heights = (boxes[detected, 3] - boxes[detected, 1])[:, None, None]
    keypoints += rng.normal(0.0, noise.sigma_heights, keypoints.shape) * heights
    outliers = rng.random(scores.shape) < noise.outlier_rate
    if outliers.any():
        lo, hi = boxes[detected, None, :2], boxes[detected, None, 2:]
        anywhere = lo + rng.random(keypoints.shape) * (hi - lo)
        keypoints = np.where(outliers[..., None], anywhere, keypoints)
        scores = np.where(outliers, 0.5, scores)
    size = np.array([camera.width, camera.height])
    outside = ((keypoints < 0) | (keypoints >= size)).any(-1)
    scores = np.where(outside, 0.0, scores)
    sources = ids[detected]
    false_count = rng.poisson(noise.false_rate)
    if false_count:
        height = rng.uniform(0.2, 0.6, false_count) * camera.height
        corner = rng.random((false_count, 2)) * (size - np.array([0.5, 1.0]) * height[:, None])
        unit = rng.random((false_count, 17, 2)) * np.array([0.5, 1.0])
        keypoints = np.concatenate([keypoints, corner[:, None] + unit * height[:, None, None]])
        scores = np.concatenate([scores, np.full((false_count, 17), 0.5)])
        sources = np.concatenate([sources, np.full(false_count, -1)])
    detection_boxes = _boxes_of(keypoints) if len(keypoints) else np.zeros((0, 4))
    return SceneFrame(
        t, ids[visible], boxes[visible], joints[visible], detection_boxes, keypoints, scores, sources
    )


def crossing_scenes() -> dict[str, list[Walker]]:
    """The scenes tracking is measured on (10-12 s each): people crossing at different depths,
    someone walking behind a person standing still, someone leaving the image and coming back,
    and a group of six."""
    return {
        "crossing": [
            Walker(((0.0, -3.0, 3.5), (10.0, 3.0, 3.5)), 1.0, 0.0),
            Walker(((0.0, 3.5, 5.0), (10.0, -3.5, 5.0)), 0.95, 1.0),
            Walker(((0.0, -3.5, 6.5), (10.0, 3.5, 6.0)), 1.05, 2.0),
            Walker(((0.0, 3.0, 4.2), (10.0, -3.0, 4.5)), 0.8, 3.0),
        ],
        "behind_a_standing_person": [
            Walker(((0.0, 0.2, 3.0), (10.0, 0.2, 3.0)), 1.0),
            Walker(((0.0, -3.0, 5.0), (10.0, 3.0, 5.0)), 1.0, 0.5),
            Walker(((0.0, 3.0, 6.0), (10.0, -2.5, 6.0)), 0.9, 1.5),
        ],
        "leaving_and_returning": [
            Walker(((0.0, 0.0, 4.0), (2.5, 3.2, 4.0), (3.0, 3.2, 4.0), (5.5, 0.0, 4.0), (10.0, -1.0, 4.5))),
            Walker(((0.0, -1.5, 5.0), (5.0, -1.5, 5.0), (10.0, 1.5, 5.5)), 0.9, 1.0),
        ],
        "group_of_six": [
            Walker(((0.0, -2.5, 4.0), (6.0, 1.5, 5.5), (12.0, -2.0, 6.0)), 1.0, 0.0),
            Walker(((0.0, 2.5, 4.5), (6.0, -1.0, 3.5), (12.0, 2.5, 3.0)), 0.9, 0.7),
            Walker(((0.0, -1.0, 6.5), (6.0, 2.0, 6.5), (12.0, -1.5, 7.0)), 1.1, 1.4),
            Walker(((0.0, 1.0, 3.0), (4.0, 1.0, 3.0), (12.0, -1.5, 4.0)), 0.85, 2.1),
            Walker(((0.0, 0.0, 8.0), (12.0, 0.0, 8.0)), 1.0, 2.8),
            Walker(((2.0, 4.5, 5.0), (12.0, -4.5, 5.0)), 1.0, 3.5),
        ],
    }


def observed_person(
    joints: np.ndarray, camera: CameraModel, margin_px: float = 10.0, **fields: Any
) -> PersonPose:
    """A metric H36M-17 person as a pipeline would give them: ``joints`` (17, 3) with their exact
    2D keypoints and box (``fields`` go to :class:`PersonPose`, e.g. ``track_id`` or ``smpl``)."""
    pixels = camera.project(joints)
    box = np.concatenate([pixels.min(axis=0) - margin_px, pixels.max(axis=0) + margin_px, [0.9]])
    return PersonPose(H36M_17, joints, np.ones(17), metric=True, keypoints_2d=pixels, scores_2d=np.ones(17),
                      box=box, **fields)
