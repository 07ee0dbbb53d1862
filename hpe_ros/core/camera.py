"""Pinhole camera with lens distortion (OpenCV / ROS CameraInfo conventions), numpy only.

Coordinates: 3D points are in the camera's optical frame (x right, y down, z forward, metres);
"normalised" coordinates are (x/z, y/z) before (undistorted) or after (distorted) the lens model;
pixels are (u, v) with the centre of the top-left pixel at (0, 0), as in OpenCV and ROS.

Distortion models (``D`` order as in sensor_msgs/CameraInfo and OpenCV):

- ``plumb_bob``: (k1, k2, p1, p2[, k3]); 4 or 5 coefficients.
- ``rational_polynomial``: (k1, k2, p1, p2, k3, k4, k5, k6).
- ``equidistant``: OpenCV fisheye (k1, k2, k3, k4).
- ``h36m``: Human3.6M's own radial-tangential model, (k1, k2, k3, p1, p2) in the order of the
  dataset's camera files; its tangential terms differ from OpenCV's (see ``_distort_h36m``).

An empty or all-zero ``D`` means no distortion; the model ``""`` (uncalibrated drivers) allows
nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

# Accepted numbers of coefficients per model (0 = no distortion).
DISTORTION_MODELS: dict[str, tuple[int, ...]] = {
    "": (),  # no model: D must be empty or all zero
    "plumb_bob": (0, 4, 5),
    "rational_polynomial": (0, 8),
    "equidistant": (0, 4),
    "h36m": (0, 5),
}

_NEWTON_ITERATIONS = 20
_JACOBIAN_STEP = 1e-7
_CONVERGED = 1e-12  # residual in normalised units (~1e-9 px for a 1000 px focal length)
_NOT_INVERTIBLE = 1e-9  # residual above which an undistorted point is reported as NaN


def _distort_rational(x: np.ndarray, y: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV's radial-tangential model; plumb_bob is the case k4 = k5 = k6 = 0."""
    k1, k2, p1, p2, k3, k4, k5, k6 = np.concatenate([d, np.zeros(8 - d.size)])
    r2 = x * x + y * y
    radial = (1 + r2 * (k1 + r2 * (k2 + r2 * k3))) / (1 + r2 * (k4 + r2 * (k5 + r2 * k6)))
    xy = x * y
    return (
        x * radial + 2 * p1 * xy + p2 * (r2 + 2 * x * x),
        y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * xy,
    )


