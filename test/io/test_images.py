"""Tests for hpe_ros.io.images: raw and compressed sensor_msgs image decoding."""

from __future__ import annotations

import array
import io
import sys
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hpe_ros.io.images import (
    SUPPORTED_ENCODINGS,
    ImageDecodeError,
    compressed_to_rgb8,
    depth_image_to_metres,
    encode_compressed,
    image_backends,
    image_to_numpy,
    image_to_rgb8,
    rgb8_to_image_fields,
)


@dataclass
class FakeImage:
    """Plain stand-in carrying the Image fields (duck typing is the contract)."""

    height: int
    width: int
    encoding: str
    step: int
    data: object
    is_bigendian: int = 0


@dataclass
class FakeCompressed:
    format: str
    data: object = field(default=b"")


def make_image(pixels: np.ndarray, encoding: str, pad: int = 0, big_endian: bool = False) -> FakeImage:
    """Pack ``pixels`` ((H, W) or (H, W, C)) row by row with ``pad`` junk bytes after every row."""
    height, width = pixels.shape[:2]
    dtype = ">u2" if big_endian else "<u2"
    values = pixels.astype(dtype) if pixels.dtype == np.uint16 else pixels
    rows = values.reshape(height, -1).view(np.uint8).reshape(height, -1)
    junk = np.full((height, pad), 0xAB, dtype=np.uint8)
    padded = np.concatenate([rows, junk], axis=1)
    return FakeImage(height, width, encoding, padded.shape[1], padded.tobytes(), int(big_endian))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


# ------------------------------------------------------------------ native layout


@pytest.mark.parametrize(
    ("encoding", "channels", "dtype"),
    [
        ("rgb8", 3, np.uint8),
        ("bgr8", 3, np.uint8),
        ("rgba8", 4, np.uint8),
        ("bgra8", 4, np.uint8),
        ("8UC3", 3, np.uint8),
        ("mono8", 1, np.uint8),
        ("8UC1", 1, np.uint8),
        ("mono16", 1, np.uint16),
        ("16UC1", 1, np.uint16),
        ("yuv422", 2, np.uint8),
        ("yuv422_yuy2", 2, np.uint8),
        ("bayer_rggb8", 1, np.uint8),
    ],
)
@pytest.mark.parametrize("pad", [0, 5])
def test_image_to_numpy_native_layout_honours_padding(rng, encoding, channels, dtype, pad):
    shape = (3, 4) if channels == 1 else (3, 4, channels)
    pixels = rng.integers(0, np.iinfo(dtype).max, shape, dtype=dtype, endpoint=True)
    decoded = image_to_numpy(make_image(pixels, encoding, pad=pad))
    assert decoded.shape == shape
    assert decoded.dtype == dtype
    np.testing.assert_array_equal(decoded, pixels)


def test_big_endian_mono16_is_byte_swapped(rng):
    pixels = np.array([[0x0102, 0xFF00], [0x00FF, 0xABCD]], dtype=np.uint16)
    for big_endian in (False, True):
        msg = make_image(pixels, "mono16", pad=3, big_endian=big_endian)
        decoded = image_to_numpy(msg)
        assert decoded.dtype == np.uint16 and decoded.dtype.isnative
        np.testing.assert_array_equal(decoded, pixels)
    # the same bytes read with the wrong flag give swapped values, so the flag really matters
    msg.is_bigendian = 0
    np.testing.assert_array_equal(image_to_numpy(msg), pixels.byteswap())


def test_image_to_numpy_reads_data_in_place():
    buffer = array.array("B", range(12))
    decoded = image_to_numpy(FakeImage(2, 2, "rgb8", 6, buffer))
    buffer[0] = 99
    assert decoded[0, 0, 0] == 99


def test_non_uint8_array_data_is_rejected():
    with pytest.raises(ImageDecodeError, match="dtype int64, expected uint8"):
        image_to_numpy(FakeImage(1, 2, "mono8", 2, np.array([1, 2])))


def test_data_may_be_bytes_memoryview_list_or_ndarray():
    raw = bytes(range(6))
    for data in (raw, memoryview(raw), bytearray(raw), list(raw), np.frombuffer(raw, np.uint8)):
        decoded = image_to_numpy(FakeImage(2, 3, "mono8", 3, data))
        np.testing.assert_array_equal(decoded, [[0, 1, 2], [3, 4, 5]])


# ------------------------------------------------------------------ simple conversions to RGB


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "bgra8"])
@pytest.mark.parametrize("pad", [0, 7])
def test_rgb_family_round_trips(rng, encoding, pad):
    rgb = rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)
    fields = rgb8_to_image_fields(rgb, encoding)
    assert fields["step"] == 6 * (4 if encoding.endswith("a8") else 3)
    native = fields["data"].reshape(5, 6, -1)
    if encoding.startswith("bgr"):
        np.testing.assert_array_equal(native[..., :3], rgb[..., ::-1])
    if encoding.endswith("a8"):
        assert (native[..., 3] == 255).all()
    padded = make_image(native, encoding, pad=pad)
    np.testing.assert_array_equal(image_to_rgb8(padded), rgb)
    np.testing.assert_array_equal(image_to_rgb8(FakeImage(**fields)), rgb)


def test_rgb_result_is_a_fresh_writable_array(rng):
    rgb = rng.integers(0, 256, (2, 2, 3), dtype=np.uint8)
    msg = FakeImage(**rgb8_to_image_fields(rgb))
    out = image_to_rgb8(msg)
    out[...] = 0
    np.testing.assert_array_equal(image_to_rgb8(msg), rgb)


def test_8uc3_is_read_as_bgr():
    pixels = np.array([[[10, 20, 30]]], dtype=np.uint8)
    np.testing.assert_array_equal(image_to_rgb8(make_image(pixels, "8UC3")), [[[30, 20, 10]]])


