"""Human3.6M camera calibrations (the ``cameras.json`` layout used by mmpose and others).

The file maps ``"('S1', '54138969')"`` to ``f``, ``c`` (2x1), ``k`` (3x1 radial), ``p`` (2x1
tangential), ``R`` (3x3), ``T`` (3x1), ``w``, ``h``, ``name``, ``id``. Conventions, checked
against the dataset's 2D annotations (which they reproduce to < 1e-4 px):

- ``R`` is the camera-to-world rotation (its columns are the camera's x, y, z axes in the
  z-up world) and ``T`` the camera centre in the world: ``X_world = R X_camera + T`` and
  ``X_camera = R^T (X_world - T)`` (as mmpose's SimpleCamera reads these files). Every camera's
  optical axis then points at the capture area around the world origin.
- ``T`` is in metres in mmpose's generated file (the dataset's own metadata is in millimetres).
- The lens follows Human3.6M's own radial-tangential formula (distortion model ``"h36m"`` of
  :class:`CameraModel`, D = (k1, k2, k3, p1, p2)); OpenCV's plumb_bob with the same numbers is off
  by up to ~0.3 px, see :meth:`H36MCamera.plumb_bob_camera` for a fitted approximation.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from hpe_ros.core.camera import CameraModel

# H36M camera centres are a few metres from the world origin: above this they are millimetres.
_MM_THRESHOLD = 100.0


@dataclass(frozen=True, eq=False)
class H36MCamera:
    """One calibrated Human3.6M camera of one subject."""

    subject: str  # "S1"
    camera_id: str  # "54138969"
    name: str  # "camera1"
    camera: CameraModel  # intrinsics, distortion model "h36m"
    R: np.ndarray  # (3, 3) camera -> world rotation, as in the file
    T: np.ndarray  # (3,) camera centre in world coordinates, metres

    def world_to_camera(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) world points (metres) in this camera's optical frame."""
        return np.asarray((np.asarray(points, dtype=np.float64) - self.T) @ self.R, dtype=np.float64)

    def camera_to_world(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) optical-frame points (metres) in world coordinates."""
        return np.asarray(np.asarray(points, dtype=np.float64) @ self.R.T + self.T, dtype=np.float64)

    def plumb_bob_camera(self, samples_per_axis: int = 50) -> CameraModel:
        """Closest OpenCV plumb_bob camera (least squares over the image), e.g. to publish CameraInfo."""
        u, v = np.meshgrid(
            np.linspace(0, self.camera.width - 1, samples_per_axis),
            np.linspace(0, self.camera.height - 1, samples_per_axis),
        )
        ideal = self.camera.undistort_normalised(self.camera.pixels_to_normalised(np.stack([u, v], -1)))
        ideal = ideal.reshape(-1, 2)
        ideal = ideal[np.isfinite(ideal).all(axis=1)]
        shift = self.camera.distort_points(ideal) - ideal
        x, y = ideal[:, 0], ideal[:, 1]
        r2 = x * x + y * y
        # OpenCV's displacement is linear in (k1, k2, p1, p2, k3): one row per coordinate.
        rows_x = np.stack([x * r2, x * r2**2, 2 * x * y, r2 + 2 * x * x, x * r2**3], axis=1)
        rows_y = np.stack([y * r2, y * r2**2, r2 + 2 * y * y, 2 * x * y, y * r2**3], axis=1)
        coefficients, *_ = np.linalg.lstsq(
            np.concatenate([rows_x, rows_y]), np.concatenate([shift[:, 0], shift[:, 1]]), rcond=None
        )
        c = self.camera
        return CameraModel(c.width, c.height, c.K, coefficients, "plumb_bob", c.frame_id)


def load_h36m_cameras(
    path: str | Path, translation_unit: Literal["auto", "m", "mm"] = "auto"
) -> dict[tuple[str, str], H36MCamera]:
    """All cameras of a Human3.6M ``cameras.json``, keyed by (subject, camera id).

    ``T`` is returned in metres. Copies of this file exist with ``T`` in millimetres (the
    dataset's unit) and in metres (mmpose's); ``"auto"`` takes millimetres when any camera centre
    is more than 100 units from the origin (real centres are 4-6 m away).
    """
    with open(path, encoding="utf-8") as file:
        raw = json.load(file)
    if translation_unit not in ("auto", "m", "mm"):
        raise ValueError(f"translation_unit must be 'auto', 'm' or 'mm', got {translation_unit!r}")
    if translation_unit == "auto":
        largest = max(float(np.abs(np.asarray(entry["T"], dtype=np.float64)).max()) for entry in raw.values())
        translation_unit = "mm" if largest > _MM_THRESHOLD else "m"
    to_metres = 1e-3 if translation_unit == "mm" else 1.0

    cameras: dict[tuple[str, str], H36MCamera] = {}
    for key_text, entry in raw.items():
        key = _parse_key(key_text)
        try:
            f = np.asarray(entry["f"], dtype=np.float64).reshape(2)
            c = np.asarray(entry["c"], dtype=np.float64).reshape(2)
            k = np.asarray(entry["k"], dtype=np.float64).reshape(3)
            p = np.asarray(entry["p"], dtype=np.float64).reshape(2)
            R = np.asarray(entry["R"], dtype=np.float64).reshape(3, 3)  # noqa: N806
            T = np.asarray(entry["T"], dtype=np.float64).reshape(3) * to_metres  # noqa: N806
            width, height = int(entry["w"]), int(entry["h"])
        except (KeyError, ValueError) as error:
            raise ValueError(f"{path}: camera {key_text}: bad or missing field ({error})") from error
        if not np.allclose(R @ R.T, np.eye(3), atol=1e-6) or np.linalg.det(R) < 0:
            raise ValueError(f"{path}: camera {key_text}: R is not a rotation")
        model = CameraModel.from_intrinsics(
            f[0], f[1], c[0], c[1], width, height, np.concatenate([k, p]), "h36m", frame_id=key[1]
        )
        R.setflags(write=False)
        T.setflags(write=False)
        cameras[key] = H36MCamera(key[0], key[1], str(entry.get("name", "")), model, R, T)
    return cameras


def h36m_camera_key(image_name: str) -> tuple[str, str]:
    """(subject, camera id) of an H36M frame name like ``S1/S1_Directions_1.54138969/..._000001.jpg``."""
    match = re.search(r"(S\d+)_[^/]*\.(\d+)_\d+\.\w+$", image_name)
    if match is None:
        raise ValueError(f"not a Human3.6M frame name (S<n>_<action>.<camera>_<frame>.<ext>): {image_name!r}")
    return match.group(1), match.group(2)


def _parse_key(text: str) -> tuple[str, str]:
    try:
        key = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        key = None
    if not (isinstance(key, tuple) and len(key) == 2 and all(isinstance(part, str) for part in key)):
        raise ValueError(f"camera key must look like \"('S1', '54138969')\", got {text!r}")
    return key
