"""Pinhole camera with distortion, and Human3.6M calibrations on real data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hpe_ros.core.camera import CameraModel
from hpe_ros.core.h36m_cameras import h36m_camera_key, load_h36m_cameras

CAMERAS = {
    "pinhole": CameraModel.from_intrinsics(500.0, 510.0, 321.5, 238.0, 640, 480),
    "plumb_bob": CameraModel.from_intrinsics(
        600.0, 610.0, 330.0, 245.0, 640, 480, [-0.30, 0.12, 0.001, -0.0015, -0.02]
    ),
    "rational_polynomial": CameraModel.from_intrinsics(
        600.0, 610.0, 330.0, 245.0, 640, 480,
        [2.5, -0.3, 0.001, -0.002, 0.01, 2.8, 0.2, 0.05], "rational_polynomial",
    ),  # fmt: skip
    "equidistant": CameraModel.from_intrinsics(
        400.0, 400.0, 424.0, 400.0, 848, 800, [0.02, -0.005, 0.001, -0.0002], "equidistant"
    ),
    "h36m": CameraModel.from_intrinsics(
        1145.0, 1143.8, 512.5, 515.5, 1000, 1002, [-0.207, 0.248, -0.003, -0.0014, -0.001], "h36m"
    ),
}


def _pixel_grid(camera: CameraModel, n: int = 60) -> np.ndarray:
    u, v = np.meshgrid(np.linspace(0, camera.width - 1, n), np.linspace(0, camera.height - 1, n))
    return np.stack([u, v], axis=-1)


def test_properties_and_pinhole_projection() -> None:
    camera = CAMERAS["pinhole"]
    assert (camera.fx, camera.fy, camera.cx, camera.cy) == (500.0, 510.0, 321.5, 238.0)
    assert not camera.has_distortion
    points = np.array([[0.2, -0.1, 2.0], [0.0, 0.0, 4.0]])
    expected = np.array([[321.5 + 500 * 0.1, 238.0 - 510 * 0.05], [321.5, 238.0]])
    np.testing.assert_allclose(camera.project(points), expected)


def test_points_behind_the_camera_project_to_nan() -> None:
    pixels = CAMERAS["plumb_bob"].project(np.array([[0.1, 0.1, -1.0], [0.1, 0.1, 0.0], [0.1, 0.1, 1.0]]))
    assert np.isnan(pixels[:2]).all() and np.isfinite(pixels[2]).all()


@pytest.mark.parametrize("name", list(CAMERAS))
def test_undistort_inverts_distort_over_the_image(name: str) -> None:
    camera = CAMERAS[name]
    observed = _pixel_grid(camera)
    ideal = camera.undistort_points(observed)
    assert np.isfinite(ideal).all()
    assert np.abs(camera.distort_pixels(ideal) - observed).max() < 1e-6
    # and the other way round, from ideal pixels of the image area
    ideal_grid = _pixel_grid(camera, 40)
    round_trip = camera.undistort_points(camera.distort_pixels(ideal_grid))
    np.testing.assert_allclose(round_trip, ideal_grid, atol=1e-6)


@pytest.mark.parametrize("name", list(CAMERAS))
def test_project_unproject_round_trip(name: str) -> None:
    camera = CAMERAS[name]
    pixels = _pixel_grid(camera, 30).reshape(3, 300, 2)
    depth = np.random.default_rng(0).uniform(0.5, 8.0, pixels.shape[:-1])
    points = camera.unproject(pixels, depth)
    assert points.shape == (3, 300, 3)
    np.testing.assert_allclose(points[..., 2], depth)
    assert np.abs(camera.project(points) - pixels).max() < 1e-6
    np.testing.assert_allclose(camera.unproject(pixels[0, :5])[:, 2], 1.0)  # default depth 1


def test_plumb_bob_matches_opencv_formula() -> None:
    k1, k2, p1, p2, k3 = CAMERAS["plumb_bob"].D
    x, y = np.array([0.31, -0.22, 0.05]), np.array([-0.12, 0.27, 0.4])
    r2 = x**2 + y**2
    radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    expected_x = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x**2)
    expected_y = y * radial + p1 * (r2 + 2 * y**2) + 2 * p2 * x * y
    distorted = CAMERAS["plumb_bob"].distort_points(np.stack([x, y], -1))
    np.testing.assert_allclose(distorted, np.stack([expected_x, expected_y], -1))


def test_coefficient_variants_agree() -> None:
    d5 = [-0.3, 0.12, 0.001, -0.0015, 0.0]
    five = CameraModel.from_intrinsics(600, 600, 320, 240, 640, 480, d5)
    four = CameraModel.from_intrinsics(600, 600, 320, 240, 640, 480, d5[:4])
    rational = CameraModel.from_intrinsics(
        600, 600, 320, 240, 640, 480, d5 + [0, 0, 0], "rational_polynomial"
    )
    undistorted = CameraModel.from_intrinsics(600, 600, 320, 240, 640, 480, [], "")
    points = np.random.default_rng(1).uniform([-1, -1, 1], [1, 1, 3], (50, 3))
    np.testing.assert_allclose(four.project(points), five.project(points))
    np.testing.assert_allclose(rational.project(points), five.project(points))
    np.testing.assert_allclose(undistorted.project(points), 600 * points[:, :2] / points[:, 2:] + [320, 240])


def test_rational_polynomial_divides_radial_terms() -> None:
    camera = CAMERAS["rational_polynomial"]
    k1, k2, p1, p2, k3, k4, k5, k6 = camera.D
    r2 = 0.3**2
    radial = (1 + k1 * r2 + k2 * r2**2 + k3 * r2**3) / (1 + k4 * r2 + k5 * r2**2 + k6 * r2**3)
    # on the x axis the tangential terms reduce to p2 * 3 x^2 and p1 * r2
    expected = [0.3 * radial + p2 * 3 * r2, p1 * r2]
    np.testing.assert_allclose(camera.distort_points(np.array([0.3, 0.0])), expected)


def test_equidistant_radius_is_a_polynomial_in_the_angle() -> None:
    camera = CAMERAS["equidistant"]
    k1, k2, k3, k4 = camera.D
    directions = np.random.default_rng(2).normal(size=(100, 3))
    directions[:, 2] = np.abs(directions[:, 2]) + 0.05
    theta = np.arccos(directions[:, 2] / np.linalg.norm(directions, axis=1))
    pixels = camera.project(directions)
    radius = np.hypot((pixels[:, 0] - camera.cx) / camera.fx, (pixels[:, 1] - camera.cy) / camera.fy)
    t2 = theta**2
    np.testing.assert_allclose(radius, theta * (1 + k1 * t2 + k2 * t2**2 + k3 * t2**3 + k4 * t2**4))
    # a fisheye sees beyond the pinhole's range: rays near 90 degrees still come back
    rays = camera.unproject(camera.project(np.array([[1.0, 0.0, 0.02]])))
    np.testing.assert_allclose(rays / rays[0, 2], [[50.0, 0.0, 1.0]], rtol=1e-9)


def test_skewed_camera_round_trip() -> None:
    K = np.array([[500.0, 3.0, 320.0], [0.0, 505.0, 240.0], [0.0, 0.0, 1.0]])  # noqa: N806 (camera matrix)
    camera = CameraModel(640, 480, K, [-0.1, 0.01, 0.0, 0.0, 0.0])
    points = np.array([[0.3, -0.2, 2.0], [-0.4, 0.1, 1.5]])
    x, y = points[:, 0] / points[:, 2], points[:, 1] / points[:, 2]
    assert CameraModel(640, 480, K).project(points)[0, 0] == pytest.approx(500 * x[0] + 3 * y[0] + 320)
    np.testing.assert_allclose(camera.unproject(camera.project(points), points[:, 2]), points)


def test_scaled_camera_follows_the_resized_image() -> None:
    camera = CAMERAS["plumb_bob"]
    half = camera.scaled(0.5, 0.5)
    assert (half.width, half.height) == (320, 240)
    points = np.random.default_rng(3).uniform([-0.5, -0.5, 1], [0.5, 0.5, 3], (20, 3))
    # pixel centres: u' = (u + 0.5) s - 0.5 (how image resizing samples)
    np.testing.assert_allclose(half.project(points), (camera.project(points) + 0.5) * 0.5 - 0.5)
    plain = camera.scaled(2.0, 1.5, align_pixel_centres=False)
    np.testing.assert_allclose(plain.project(points), camera.project(points) * [2.0, 1.5])
    resized = camera.resized(333, 250)
    assert (resized.width, resized.height) == (333, 250)
    assert resized.fx == pytest.approx(camera.fx * 333 / 640)
    np.testing.assert_array_equal(resized.D, camera.D)


def test_validation_errors() -> None:
    with pytest.raises(ValueError, match="K must be 3x3"):
        CameraModel(640, 480, np.eye(2))
    with pytest.raises(ValueError, match="focal lengths must be positive"):
        CameraModel.from_intrinsics(-1.0, 500.0, 320, 240, 640, 480)
    with pytest.raises(ValueError, match="unknown distortion model 'kannala'"):
        CameraModel.from_intrinsics(500.0, 500.0, 320, 240, 640, 480, [0.1, 0, 0, 0], "kannala")
    with pytest.raises(ValueError, match="'equidistant' takes 0 or 4 coefficients, got 5"):
        CameraModel.from_intrinsics(500.0, 500.0, 320, 240, 640, 480, np.zeros(5), "equidistant")
    with pytest.raises(ValueError, match="model '' means no distortion"):
        CameraModel.from_intrinsics(500.0, 500.0, 320, 240, 640, 480, [0.1, 0, 0, 0, 0], "")
    assert not CameraModel.from_intrinsics(500.0, 500.0, 320, 240, 640, 480, np.zeros(5), "").has_distortion
    with pytest.raises(ValueError, match="image size"):
        CameraModel.from_intrinsics(500.0, 500.0, 320, 240, 0, 480)
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        CAMERAS["pinhole"].project(np.zeros((4, 2)))


def test_camera_is_immutable_and_compares_by_value() -> None:
    camera = CAMERAS["plumb_bob"]
    with pytest.raises(ValueError):
        camera.K[0, 0] = 1.0
    same = CameraModel(camera.width, camera.height, camera.K.copy(), list(camera.D))
    assert same == camera and camera.scaled(0.5, 0.5) != camera


# --- Human3.6M calibrations on real data ---


@pytest.fixture
def h36m(shared_data):
    folder = shared_data / "h36m_frames"
    return load_h36m_cameras(folder / "cameras.json"), np.load(folder / "test_h36m_body3d.npz")


def test_h36m_cameras_load(h36m) -> None:
    cameras, _ = h36m
    assert len(cameras) == 44 and ("S11", "60457274") in cameras
    camera = cameras[("S1", "54138969")]
    assert (camera.camera.width, camera.camera.height, camera.name) == (1000, 1002, "camera1")
    assert camera.camera.distortion_model == "h36m" and camera.camera.D.shape == (5,)
    for calibration in cameras.values():
        # centres 4-6 m from the room centre, ~1.5 m high; optical axes aim at the room centre
        assert 3.0 < np.linalg.norm(calibration.T) < 7.0 and 1.0 < calibration.T[2] < 2.0
        axis = calibration.camera_to_world(np.array([0.0, 0.0, 1.0])) - calibration.T
        assert np.degrees(np.arccos(axis @ -calibration.T / np.linalg.norm(calibration.T))) < 15
        down = calibration.camera_to_world(np.array([0.0, 1.0, 0.0])) - calibration.T
        assert down[2] < -0.9  # image "down" is world -z
        points = np.random.default_rng(0).normal(size=(5, 3))
        np.testing.assert_allclose(calibration.camera_to_world(calibration.world_to_camera(points)), points)


def test_h36m_projection_reproduces_2d_annotations(h36m) -> None:
    """Projecting the 3D ground truth reproduces the 2D annotation with H36M's lens model only."""
    cameras, data = h36m
    for image_name, points, annotated in zip(data["imgname"], data["S"], data["part"], strict=True):
        calibration = cameras[h36m_camera_key(str(image_name))]
        camera = calibration.camera
        error = np.linalg.norm(camera.project(points[:, :3]) - annotated[:, :2], axis=-1).max()
        assert error < 1e-3  # the annotations are float32 pixels

        k1, k2, k3, p1, p2 = camera.D
        alternatives = {
            "none": CameraModel(camera.width, camera.height, camera.K),
            "plumb_bob": CameraModel(camera.width, camera.height, camera.K, [k1, k2, p1, p2, k3]),
            "plumb_bob_swapped_p": CameraModel(camera.width, camera.height, camera.K, [k1, k2, p2, p1, k3]),
        }
        for alternative in alternatives.values():
            other = np.linalg.norm(alternative.project(points[:, :3]) - annotated[:, :2], axis=-1).max()
            assert other > 100 * error

        # the annotated pixels back-project onto the ground truth at its depth
        np.testing.assert_allclose(camera.unproject(annotated[:, :2], points[:, 2]), points[:, :3], atol=1e-5)