@pytest.mark.parametrize("encoding", ["mono8", "8UC1"])
def test_mono8_is_replicated(encoding):
    gray = np.array([[0, 17], [128, 255]], dtype=np.uint8)
    out = image_to_rgb8(make_image(gray, encoding, pad=2))
    for channel in range(3):
        np.testing.assert_array_equal(out[..., channel], gray)


@pytest.mark.parametrize("encoding", ["mono16", "16UC1"])
def test_16bit_is_scaled_like_cv_bridge(encoding):
    values = np.array([[0, 128, 129, 385], [386, 65535, 257 * 100, 257 * 100 + 128]], dtype=np.uint16)
    expected = np.floor(values.astype(np.float64) * 255.0 / 65535.0 + 0.5).astype(np.uint8)
    assert list(expected.ravel()) == [0, 0, 1, 1, 2, 255, 100, 100]
    out = image_to_rgb8(make_image(values, encoding, big_endian=True))
    np.testing.assert_array_equal(out, np.repeat(expected[..., None], 3, axis=2))


def test_rgb8_to_image_fields_mono_encodings():
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]]], dtype=np.uint8)
    mono8 = rgb8_to_image_fields(rgb, "mono8")
    expected = [(4899 * 255 + 8192) >> 14, (9617 * 255 + 8192) >> 14, (1868 * 255 + 8192) >> 14, 255]
    assert list(mono8["data"]) == expected
    mono16 = rgb8_to_image_fields(rgb, "mono16")
    assert mono16["step"] == 8
    np.testing.assert_array_equal(image_to_numpy(FakeImage(**mono16)), [np.array(expected) * 257])


def test_rgb8_to_image_fields_rejects_bad_input():
    with pytest.raises(ValueError, match="encoding='yuv422'"):
        rgb8_to_image_fields(np.zeros((2, 2, 3), np.uint8), "yuv422")
    with pytest.raises(ValueError, match="uint8"):
        rgb8_to_image_fields(np.zeros((2, 2, 3), np.float32))


# ------------------------------------------------------------------ YUV 4:2:2


def bt601_reference(y: int, u: int, v: int) -> tuple[int, int, int]:
    """OpenCV's fixed-point BT.601 limited-range formula, one pixel at a time."""
    luma = max(y - 16, 0) * 1220542
    half = 1 << 19
    red = (luma + half + 1673527 * (v - 128)) >> 20
    green = (luma + half - 852492 * (v - 128) - 409993 * (u - 128)) >> 20
    blue = (luma + half + 2116026 * (u - 128)) >> 20
    return tuple(min(max(c, 0), 255) for c in (red, green, blue))


def test_bt601_reference_matches_the_textbook_formula():
    # R = 1.164 (Y-16) + 1.596 (V-128) etc., to within rounding
    for y, u, v in [(16, 128, 128), (235, 128, 128), (81, 90, 240), (145, 54, 34), (41, 240, 110)]:
        textbook = (
            1.164 * (y - 16) + 1.596 * (v - 128),
            1.164 * (y - 16) - 0.813 * (v - 128) - 0.391 * (u - 128),
            1.164 * (y - 16) + 2.018 * (u - 128),
        )
        for fixed, exact in zip(bt601_reference(y, u, v), textbook, strict=True):
            assert abs(fixed - min(max(exact, 0), 255)) <= 1


@pytest.mark.parametrize(
    ("encoding", "order"),
    [("yuv422", ("u", "y0", "v", "y1")), ("yuv422_yuy2", ("y0", "u", "y1", "v"))],
)
def test_yuv422_pairs_share_chroma(encoding, order):
    pairs = [  # (y0, y1, u, v): grey, saturated red-ish, blue-ish, clipping extremes
        (16, 235, 128, 128),
        (81, 82, 90, 240),
        (41, 200, 240, 110),
        (0, 255, 0, 255),
    ]
    quads = []
    for y0, y1, u, v in pairs:
        named = {"y0": y0, "y1": y1, "u": u, "v": v}
        quads.append([named[key] for key in order])
    packed = np.array(quads, dtype=np.uint8).reshape(2, 2, 4).reshape(2, 4, 2)  # 2 rows x 4 pixels
    out = image_to_rgb8(make_image(packed, encoding, pad=4))
    expected = np.array(
        [[bt601_reference(y, u, v) for y0, y1, u, v in pairs for y in (y0, y1)]], dtype=np.uint8
    ).reshape(2, 4, 3)
    np.testing.assert_array_equal(out, expected)
    assert tuple(out[0, 0]) == (0, 0, 0) and tuple(out[0, 1]) == (255, 255, 255)


def test_yuv422_random_image_matches_reference(rng):
    packed = rng.integers(0, 256, (3, 6, 2), dtype=np.uint8)
    out = image_to_rgb8(make_image(packed, "yuv422"))
    quads = packed.reshape(3, 3, 4)
    for row in range(3):
        for pair in range(3):
            u, y0, v, y1 = (int(b) for b in quads[row, pair])
            assert tuple(out[row, 2 * pair]) == bt601_reference(y0, u, v)
            assert tuple(out[row, 2 * pair + 1]) == bt601_reference(y1, u, v)


# ------------------------------------------------------------------ Bayer


BAYER_PATTERNS = ["bayer_rggb8", "bayer_bggr8", "bayer_gbrg8", "bayer_grbg8"]


@pytest.mark.parametrize("encoding", BAYER_PATTERNS)
def test_bayer_flat_colour_is_recovered_everywhere(encoding):
    rgb = np.empty((5, 6, 3), dtype=np.uint8)
    rgb[...] = (200, 90, 30)
    out = image_to_rgb8(FakeImage(**rgb8_to_image_fields(rgb, encoding)))
    np.testing.assert_array_equal(out, rgb)