def _distort_equidistant(x: np.ndarray, y: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV fisheye: theta_d = theta (1 + k1 theta^2 + ... + k4 theta^8), theta = atan(r)."""
    k1, k2, k3, k4 = d
    r = np.hypot(x, y)
    theta = np.arctan(r)
    t2 = theta * theta
    theta_d = theta * (1 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * k4))))
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(r > 1e-12, theta_d / r, 1.0)
    return x * scale, y * scale


def _distort_h36m(x: np.ndarray, y: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Human3.6M's model (its release code's ProjectPointRadial), D = (k1, k2, k3, p1, p2).

    x' = x (radial + p1 y + p2 x) + p2 r^2,  y' = y (radial + p1 y + p2 x) + p1 r^2.
    Compared with OpenCV (same roles of p1, p2) the cross terms are halved and the x^2, y^2
    terms are not doubled, so it cannot be written exactly as plumb_bob.
    """
    k1, k2, k3, p1, p2 = d
    r2 = x * x + y * y
    factor = 1 + r2 * (k1 + r2 * (k2 + r2 * k3)) + p1 * y + p2 * x
    return x * factor + p2 * r2, y * factor + p1 * r2


def _undistort_equidistant(distorted: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Invert the fisheye model along the ray: solve theta_d(theta) = r_d by 1D Newton.

    Solving for the angle (not the normalised point, whose size explodes towards 90 degrees)
    keeps the problem well conditioned; radii beyond what theta < 90 degrees reaches give NaN.
    """
    k1, k2, k3, k4 = d
    r_d = np.hypot(distorted[..., 0], distorted[..., 1])
    theta = r_d.copy()
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for _ in range(_NEWTON_ITERATIONS):
            t2 = theta * theta
            error = theta * (1 + t2 * (k1 + t2 * (k2 + t2 * (k3 + t2 * k4)))) - r_d
            if not np.any(np.abs(error) > _CONVERGED):
                break
            slope = 1 + t2 * (3 * k1 + t2 * (5 * k2 + t2 * (7 * k3 + t2 * 9 * k4)))
            theta = theta - error / slope
        theta = np.where((theta >= 0) & (theta < np.pi / 2), theta, np.nan)
        scale = np.where(r_d > 1e-12, np.tan(theta) / r_d, 1.0)
    return distorted * scale[..., None]


_DISTORTIONS = {
    "plumb_bob": _distort_rational,
    "rational_polynomial": _distort_rational,
    "equidistant": _distort_equidistant,
    "h36m": _distort_h36m,
}


@dataclass(frozen=True, eq=False)
class CameraModel:
    """Intrinsics and lens distortion of one camera (validated on construction)."""

    width: int
    height: int
    K: np.ndarray  # (3, 3) [[fx, skew, cx], [0, fy, cy], [0, 0, 1]]
    D: np.ndarray = field(default_factory=lambda: np.zeros(0))
    distortion_model: str = "plumb_bob"
    frame_id: str = ""

    def __post_init__(self) -> None:
        K = np.array(self.K, dtype=np.float64)  # noqa: N806
        D = np.array(self.D, dtype=np.float64).reshape(-1)  # noqa: N806
        K.setflags(write=False)
        D.setflags(write=False)
        object.__setattr__(self, "K", K)
        object.__setattr__(self, "D", D)
        # K and D are read-only: computed once here, not in every projection
        object.__setattr__(self, "_has_distortion", bool(np.any(D != 0)))
        self.validate()

    def validate(self) -> None:
        """Raise ValueError if the model is not a usable pinhole camera."""
        size = (self.width, self.height)
        if any(int(n) != n or n <= 0 for n in size):
            raise ValueError(f"image size must be positive integers, got {self.width}x{self.height}")
        if self.K.shape != (3, 3):
            raise ValueError(f"K must be 3x3, got shape {self.K.shape}")
        if not np.all(np.isfinite(self.K)):
            raise ValueError(f"K must be finite, got {self.K.tolist()}")
        if not (self.K[0, 0] > 0 and self.K[1, 1] > 0):
            raise ValueError(f"focal lengths must be positive, got fx={self.K[0, 0]}, fy={self.K[1, 1]}")
        if self.K[1, 0] != 0 or not np.array_equal(self.K[2], [0.0, 0.0, 1.0]):
            raise ValueError(f"K must be [[fx, s, cx], [0, fy, cy], [0, 0, 1]], got {self.K.tolist()}")
        if self.distortion_model not in DISTORTION_MODELS:
            raise ValueError(
                f"unknown distortion model {self.distortion_model!r}; supported: "
                + ", ".join(repr(m) for m in DISTORTION_MODELS)
            )
        if not np.all(np.isfinite(self.D)):
            raise ValueError(f"distortion coefficients must be finite, got {self.D.tolist()}")
        if self.distortion_model == "":  # uncalibrated drivers: no model, D empty or all zero
            if self.has_distortion:
                raise ValueError(f"distortion model '' means no distortion, but D is {self.D.tolist()}")
            return
        if self.D.size not in DISTORTION_MODELS[self.distortion_model]:
            counts = " or ".join(map(str, DISTORTION_MODELS[self.distortion_model]))
            raise ValueError(
                f"distortion model {self.distortion_model!r} takes {counts} coefficients, got {self.D.size}"
            )

    @classmethod
    def from_intrinsics(
        cls,
        fx: float,
        fy: float,
        cx: float,
        cy: float,
        width: int,
        height: int,
        D: np.ndarray | None = None,  # noqa: N803
        distortion_model: str = "plumb_bob",
        frame_id: str = "",
    ) -> CameraModel:
        K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])  # noqa: N806
        return cls(width, height, K, np.zeros(0) if D is None else D, distortion_model, frame_id)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CameraModel):
            return NotImplemented
        return (
            (self.width, self.height, self.distortion_model, self.frame_id)
            == (other.width, other.height, other.distortion_model, other.frame_id)
            and np.array_equal(self.K, other.K)
            and np.array_equal(self.D, other.D)
        )

    __hash__ = None  # type: ignore[assignment]  # mutable-looking arrays: not hashable

    @property
    def fx(self) -> float:
        return float(self.K[0, 0])

    @property
    def fy(self) -> float:
        return float(self.K[1, 1])

    @property
    def cx(self) -> float:
        return float(self.K[0, 2])

    @property
    def cy(self) -> float:
        return float(self.K[1, 2])

    @property
    def skew(self) -> float:
        return float(self.K[0, 1])

    @property
    def has_distortion(self) -> bool:
        return self._has_distortion  # type: ignore[attr-defined, no-any-return]  # set in __post_init__

    # --- pixels <-> normalised coordinates (no distortion) ---

    def normalised_to_pixels(self, normalised: np.ndarray) -> np.ndarray:
        """Apply K to (..., 2) normalised coordinates (no distortion)."""
        normalised = _as_points(normalised, 2)
        x, y = normalised[..., 0], normalised[..., 1]
        return np.stack([self.fx * x + self.skew * y + self.cx, self.fy * y + self.cy], axis=-1)

    def pixels_to_normalised(self, pixels: np.ndarray) -> np.ndarray:
        """Apply K^-1 to (..., 2) pixels (no distortion)."""
        pixels = _as_points(pixels, 2)
        y = (pixels[..., 1] - self.cy) / self.fy
        return np.stack([(pixels[..., 0] - self.cx - self.skew * y) / self.fx, y], axis=-1)

    # --- lens model ---

    def distort_points(self, normalised: np.ndarray) -> np.ndarray:
        """Apply the lens model to (..., 2) undistorted normalised coordinates."""
        normalised = _as_points(normalised, 2)
        if not self.has_distortion:
            return normalised.copy()
        x, y = _DISTORTIONS[self.distortion_model](normalised[..., 0], normalised[..., 1], self.D)
        return np.stack([x, y], axis=-1)

    def undistort_normalised(self, distorted: np.ndarray) -> np.ndarray:
        """Invert :meth:`distort_points` by Newton's method (vectorised).

        Points the lens model cannot produce (outside its invertible range) come back as NaN.
        """
        distorted = _as_points(distorted, 2)
        if not self.has_distortion:
            return distorted.copy()
        if self.distortion_model == "equidistant":
            undistorted = _undistort_equidistant(distorted, self.D)
        else:
            undistorted = _newton_inverse(self.distort_points, distorted, distorted.copy())
        with np.errstate(invalid="ignore", over="ignore"):
            residual = np.abs(self.distort_points(undistorted) - distorted).max(axis=-1)
        tolerance = _NOT_INVERTIBLE * (1.0 + np.abs(distorted).max(axis=-1))
        undistorted[~(residual <= tolerance)] = np.nan
        return undistorted

    def undistort_points(self, pixels: np.ndarray) -> np.ndarray:
        """Pixels of the ideal (distortion-free) camera with the same K, for (..., 2) observed pixels."""
        pixels = _as_points(pixels, 2)
        return self.normalised_to_pixels(self.undistort_normalised(self.pixels_to_normalised(pixels)))

    def distort_pixels(self, ideal_pixels: np.ndarray) -> np.ndarray:
        """Observed pixels for (..., 2) pixels of the ideal camera (inverse of :meth:`undistort_points`)."""
        ideal_pixels = _as_points(ideal_pixels, 2)
        return self.normalised_to_pixels(self.distort_points(self.pixels_to_normalised(ideal_pixels)))

    # --- 3D <-> pixels ---

    def project(self, points: np.ndarray) -> np.ndarray:
        """Pixels (..., 2) of (..., 3) points in the optical frame; NaN for points with z <= 0."""
        points = _as_points(points, 3)
        z = points[..., 2:3]
        with np.errstate(divide="ignore", invalid="ignore"):
            normalised = np.where(z > 0, points[..., :2] / z, np.nan)
        return self.normalised_to_pixels(self.distort_points(normalised))

    def unproject(self, pixels: np.ndarray, depth: float | np.ndarray = 1.0) -> np.ndarray:
        """Points (..., 3) at depth z (scalar or (...,)) seen at (..., 2) observed pixels."""
        pixels = _as_points(pixels, 2)
        normalised = self.undistort_normalised(self.pixels_to_normalised(pixels))
        z = np.broadcast_to(np.asarray(depth, dtype=np.float64), normalised.shape[:-1])[..., None]
        return np.concatenate([normalised * z, z], axis=-1)

    # --- derived cameras ---

    def scaled(self, sx: float, sy: float, align_pixel_centres: bool = True) -> CameraModel:
        """The camera of this image resized by (sx, sy); distortion is unchanged.

        With ``align_pixel_centres`` (how OpenCV/numpy image resizing maps pixels:
        u' = (u + 0.5) sx - 0.5) the principal point moves accordingly; without it c' = c * s
        (the plain scaling image_proc's resize applies).
        """
        if sx <= 0 or sy <= 0:
            raise ValueError(f"scale factors must be positive, got {sx}, {sy}")
        K = self.K.copy()  # noqa: N806
        K[0, :2] *= sx
        K[1, 1] *= sy
        offset_x, offset_y = (0.5 * (sx - 1), 0.5 * (sy - 1)) if align_pixel_centres else (0.0, 0.0)
        K[0, 2] = K[0, 2] * sx + offset_x
        K[1, 2] = K[1, 2] * sy + offset_y
        width, height = max(1, round(self.width * sx)), max(1, round(self.height * sy))
        return CameraModel(width, height, K, self.D, self.distortion_model, self.frame_id)

    def resized(self, width: int, height: int, align_pixel_centres: bool = True) -> CameraModel:
        """The camera of this image resized to exactly ``width`` x ``height`` pixels."""
        camera = self.scaled(width / self.width, height / self.height, align_pixel_centres)
        return CameraModel(width, height, camera.K, camera.D, camera.distortion_model, camera.frame_id)


def _as_points(array: np.ndarray, dims: int) -> np.ndarray:
    array = np.asarray(array, dtype=np.float64)
    if array.ndim == 0 or array.shape[-1] != dims:
        raise ValueError(f"expected an array of shape (..., {dims}), got {array.shape}")
    return array


def _newton_inverse(
    function: Callable[[np.ndarray], np.ndarray], target: np.ndarray, guess: np.ndarray
) -> np.ndarray:
    """Solve function(u) = target for (..., 2) u; Jacobian by forward differences."""
    u = guess.copy()
    step_x = np.array([_JACOBIAN_STEP, 0.0])
    step_y = np.array([0.0, _JACOBIAN_STEP])
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for _ in range(_NEWTON_ITERATIONS):
            value = function(u)
            error = value - target
            if not np.any(np.abs(error) > _CONVERGED):  # NaN entries do not hold the loop
                break
            d_dx = (function(u + step_x) - value) / _JACOBIAN_STEP  # (..., 2): column 0 of J
            d_dy = (function(u + step_y) - value) / _JACOBIAN_STEP  # column 1 of J
            a, c = d_dx[..., 0], d_dx[..., 1]
            b, d = d_dy[..., 0], d_dy[..., 1]
            det = a * d - b * c
            ex, ey = error[..., 0], error[..., 1]
            u = u - np.stack([d * ex - b * ey, a * ey - c * ex], axis=-1) / det[..., None]  # J^-1 error
    return u
