"""Every input message type the RGB node reads, checked against stated bounds, and fuzzed.

The fuzz tests drive the exact functions the node calls on each message (``image_to_rgb8``,
``compressed_to_rgb8``, ``depth_image_to_metres``, ``camera_from_info``, ``check_boxes``): the
only exception they may raise is the documented one, and what they return is well formed.
"""

from __future__ import annotations

import io
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hpe_ros.io.images import (
    SUPPORTED_ENCODINGS,
    ImageDecodeError,
    compressed_to_rgb8,
    depth_image_to_metres,
    image_to_rgb8,
)
from hpe_ros.io.input_bounds import MAX_BOXES, MAX_IMAGE_SIDE, check_boxes, check_camera_info
from hpe_ros.io.messages import camera_from_info


@pytest.fixture
def info(with_intrinsics):
    def make(**changes) -> SimpleNamespace:
        calibrated = SimpleNamespace(width=640, height=480, distortion_model="plumb_bob",
                                     d=[0.1, -0.05, 0.0, 0.0, 0.0],
                                     k=[500.0, 0.0, 320.0, 0.0, 500.0, 240.0, 0.0, 0.0, 1.0],
                                     header=SimpleNamespace(frame_id="cam"))
        return with_intrinsics(calibrated, **changes)

    return make


def test_a_calibrated_camera_passes_and_an_uncalibrated_plumb_bob_with_no_d_too(info) -> None:
    assert camera_from_info(info()).K[0, 0] == 500.0
    assert camera_from_info(info(d=[])).D.size == 0