def test_bayer_mosaic_sites_follow_the_pattern_name():
    rgb = np.zeros((2, 2, 3), dtype=np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 10, 20, 30
    assert list(rgb8_to_image_fields(rgb, "bayer_rggb8")["data"]) == [10, 20, 20, 30]
    assert list(rgb8_to_image_fields(rgb, "bayer_bggr8")["data"]) == [30, 20, 20, 10]
    assert list(rgb8_to_image_fields(rgb, "bayer_gbrg8")["data"]) == [20, 30, 10, 20]
    assert list(rgb8_to_image_fields(rgb, "bayer_grbg8")["data"]) == [20, 10, 30, 20]


def bilinear_reference(raw: np.ndarray, pattern: str) -> np.ndarray:
    """Per-pixel bilinear demosaic of the interior (the formula written out, no vectorisation)."""
    height, width = raw.shape
    index = {"r": 0, "g": 1, "b": 2}
    out = np.zeros((height, width, 3), dtype=np.int64)
    value = raw.astype(np.int64)
    for y in range(1, height - 1):
        for x in range(1, width - 1):
            colour = pattern[2 * (y % 2) + x % 2]
            out[y, x, index[colour]] = value[y, x]
            if colour == "g":
                row_colour = pattern[2 * (y % 2) + 1 - x % 2]
                column_colour = pattern[2 * (1 - y % 2) + x % 2]
                out[y, x, index[row_colour]] = (value[y, x - 1] + value[y, x + 1] + 1) // 2
                out[y, x, index[column_colour]] = (value[y - 1, x] + value[y + 1, x] + 1) // 2
            else:
                cross = value[y - 1, x] + value[y + 1, x] + value[y, x - 1] + value[y, x + 1]
                diagonal = sum(value[y + dy, x + dx] for dy in (-1, 1) for dx in (-1, 1))
                out[y, x, 1] = (cross + 2) // 4
                out[y, x, index["b" if colour == "r" else "r"]] = (diagonal + 2) // 4
    return out


@pytest.mark.parametrize("encoding", BAYER_PATTERNS)
@pytest.mark.parametrize("shape", [(4, 4), (5, 7)])
def test_bayer_interior_and_border(rng, encoding, shape):
    raw = rng.integers(0, 256, shape, dtype=np.uint8)
    out = image_to_rgb8(make_image(raw, encoding, pad=3)).astype(np.int64)
    expected = bilinear_reference(raw, encoding[len("bayer_") : -1])
    np.testing.assert_array_equal(out[1:-1, 1:-1], expected[1:-1, 1:-1])
    # the frame copies the nearest interior pixel (OpenCV's border rule)
    np.testing.assert_array_equal(out[0], out[1])
    np.testing.assert_array_equal(out[-1], out[-2])
    np.testing.assert_array_equal(out[:, 0], out[:, 1])
    np.testing.assert_array_equal(out[:, -1], out[:, -2])


def test_bayer_4x4_known_colours():
    # RGGB mosaic of a 4x4 image with every site holding its own known value
    raw = np.array(
        [
            [100, 10, 120, 30],
            [20, 200, 40, 220],
            [140, 50, 160, 70],
            [60, 240, 80, 250],
        ],
        dtype=np.uint8,
    )
    out = image_to_rgb8(make_image(raw, "bayer_rggb8"))
    # (1, 1) is blue: red from 4 diagonals, green from 4 edge neighbours
    assert tuple(out[1, 1]) == ((100 + 120 + 140 + 160 + 2) // 4, (10 + 20 + 40 + 50 + 2) // 4, 200)
    # (1, 2) is green on a blue row: blue from left/right, red from up/down
    assert tuple(out[1, 2]) == ((120 + 160 + 1) // 2, 40, (200 + 220 + 1) // 2)
    # (2, 1) is green on a red row: red from left/right, blue from up/down
    assert tuple(out[2, 1]) == ((140 + 160 + 1) // 2, 50, (200 + 240 + 1) // 2)
    # (2, 2) is red: blue from diagonals, green from edges
    assert tuple(out[2, 2]) == (160, (40 + 80 + 50 + 70 + 2) // 4, (200 + 220 + 240 + 250 + 2) // 4)
    assert tuple(out[0, 0]) == tuple(out[1, 1])


def test_tiny_bayer_image_is_black_like_opencv():
    out = image_to_rgb8(make_image(np.full((2, 5), 200, np.uint8), "bayer_rggb8"))
    assert out.shape == (2, 5, 3) and not out.any()


# ------------------------------------------------------------------ errors


def test_every_supported_encoding_decodes_to_rgb(rng):
    for encoding in SUPPORTED_ENCODINGS:
        channels = {"rgba8": 4, "bgra8": 4, "rgb8": 3, "bgr8": 3, "8UC3": 3, "yuv422": 2, "yuv422_yuy2": 2}
        dtype = np.uint16 if encoding in ("mono16", "16UC1") else np.uint8
        shape = (4, 6, channels[encoding]) if encoding in channels else (4, 6)
        msg = make_image(rng.integers(0, 200, shape).astype(dtype), encoding, pad=2)
        out = image_to_rgb8(msg)
        assert out.shape == (4, 6, 3) and out.dtype == np.uint8, encoding


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"encoding": "rgb16"}, r"encoding='rgb16' is not supported"),
        ({"encoding": ""}, r"encoding='' is not supported"),
        ({"height": 0, "data": b""}, r"height=0"),
        ({"width": 0}, r"width=0"),
        ({"step": 5}, r"step=5 is shorter than width\*bytes_per_pixel=2\*3=6"),
        ({"data": bytes(11)}, r"data length 11 != step\*height = 6\*2 = 12"),
        ({"data": bytes(13)}, r"data length 13 != step\*height"),
    ],
)
def test_inconsistent_messages_name_the_field(changes, message):
    fields = {"height": 2, "width": 2, "encoding": "rgb8", "step": 6, "data": bytes(12)}
    fields.update(changes)
    msg = FakeImage(**fields)
    with pytest.raises(ImageDecodeError, match=message):
        image_to_numpy(msg)
    with pytest.raises(ImageDecodeError, match=message):
        image_to_rgb8(msg)


def test_odd_width_yuv422_is_rejected():
    with pytest.raises(ImageDecodeError, match="width=3 is odd"):
        image_to_rgb8(FakeImage(1, 3, "yuv422", 6, bytes(6)))


def test_missing_field_is_named():
    @dataclass
    class NoStep:
        height: int = 1
        width: int = 1
        encoding: str = "mono8"
        data: bytes = b"\x00"

    with pytest.raises(ImageDecodeError, match="no field 'step'"):
        image_to_numpy(NoStep())


def test_error_is_a_value_error():
    assert issubclass(ImageDecodeError, ValueError)


# ------------------------------------------------------------------ compressed


def test_png_round_trip_is_lossless(rng):
    rgb = rng.integers(0, 256, (7, 9, 3), dtype=np.uint8)
    fmt, data = encode_compressed(rgb, "png")
    assert fmt == "rgb8; png compressed bgr8"
    np.testing.assert_array_equal(compressed_to_rgb8(FakeCompressed(fmt, data)), rgb)


def test_jpeg_round_trip_is_close():
    y, x = np.mgrid[0:32, 0:48]
    rgb = np.stack([x * 5, y * 7, (x + y) * 3], axis=-1).astype(np.uint8)  # smooth, JPEG-friendly
    fmt, data = encode_compressed(rgb, "jpeg", quality=95)
    assert fmt == "rgb8; jpeg compressed bgr8" and data[:3] == b"\xff\xd8\xff"
    out = compressed_to_rgb8(FakeCompressed(fmt, data))
    assert out.shape == rgb.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - rgb).mean() < 3


