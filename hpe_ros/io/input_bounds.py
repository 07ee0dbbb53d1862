"""The bounds every input message is checked against before it reaches a pipeline.

Images (``images.py``) and event packets (``events.py``) check their own layouts against these
sizes; this module checks the side inputs, CameraInfo and person boxes. A message outside the
bounds raises ``ValueError`` with what is wrong; the nodes count it on ``/diagnostics`` and go on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_IMAGE_SIDE = 16384  # pixels per side of an image, depth image or CameraInfo (a 268 MP frame)
MAX_BOXES = 256  # person boxes in one message

# CameraInfo: focal length per pixel of the image's longer side, from a 360 deg fisheye
# (about 0.16) to a 0.1 deg telephoto (about 570).
MIN_FOCAL_PER_SIDE = 0.05
MAX_FOCAL_PER_SIDE = 600.0
MAX_PIXEL_ASPECT = 5.0  # fy / fx (and fx / fy)
MAX_SKEW_PER_FOCAL = 0.1  # |s| / fx: the pixel axes within about 6 deg of perpendicular
MAX_DISTORTION = 1000.0  # |coefficient|; calibrations' rational terms stay in the tens
EMPTY_D_ALLOWED = ("", "plumb_bob")  # uncalibrated drivers publish plumb_bob with no coefficients


def check_image_size(width: int, height: int, what: str = "image") -> None:
    if not (0 < width <= MAX_IMAGE_SIDE and 0 < height <= MAX_IMAGE_SIDE):
        raise ValueError(f"{what} is {width}x{height}; each side must be 1..{MAX_IMAGE_SIDE} pixels")


def check_camera_info(msg: Any) -> None:
    """Raise ValueError when a ``sensor_msgs/CameraInfo`` is not a plausible calibrated camera."""
    width, height = int(msg.width), int(msg.height)
    check_image_size(width, height, "camera_info")
    k = np.asarray(msg.k, dtype=np.float64)
    if k.size != 9 or not np.all(np.isfinite(k)):
        raise ValueError(f"K must be 9 finite numbers, got {k.tolist()}")
    k = k.reshape(3, 3)
    fx, fy, skew, cx, cy = k[0, 0], k[1, 1], k[0, 1], k[0, 2], k[1, 2]
    side = max(width, height)
    if not (fx > 0 and fy > 0):
        raise ValueError(f"focal lengths must be positive, got fx={fx}, fy={fy} (an uncalibrated camera?)")
    for name, focal in (("fx", fx), ("fy", fy)):
        if not MIN_FOCAL_PER_SIDE * side <= focal <= MAX_FOCAL_PER_SIDE * side:
            raise ValueError(f"{name}={focal:g} px is implausible for a {width}x{height} image (expected "
                             f"{MIN_FOCAL_PER_SIDE * side:g}..{MAX_FOCAL_PER_SIDE * side:g})")
    if max(fx / fy, fy / fx) > MAX_PIXEL_ASPECT:
        raise ValueError(f"fx={fx:g} and fy={fy:g} differ by more than {MAX_PIXEL_ASPECT}x")
    if abs(skew) > MAX_SKEW_PER_FOCAL * fx:
        raise ValueError(f"skew={skew:g} is implausible (|skew| must be <= {MAX_SKEW_PER_FOCAL} fx)")
    if not (0.0 <= cx <= width and 0.0 <= cy <= height):
        raise ValueError(f"principal point ({cx:g}, {cy:g}) lies outside the {width}x{height} image")
    d = np.asarray(msg.d, dtype=np.float64).ravel()
    if not np.all(np.isfinite(d)) or (d.size and np.abs(d).max() > MAX_DISTORTION):
        raise ValueError(
            f"distortion coefficients must be finite and within +-{MAX_DISTORTION:g}, got {d.tolist()}"
        )
    model = str(msg.distortion_model)
    if d.size == 0 and model not in EMPTY_D_ALLOWED:
        raise ValueError(f"distortion model {model!r} needs its coefficients but D is empty "
                         "(publish D, or distortion_model '' for an undistorted image)")


@dataclass
class CheckedBoxes:
    """The usable boxes of one message, ``(N, 5)`` x_min, y_min, x_max, y_max, score; and what was not."""

    boxes: np.ndarray
    refused: int
    reason: str


def check_boxes(rows: np.ndarray) -> CheckedBoxes:
    """Keep the finite, non-empty boxes with a score in [0, 1]; at most :data:`MAX_BOXES`."""
    rows = np.asarray(rows, dtype=np.float64).reshape(-1, 5)
    reasons = []
    usable = np.all(np.isfinite(rows), axis=1)
    if not usable.all():
        reasons.append("non-finite values")
    ordered = (rows[:, 2] > rows[:, 0]) & (rows[:, 3] > rows[:, 1])
    if not ordered[usable].all():
        reasons.append("x_max <= x_min or y_max <= y_min")
    scored = (rows[:, 4] >= 0.0) & (rows[:, 4] <= 1.0)
    if not scored[usable].all():
        reasons.append("score outside [0, 1]")
    keep = usable & ordered & scored
    boxes = rows[keep]
    if len(boxes) > MAX_BOXES:
        reasons.append(f"more than {MAX_BOXES} boxes (kept the {MAX_BOXES} best)")
        boxes = boxes[np.argsort(-boxes[:, 4], kind="stable")[:MAX_BOXES]]
    return CheckedBoxes(boxes=boxes, refused=len(rows) - len(boxes), reason="; ".join(reasons))