def test_h36m_plumb_bob_approximation(h36m) -> None:
    cameras, _ = h36m
    calibration = cameras[("S1", "55011271")]
    exact, fitted = calibration.camera, calibration.plumb_bob_camera()
    k1, k2, k3, p1, p2 = exact.D
    naive = CameraModel(exact.width, exact.height, exact.K, [k1, k2, p1, p2, k3])
    ideal = exact.undistort_points(_pixel_grid(exact, 40))
    fitted_error = np.abs(fitted.distort_pixels(ideal) - exact.distort_pixels(ideal)).max()
    naive_error = np.abs(naive.distort_pixels(ideal) - exact.distort_pixels(ideal)).max()
    assert fitted.distortion_model == "plumb_bob" and fitted_error < 0.5 and fitted_error < naive_error / 2


def test_h36m_translation_units(h36m, shared_data, tmp_path) -> None:
    cameras, _ = h36m
    raw = json.loads((shared_data / "h36m_frames" / "cameras.json").read_text())
    for entry in raw.values():
        entry["T"] = (np.asarray(entry["T"]) * 1000).tolist()
    (tmp_path / "cameras_mm.json").write_text(json.dumps(raw))
    in_mm = load_h36m_cameras(tmp_path / "cameras_mm.json")
    forced = load_h36m_cameras(tmp_path / "cameras_mm.json", translation_unit="m")
    key = ("S9", "58860488")
    np.testing.assert_allclose(in_mm[key].T, cameras[key].T)
    np.testing.assert_allclose(forced[key].T, cameras[key].T * 1000)


def test_h36m_camera_key() -> None:
    assert h36m_camera_key("S7/S7_Greeting.55011271/S7_Greeting.55011271_000396.jpg") == ("S7", "55011271")
    assert h36m_camera_key("S11_Walk_Dog_1.60457274_000026.jpg") == ("S11", "60457274")
    with pytest.raises(ValueError, match="not a Human3.6M frame name"):
        h36m_camera_key("frame_0001.png")