def test_mono_compressed_is_replicated():
    gray = np.arange(48, dtype=np.uint8).reshape(6, 8) * 5
    fmt, data = encode_compressed(gray, "png")
    assert fmt == "mono8; png compressed mono8"
    out = compressed_to_rgb8(FakeCompressed(fmt, data))
    np.testing.assert_array_equal(out, np.repeat(gray[..., None], 3, axis=2))


@pytest.mark.parametrize("fmt", ["png", "bgr8; png compressed bgr8", "rgb8; png compressed rgb8", ""])
def test_format_string_variants(rng, fmt):
    rgb = rng.integers(0, 256, (3, 3, 3), dtype=np.uint8)
    _, data = encode_compressed(rgb, "png")
    np.testing.assert_array_equal(compressed_to_rgb8(FakeCompressed(fmt, np.frombuffer(data, np.uint8))), rgb)


def test_sixteen_bit_png_is_scaled():
    pil_image = pytest.importorskip("PIL.Image")
    values = np.array([[0, 385, 65535, 25700]], dtype=np.uint16)
    buffer = io.BytesIO()
    pil_image.fromarray(values).save(buffer, format="PNG")
    out = compressed_to_rgb8(FakeCompressed("16UC1; png compressed mono16", buffer.getvalue()))
    np.testing.assert_array_equal(out[..., 0], [[0, 1, 255, 100]])