@pytest.mark.parametrize(("changes", "message"), [
    ({"d": [1e308, 0.0, 0.0, 0.0, 0.0]}, "distortion coefficients"),
    ({"fx": 1e-300}, "fx="),
    ({"fx": 1e300}, "fx="),
    ({"skew": 1e9}, "skew"),
    ({"cx": 700.0}, "principal point"),
    ({"cy": -1.0}, "principal point"),
    ({"distortion_model": "rational_polynomial", "d": []}, "needs its coefficients"),
    ({"fy": 5000.0}, "differ"),
    ({"width": 100_000, "height": 100_000}, "each side"),
    ({"fx": 0.0, "fy": 0.0, "cx": 0.0, "cy": 0.0}, "uncalibrated"),
])
def test_implausible_intrinsics_are_refused_with_the_reason(info, changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_camera_info(info(**changes))


def test_boxes_keep_the_usable_ones_and_say_why_the_rest_went() -> None:
    rows = np.array([[0, 0, 10, 20, 0.9], [5, 5, 5, 9, 0.8], [0, 0, np.nan, 1, 0.5], [0, 0, 3, 3, 1.5]])
    checked = check_boxes(rows)
    np.testing.assert_array_equal(checked.boxes, rows[:1])
    assert checked.refused == 3
    assert "non-finite" in checked.reason and "x_max <= x_min" in checked.reason and "score" in checked.reason
    many = check_boxes(np.tile([0, 0, 1, 1, 0.5], (MAX_BOXES + 3, 1)))
    assert len(many.boxes) == MAX_BOXES and many.refused == 3


# ---- fuzzing: the exact code paths of the node's callbacks ---------------------------------------
_finite_or_not = st.floats(allow_nan=True, allow_infinity=True, width=64)
_sizes = st.integers(min_value=-2, max_value=2 * MAX_IMAGE_SIDE)


@pytest.mark.fuzz
@given(encoding=st.sampled_from([*SUPPORTED_ENCODINGS, "rgb16", "", "jpeg", "8UC3"]),
       height=st.integers(-1, 40), width=st.integers(-1, 40), extra_step=st.integers(-4, 8),
       length_change=st.integers(-3, 3), big=st.booleans(), is_bigendian=st.integers(0, 1))
def test_any_image_message_decodes_or_is_refused(encoding: str, height: int, width: int, extra_step: int,
                                                 length_change: int, big: bool, is_bigendian: int) -> None:
    if big:
        height, width = MAX_IMAGE_SIDE + 1, 1
    step = max(width, 0) * 8 + extra_step
    data = np.random.default_rng(abs(height * 41 + width)).integers(
        0, 256, max(step * max(height, 0) + length_change, 0), dtype=np.uint8) if not big else b"\0"
    msg = SimpleNamespace(encoding=encoding, height=height, width=width, step=step, data=data,
                          is_bigendian=is_bigendian)
    try:
        rgb = image_to_rgb8(msg)
    except ImageDecodeError:
        return
    assert rgb.shape == (height, width, 3) and rgb.dtype == np.uint8


@pytest.mark.fuzz
@given(encoding=st.sampled_from(["16UC1", "32FC1", "mono16", "rgb8", "32FC2"]), height=st.integers(0, 12),
       width=st.integers(0, 12), payload=st.binary(max_size=800))
def test_any_depth_message_gives_metres_or_is_refused(
    encoding: str, height: int, width: int, payload: bytes
) -> None:
    size = 4 if encoding.startswith("32") else 2
    data = (payload * (1 + (height * width * size) // max(len(payload), 1)))[: height * width * size]
    msg = SimpleNamespace(encoding=encoding, height=height, width=width, step=width * size,
                          data=np.frombuffer(data, dtype=np.uint8), is_bigendian=0)
    try:
        metres = depth_image_to_metres(msg)
    except ImageDecodeError:
        return
    known = metres[np.isfinite(metres)]
    assert metres.shape == (height, width) and np.all((known > 0) & (known <= 20.0))


def _encoded(kind: str) -> bytes:
    from PIL import Image as PilImage

    buffer = io.BytesIO()
    PilImage.fromarray(np.arange(8 * 6 * 3, dtype=np.uint8).reshape(6, 8, 3)).save(buffer, format=kind)
    return buffer.getvalue()


_VALID = {"jpeg": _encoded("JPEG"), "png": _encoded("PNG")}


@pytest.mark.fuzz
@given(fmt=st.sampled_from(["jpeg", "png", "rgb8; jpeg compressed bgr8", "", "tiff",
                           "16UC1; compressedDepth"]),
       source=st.sampled_from(["jpeg", "png"]), cut=st.integers(0, 2000),
       flips=st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), max_size=6))
def test_any_compressed_image_decodes_or_is_refused(fmt: str, source: str, cut: int,
                                                    flips: list[tuple[int, int]]) -> None:
    data = bytearray(_VALID[source][: max(cut, 1)])
    for position, value in flips:
        if position < len(data):
            data[position] = value
    try:
        rgb = compressed_to_rgb8(SimpleNamespace(format=fmt, data=bytes(data)))
    except ImageDecodeError:
        return
    assert rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8


@pytest.mark.fuzz
@given(width=_sizes, height=_sizes, k=st.lists(_finite_or_not, min_size=9, max_size=9),
       d=st.lists(_finite_or_not, max_size=9),
       model=st.sampled_from(["", "plumb_bob", "rational_polynomial", "equidistant", "fisheye", "h36m"]))
def test_any_camera_info_gives_a_usable_camera_or_is_refused(info, width: int, height: int, k: list[float],
                                                             d: list[float], model: str) -> None:
    try:
        camera = camera_from_info(info(width=width, height=height, k=k, d=d, distortion_model=model))
    except ValueError:
        return
    assert 0 < camera.width <= MAX_IMAGE_SIDE and 0 < camera.height <= MAX_IMAGE_SIDE
    assert np.all(np.isfinite(camera.K)) and np.all(np.isfinite(camera.D))


@pytest.mark.fuzz
@given(st.integers(0, 2**32 - 1), st.integers(0, 1))
def test_plausible_random_cameras_project_points_in_front_finitely(info, seed: int, distorted: int) -> None:
    rng = np.random.default_rng(seed)
    width, height = int(rng.integers(64, 4000)), int(rng.integers(64, 4000))
    fx = float(rng.uniform(0.3, 3.0)) * max(width, height)
    camera = camera_from_info(info(width=width, height=height, fx=fx, fy=fx, cx=width / 2, cy=height / 2,
                                   d=list(rng.normal(0, 0.05, 5)) if distorted else [0.0] * 5))
    points = np.column_stack([rng.uniform(-1, 1, 20), rng.uniform(-1, 1, 20), rng.uniform(1, 10, 20)])
    assert np.all(np.isfinite(camera.project(points)))


@pytest.mark.fuzz
@given(st.lists(st.lists(_finite_or_not, min_size=5, max_size=5), max_size=300))
def test_any_boxes_leave_only_usable_boxes(rows: list[list[float]]) -> None:
    checked = check_boxes(np.array(rows, dtype=np.float64).reshape(-1, 5))
    boxes = checked.boxes
    assert boxes.shape[1] == 5 and len(boxes) <= MAX_BOXES and checked.refused == len(rows) - len(boxes)
    assert (np.all(np.isfinite(boxes)) and np.all(boxes[:, 2] > boxes[:, 0])
            and np.all(boxes[:, 3] > boxes[:, 1]))
    assert np.all((boxes[:, 4] >= 0) & (boxes[:, 4] <= 1))
    assert bool(checked.reason) == (checked.refused > 0)