@pytest.mark.parametrize(
    ("fmt", "data_kind", "message"),
    [
        ("jpeg", "truncated_jpeg", r"not a valid jpeg"),
        ("png", "corrupt_png", r"not a valid png"),
        ("png", "jpeg", r"says png but the data does not start with a png signature"),
        ("tiff", "png", r"format='tiff' names no supported codec"),
        ("", "garbage", r"neither a JPEG nor a PNG signature"),
        ("jpeg", "empty", r"data is empty"),
        ("16UC1; compressedDepth png", "png", r"compressedDepth"),
    ],
)
def test_bad_compressed_payloads_raise(fmt, data_kind, message):
    rgb = np.random.default_rng(5).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    jpeg = encode_compressed(rgb, "jpeg")[1]
    png = encode_compressed(rgb, "png")[1]
    corrupt_png = bytearray(png)
    corrupt_png[40:60] = bytes(20)  # damages IHDR/IDAT contents, CRC no longer matches
    payloads = {
        "truncated_jpeg": jpeg[: len(jpeg) // 2],
        "corrupt_png": bytes(corrupt_png),
        "jpeg": jpeg,
        "png": png,
        "garbage": b"not an image at all",
        "empty": b"",
    }
    with pytest.raises(ImageDecodeError, match=message):
        compressed_to_rgb8(FakeCompressed(fmt, payloads[data_kind]))


def test_encode_compressed_rejects_unknown_format():
    with pytest.raises(ValueError, match="fmt='bmp'"):
        encode_compressed(np.zeros((2, 2, 3), np.uint8), "bmp")


# ------------------------------------------------------------------ real message classes


def test_rclpy_message_classes():
    sensor_msgs = pytest.importorskip("sensor_msgs.msg")
    rgb = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    for encoding in ("rgb8", "bgr8", "mono8", "bayer_grbg8"):
        fields = rgb8_to_image_fields(rgb, encoding)
        msg = sensor_msgs.Image(**{**fields, "data": fields["data"].tobytes()})
        assert isinstance(msg.data, array.array)
        expected = image_to_rgb8(FakeImage(**fields))
        np.testing.assert_array_equal(image_to_rgb8(msg), expected)
    np.testing.assert_array_equal(image_to_rgb8(sensor_msgs.Image(**rgb8_to_image_fields(rgb, "bgr8"))), rgb)
    fmt, data = encode_compressed(rgb, "png")
    compressed = sensor_msgs.CompressedImage(format=fmt, data=data)
    np.testing.assert_array_equal(compressed_to_rgb8(compressed), rgb)


def test_rosbags_message_classes_and_serialisation_round_trip():
    typesys = pytest.importorskip("rosbags.typesys")
    store = typesys.get_typestore(typesys.Stores.ROS2_JAZZY)
    image_type = store.types["sensor_msgs/msg/Image"]
    compressed_type = store.types["sensor_msgs/msg/CompressedImage"]
    header = store.types["std_msgs/msg/Header"](
        stamp=store.types["builtin_interfaces/msg/Time"](sec=1, nanosec=2), frame_id="camera"
    )
    rgb = np.arange(6 * 4 * 3, dtype=np.uint8).reshape(6, 4, 3)
    msg = image_type(header=header, **rgb8_to_image_fields(rgb, "rgba8"))
    raw = store.serialize_cdr(msg, image_type.__msgtype__)
    decoded_msg = store.deserialize_cdr(raw, image_type.__msgtype__)
    assert isinstance(decoded_msg.data, np.ndarray)
    np.testing.assert_array_equal(image_to_rgb8(decoded_msg), rgb)
    fmt, data = encode_compressed(rgb, "png")
    compressed = compressed_type(header=header, format=fmt, data=np.frombuffer(data, np.uint8))
    np.testing.assert_array_equal(compressed_to_rgb8(compressed), rgb)


# ------------------------------------------------------------------ cv_bridge parity (real ROS only)


@pytest.mark.parametrize("encoding", SUPPORTED_ENCODINGS)
def test_cv_bridge_parity(rng, encoding):
    cv_bridge = pytest.importorskip("cv_bridge")
    sensor_msgs = pytest.importorskip("sensor_msgs.msg")
    if encoding in ("8UC1", "8UC3", "16UC1"):
        pytest.skip("cv_bridge refuses non-colour encodings -> rgb8")
    channels = {"rgba8": 4, "bgra8": 4, "rgb8": 3, "bgr8": 3, "yuv422": 2, "yuv422_yuy2": 2}
    dtype = np.uint16 if encoding == "mono16" else np.uint8
    shape = (12, 16, channels[encoding]) if encoding in channels else (12, 16)
    pixels = rng.integers(0, np.iinfo(dtype).max, shape, dtype=dtype, endpoint=True)
    whole_pixel_pad = 2 * pixels.itemsize * (shape[2] if len(shape) == 3 else 1)  # python cv_bridge needs it
    fake = make_image(pixels, encoding, pad=whole_pixel_pad)
    msg = sensor_msgs.Image(
        height=fake.height, width=fake.width, encoding=encoding, step=fake.step, data=fake.data
    )
    expected = cv_bridge.CvBridge().imgmsg_to_cv2(msg, desired_encoding="rgb8")
    np.testing.assert_array_equal(image_to_rgb8(msg), expected)


# ------------------------------------------------------------------ depth images


def _float_image(values: np.ndarray, big_endian: bool = False, pad: int = 0) -> FakeImage:
    height, width = values.shape
    rows = values.astype(">f4" if big_endian else "<f4").view(np.uint8).reshape(height, -1)
    padded = np.concatenate([rows, np.full((height, pad), 0xAB, dtype=np.uint8)], axis=1)
    return FakeImage(height, width, "32FC1", padded.shape[1], padded.tobytes(), int(big_endian))


@pytest.mark.parametrize("big_endian", [False, True])
def test_depth_16uc1_is_millimetres_and_zero_is_unknown(big_endian: bool) -> None:
    millimetres = np.array([[0, 1000, 2500], [65535, 450, 19999]], dtype=np.uint16)
    metres = depth_image_to_metres(make_image(millimetres, "16UC1", pad=3, big_endian=big_endian))
    assert metres.dtype == np.float32
    expected = np.array([[np.nan, 1.0, 2.5], [np.nan, 0.45, 19.999]])  # 65.5 m: beyond any depth camera
    np.testing.assert_allclose(metres, expected, rtol=1e-6)


@pytest.mark.parametrize("big_endian", [False, True])
def test_depth_32fc1_is_metres_with_nan_and_inf_unknown(big_endian: bool) -> None:
    values = np.array([[1.25, np.nan, np.inf], [-1.0, 0.0, 3.5]], dtype=np.float32)
    metres = depth_image_to_metres(_float_image(values, big_endian, pad=4))
    np.testing.assert_allclose(metres, [[1.25, np.nan, np.nan], [np.nan, np.nan, 3.5]])


def test_depth_refuses_colour_and_short_data() -> None:
    with pytest.raises(ImageDecodeError, match="32FC1"):
        depth_image_to_metres(make_image(np.zeros((2, 2, 3), np.uint8), "rgb8"))
    short = _float_image(np.ones((2, 3), np.float32))
    short.data = short.data[:-1]
    with pytest.raises(ImageDecodeError, match="data length"):
        depth_image_to_metres(short)


# ------------------------------------------------------------------ libraries: cv_bridge, OpenCV, numpy

BACKENDS = image_backends()


def test_numpy_is_always_there_and_opencv_is_preferred_to_it():
    assert BACKENDS[-1] == "numpy"
    pytest.importorskip("cv2")
    assert BACKENDS.index("opencv") < BACKENDS.index("numpy")


def test_an_unusable_backend_is_refused_by_name():
    missing = [name for name in ("cv_bridge", "opencv") if name not in BACKENDS]
    if not missing:
        pytest.skip("every backend is usable here")
    msg = make_image(np.zeros((2, 2, 3), np.uint8), "rgb8")
    with pytest.raises(ValueError, match=f"backend='{missing[0]}' is not usable here"):
        image_to_rgb8(msg, backend=missing[0])


def _packed(rgb: np.ndarray, encoding: str) -> np.ndarray:
    """The bytes of ``rgb`` laid out in ``encoding``, written out per encoding (not by the module)."""
    alpha = np.full(rgb.shape[:2] + (1,), 77, np.uint8)
    return {
        "rgb8": rgb,
        "bgr8": rgb[..., ::-1],
        "8UC3": rgb[..., ::-1],
        "rgba8": np.concatenate([rgb, alpha], axis=2),
        "bgra8": np.concatenate([rgb[..., ::-1], alpha], axis=2),
    }[encoding]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "8UC3", "rgba8", "bgra8"])
def test_colour_encodings_give_back_the_image(rng, backend, encoding):
    rgb = rng.integers(0, 256, (9, 14, 3), dtype=np.uint8)
    out = image_to_rgb8(make_image(np.ascontiguousarray(_packed(rgb, encoding)), encoding, pad=5), backend)
    assert out.flags.c_contiguous and out.flags.writeable
    np.testing.assert_array_equal(out, rgb)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("encoding", ["mono8", "8UC1"])
def test_grey_encodings_give_back_the_grey_in_every_channel(rng, backend, encoding):
    gray = rng.integers(0, 256, (7, 10), dtype=np.uint8)
    out = image_to_rgb8(make_image(gray, encoding, pad=3), backend)
    np.testing.assert_array_equal(out, np.stack([gray] * 3, axis=2))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("encoding", ["mono16", "16UC1"])
@pytest.mark.parametrize("big_endian", [False, True])
def test_16bit_levels_near_a_multiple_of_257_give_that_8bit_level(rng, backend, encoding, big_endian):
    # v = 257 g + d with |d| <= 128 is nearest to 257 g: it must read as g (and no other level does)
    gray = rng.integers(0, 256, (6, 9)).astype(np.int64)
    offset = rng.integers(-128, 129, gray.shape)
    values = np.clip(257 * gray + offset, 0, 65535).astype(np.uint16)
    out = image_to_rgb8(make_image(values, encoding, pad=3, big_endian=big_endian), backend)
    np.testing.assert_array_equal(out, np.stack([gray] * 3, axis=2).astype(np.uint8))


def _bt601_forward(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The textbook RGB -> limited-range YCbCr (BT.601), in floating point."""
    red, green, blue = (rgb[..., channel].astype(np.float64) for channel in range(3))
    luma = 16 + 0.257 * red + 0.504 * green + 0.098 * blue
    u = 128 - 0.148 * red - 0.291 * green + 0.439 * blue
    v = 128 + 0.439 * red - 0.368 * green - 0.071 * blue
    return luma, u, v


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("encoding", ["yuv422", "yuv422_yuy2"])
def test_yuv422_of_an_image_gives_it_back(backend, encoding):
    # pairs of equal pixels share their chroma exactly, so only rounding separates the round trip
    colours = np.random.default_rng(3).integers(20, 236, (6, 5, 3))
    rgb = np.repeat(colours, 2, axis=1).astype(np.uint8)
    luma, u, v = (np.clip(np.rint(plane), 0, 255).astype(np.uint8) for plane in _bt601_forward(rgb))
    u, v = u[:, 0::2], v[:, 0::2]
    y0, y1 = luma[:, 0::2], luma[:, 1::2]
    order = (u, y0, v, y1) if encoding == "yuv422" else (y0, u, y1, v)
    packed = np.stack(order, axis=-1).reshape(6, 10, 2)
    out = image_to_rgb8(make_image(packed, encoding, pad=4), backend)
    assert np.abs(out.astype(int) - rgb).max() <= 2


def _ramps(height: int, width: int) -> np.ndarray:
    """Integer linear ramps per channel: bilinear demosaicing restores them exactly inside the frame."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([10 + 3 * x + 2 * y, 200 - 2 * x + y, 40 + x + 4 * y], axis=-1).astype(np.uint8)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("encoding", BAYER_PATTERNS)
def test_bayer_mosaic_of_linear_ramps_is_demosaiced_exactly(backend, encoding):
    rgb = _ramps(12, 17)
    pattern = encoding[len("bayer_") : -1]
    raw = np.empty(rgb.shape[:2], np.uint8)
    for row in (0, 1):
        for column in (0, 1):
            channel = "rgb".index(pattern[2 * row + column])
            raw[row::2, column::2] = rgb[row::2, column::2, channel]
    out = image_to_rgb8(make_image(raw, encoding, pad=3), backend)
    np.testing.assert_array_equal(out[1:-1, 1:-1], rgb[1:-1, 1:-1])
    np.testing.assert_array_equal(out[0], out[1])  # the frame copies its inner neighbour
    np.testing.assert_array_equal(out[:, -1], out[:, -2])


def _random_message(
    encoding: str, height: int, width: int, pad: int, big_endian: bool, seed: int
) -> FakeImage:
    channels = {"rgba8": 4, "bgra8": 4, "rgb8": 3, "bgr8": 3, "8UC3": 3, "yuv422": 2, "yuv422_yuy2": 2}
    dtype = np.uint16 if encoding in ("mono16", "16UC1") else np.uint8
    shape = (height, width, channels[encoding]) if encoding in channels else (height, width)
    pixels = np.random.default_rng(seed).integers(0, np.iinfo(dtype).max, shape, dtype=dtype, endpoint=True)
    return make_image(pixels, encoding, pad=pad, big_endian=big_endian)


def _assert_backends_agree(msg: FakeImage) -> None:
    results = [image_to_rgb8(msg, backend) for backend in BACKENDS]
    for backend, result in zip(BACKENDS[1:], results[1:], strict=True):
        np.testing.assert_array_equal(result, results[0], err_msg=f"{BACKENDS[0]} vs {backend}")


@pytest.mark.parametrize("encoding", SUPPORTED_ENCODINGS)
@pytest.mark.parametrize("pad", [0, 1, 3])  # odd pads start 16-bit rows between two values
@pytest.mark.parametrize("big_endian", [False, True])
def test_every_backend_gives_the_same_pixels_for_every_row_layout(encoding, pad, big_endian):
    _assert_backends_agree(_random_message(encoding, 31, 46, pad, big_endian, seed=pad))


@pytest.mark.fuzz
@given(
    encoding=st.sampled_from(SUPPORTED_ENCODINGS),
    height=st.integers(1, 24),
    half_width=st.integers(1, 12),
    pad=st.integers(0, 9),
    big_endian=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_every_backend_gives_the_same_pixels(encoding, height, half_width, pad, big_endian, seed):
    width = 2 * half_width - (seed % 2 if not encoding.startswith("yuv") else 0)
    _assert_backends_agree(_random_message(encoding, height, width, pad, big_endian, seed))


def _png_with_pillow(array: np.ndarray, palette: bool = False) -> bytes:
    pil_image = pytest.importorskip("PIL.Image")
    image = pil_image.fromarray(array)
    if palette:  # an adaptive palette of as many colours as the image has: exact, no dithering
        colours = len(np.unique(array.reshape(-1, 3), axis=0))
        image = image.convert("P", palette=pil_image.Palette.ADAPTIVE, colors=colours)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("backend", BACKENDS)
def test_png_colour_types_all_give_rgb(rng, backend):
    rgb = rng.integers(0, 256, (5, 8, 3), dtype=np.uint8)
    gray = rng.integers(0, 256, (5, 8), dtype=np.uint8)
    alpha = rng.integers(0, 256, (5, 8, 1), dtype=np.uint8)
    few_colours = np.array([[0, 0, 0], [255, 10, 20], [30, 200, 40]], np.uint8)[rng.integers(0, 3, (5, 8))]
    cases = {
        "RGB": (_png_with_pillow(rgb), rgb),
        "RGBA": (_png_with_pillow(np.concatenate([rgb, alpha], axis=2)), rgb),
        "L": (_png_with_pillow(gray), np.stack([gray] * 3, axis=2)),
        "LA": (_png_with_pillow(np.concatenate([gray[..., None], alpha], axis=2)), np.stack([gray] * 3, 2)),
        "P": (_png_with_pillow(few_colours, palette=True), few_colours),
    }
    for mode, (data, expected) in cases.items():
        out = compressed_to_rgb8(FakeCompressed("png", data), backend)
        np.testing.assert_array_equal(out, expected, err_msg=mode)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sixteen_bit_grey_png_from_opencv_is_scaled_like_raw_16bit(rng, backend):
    cv2 = pytest.importorskip("cv2")
    gray = rng.integers(0, 256, (4, 6)).astype(np.int64)
    values = np.clip(257 * gray + rng.integers(-128, 129, gray.shape), 0, 65535).astype(np.uint16)
    ok, data = cv2.imencode(".png", values)
    assert ok
    out = compressed_to_rgb8(FakeCompressed("16UC1; png compressed mono16", data.tobytes()), backend)
    np.testing.assert_array_equal(out, np.stack([gray] * 3, axis=2).astype(np.uint8))


def test_sixteen_bit_colour_png_opencv_scales_pillow_drops_the_low_byte(rng):
    # A documented difference: Pillow reads 16-bit RGB PNGs as 8-bit by keeping the high byte; OpenCV
    # keeps 16 bits and we scale them as cv_bridge does, so the fallback may be one level off.
    cv2 = pytest.importorskip("cv2")
    values = rng.integers(0, 65536, (4, 6, 3), dtype=np.uint16)
    data = cv2.imencode(".png", values[..., ::-1].copy())[1].tobytes()  # imencode takes BGR
    scaled = np.floor(values / 257.0 + 0.5).astype(np.uint8)
    np.testing.assert_array_equal(compressed_to_rgb8(FakeCompressed("png", data), "opencv"), scaled)
    high_byte = (values >> 8).astype(np.uint8)
    np.testing.assert_array_equal(compressed_to_rgb8(FakeCompressed("png", data), "numpy"), high_byte)
    assert np.abs(scaled.astype(int) - high_byte).max() <= 1


def test_jpeg_from_either_encoder_decodes_to_the_same_pixels_with_every_backend():
    cv2 = pytest.importorskip("cv2")
    rgb = _ramps(24, 40)
    pillow_fmt, pillow_jpeg = encode_compressed(rgb, "jpeg", quality=92)
    opencv_jpeg = cv2.imencode(".jpg", rgb[..., ::-1].copy(), [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes()
    for data in (pillow_jpeg, opencv_jpeg):
        results = [compressed_to_rgb8(FakeCompressed(pillow_fmt, data), backend) for backend in BACKENDS]
        assert np.abs(results[0].astype(int) - rgb).mean() < 3
        for result in results[1:]:
            np.testing.assert_array_equal(result, results[0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_jpeg_without_its_end_marker_is_refused_by_every_backend(backend):
    _, data = encode_compressed(_ramps(16, 16), "jpeg")
    assert data.endswith(b"\xff\xd9")
    with pytest.raises(ImageDecodeError, match="not a valid jpeg"):
        compressed_to_rgb8(FakeCompressed("jpeg", data[:-2]), backend)
    padded = data + bytes(16)  # some drivers pad after the end marker: still a complete image
    assert compressed_to_rgb8(FakeCompressed("jpeg", padded), backend).shape == (16, 16, 3)


def test_opencv_leaves_exif_orientation_alone_like_cv_bridge():
    # an EXIF "rotate 90" tag must not turn the image: cv_bridge decodes with IMREAD_UNCHANGED
    pil_image = pytest.importorskip("PIL.Image")
    rgb = _ramps(8, 16)
    exif = pil_image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 CW to display
    buffer = io.BytesIO()
    pil_image.fromarray(rgb).save(buffer, format="JPEG", quality=95, exif=exif.tobytes())
    for backend in BACKENDS:
        assert compressed_to_rgb8(FakeCompressed("jpeg", buffer.getvalue()), backend).shape == (8, 16, 3)


def test_cv_bridge_backend_matches_opencv_for_every_encoding(rng):
    if "cv_bridge" not in BACKENDS:
        pytest.skip("no working cv_bridge (it comes with a system ROS 2)")
    for encoding in SUPPORTED_ENCODINGS:
        channels = {"rgba8": 4, "bgra8": 4, "rgb8": 3, "bgr8": 3, "8UC3": 3, "yuv422": 2, "yuv422_yuy2": 2}
        dtype = np.uint16 if encoding in ("mono16", "16UC1") else np.uint8
        shape = (10, 12, channels[encoding]) if encoding in channels else (10, 12)
        pixels = rng.integers(0, np.iinfo(dtype).max, shape, dtype=dtype, endpoint=True)
        whole_pixel_pad = 2 * pixels.itemsize * (shape[2] if len(shape) == 3 else 1)
        msg = make_image(pixels, encoding, pad=whole_pixel_pad)
        np.testing.assert_array_equal(image_to_rgb8(msg, "cv_bridge"), image_to_rgb8(msg, "opencv"))


def _forget_backends() -> None:
    from hpe_ros.io import images

    images._opencv.cache_clear()
    images._cv_bridge.cache_clear()


@pytest.fixture
def fresh_backends(monkeypatch):
    """Lets a test change which modules import; the detected libraries are forgotten before and after."""
    _forget_backends()
    yield monkeypatch
    monkeypatch.undo()
    _forget_backends()


def test_without_cv2_numpy_and_pillow_do_everything(rng, fresh_backends):
    pytest.importorskip("cv2")
    messages = [_random_message(encoding, 9, 12, 1, False, seed=5) for encoding in SUPPORTED_ENCODINGS]
    by_opencv = [image_to_rgb8(msg, "opencv") for msg in messages]
    fmt, data = encode_compressed(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), "jpeg")
    jpeg_by_opencv = compressed_to_rgb8(FakeCompressed(fmt, data), "opencv")
    fresh_backends.setitem(sys.modules, "cv2", None)  # `import cv2` now raises ImportError
    _forget_backends()
    assert image_backends() == ("numpy",)
    for msg, expected in zip(messages, by_opencv, strict=True):
        np.testing.assert_array_equal(image_to_rgb8(msg), expected, err_msg=msg.encoding)
    np.testing.assert_array_equal(compressed_to_rgb8(FakeCompressed(fmt, data)), jpeg_by_opencv)


class _StandInBridge:
    """cv_bridge's Python API as documented (imgmsg_to_cv2(msg, desired_encoding)), for the routing
    tests here, where no ROS 2 provides the real one; it converts with OpenCV and records each call."""

    calls: list[str] = []
    refuse: frozenset[str] = frozenset()

    def imgmsg_to_cv2(self, img_msg, desired_encoding="passthrough"):
        assert desired_encoding == "rgb8"
        if img_msg.encoding in self.refuse:
            raise TypeError(f"[{img_msg.encoding}] unsupported")  # cv_bridge.CvBridgeError is a TypeError
        type(self).calls.append(img_msg.encoding)
        return image_to_rgb8(img_msg, "opencv")


def _install_stand_in(monkeypatch, bridge: type) -> None:
    import types

    module = types.ModuleType("cv_bridge")
    module.CvBridge = bridge
    monkeypatch.setitem(sys.modules, "cv_bridge", module)


def test_cv_bridge_converts_what_its_python_api_reads_and_opencv_the_rest(rng, fresh_backends):
    pytest.importorskip("cv2")
    _StandInBridge.calls, _StandInBridge.refuse = [], frozenset({"yuv422_yuy2"})
    _install_stand_in(fresh_backends, _StandInBridge)
    _forget_backends()
    assert image_backends()[0] == "cv_bridge"
    _StandInBridge.calls.clear()  # the probe
    colour = rng.integers(0, 256, (4, 6, 3), dtype=np.uint8)
    cases = {  # message -> does cv_bridge convert it?
        "bgr8 whole-pixel step": (make_image(colour, "bgr8", pad=3), True),
        "bgr8 step between pixels": (make_image(colour, "bgr8", pad=2), False),
        "8UC3 (refused by cv_bridge)": (make_image(colour, "8UC3"), False),
        "big-endian mono16": (make_image(rng.integers(0, 65536, (4, 6), dtype=np.uint16), "mono16",
                                         big_endian=True), False),
        "yuv422_yuy2 (CvBridgeError)": (make_image(colour[..., :2].copy(), "yuv422_yuy2"), False),
    }
    for name, (msg, by_bridge) in cases.items():
        before = len(_StandInBridge.calls)
        np.testing.assert_array_equal(image_to_rgb8(msg), image_to_rgb8(msg, "opencv"), err_msg=name)
        assert (len(_StandInBridge.calls) > before) == by_bridge, name


def test_a_cv_bridge_that_converts_wrongly_is_not_used(fresh_backends):
    class SwapsNothing(_StandInBridge):
        def imgmsg_to_cv2(self, img_msg, desired_encoding="passthrough"):
            return image_to_numpy(img_msg).copy()  # bgr8 returned unconverted, as a broken build might

    _install_stand_in(fresh_backends, SwapsNothing)
    _forget_backends()
    assert "cv_bridge" not in image_backends()
