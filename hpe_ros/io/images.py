"""Decode ``sensor_msgs/Image`` and ``sensor_msgs/CompressedImage`` payloads into numpy arrays.

Works with any object that has the message fields (rclpy's generated classes, rosbags' typestore
classes, plain dataclasses): ``height, width, encoding, is_bigendian, step, data`` for raw images and
``format, data`` for compressed ones. ``data`` may be ``bytes``, ``array.array('B')``, a
``memoryview`` or a numpy ``uint8`` array; it is read in place where possible.

The colour conversions are cv_bridge's (``imgmsg_to_cv2(msg, "rgb8")``), made by the first library of
:func:`image_backends` that can make them:

* ``cv_bridge`` itself, when a system ROS 2 provides a working one (its Python API reads little-endian
  images whose ``step`` is a whole number of pixels; other messages go on to OpenCV);
* OpenCV, the calls cv_bridge makes: ``cvtColor`` with ``COLOR_YUV2RGB_UYVY`` / ``_YUY2`` for the
  yuv422 encodings, bilinear ``COLOR_Bayer**2RGB`` for ``bayer_*8`` (cv_bridge's demosaicing; image_proc's
  debayer node defaults to VNG, but it publishes bgr8, which reaches us already demosaiced),
  ``convertTo(CV_8U, 255/65535)`` for 16-bit, and ``imdecode(IMREAD_UNCHANGED)`` for compressed images;
* numpy (``numpy_colour.py``) when ``cv2`` is missing: the same conversions rewritten, pixel for pixel.

cv2 and Pillow are imported on first use.
"""

from __future__ import annotations

import functools
import io
import sys
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Literal

import numpy as np

from hpe_ros.io import numpy_colour
from hpe_ros.io.input_bounds import MAX_IMAGE_SIDE

__all__ = [
    "SUPPORTED_ENCODINGS",
    "Backend",
    "ImageDecodeError",
    "compressed_to_rgb8",
    "encode_compressed",
    "image_backends",
    "image_to_numpy",
    "image_to_rgb8",
    "rgb8_to_image_fields",
]


class ImageDecodeError(ValueError):
    """A message cannot be decoded; the text names the offending field and its value."""


@dataclass(frozen=True)
class _EncodingLayout:
    """How the pixels of one ROS encoding are laid out in ``data``."""

    channels: int
    bytes_per_channel: int

    @property
    def bytes_per_pixel(self) -> int:
        return self.channels * self.bytes_per_channel


_LAYOUTS: dict[str, _EncodingLayout] = {
    "rgb8": _EncodingLayout(3, 1),
    "bgr8": _EncodingLayout(3, 1),
    "rgba8": _EncodingLayout(4, 1),
    "bgra8": _EncodingLayout(4, 1),
    "mono8": _EncodingLayout(1, 1),
    "mono16": _EncodingLayout(1, 2),
    "8UC1": _EncodingLayout(1, 1),
    "8UC3": _EncodingLayout(3, 1),
    "16UC1": _EncodingLayout(1, 2),
    "yuv422": _EncodingLayout(2, 1),
    "yuv422_yuy2": _EncodingLayout(2, 1),
    "bayer_rggb8": _EncodingLayout(1, 1),
    "bayer_bggr8": _EncodingLayout(1, 1),
    "bayer_gbrg8": _EncodingLayout(1, 1),
    "bayer_grbg8": _EncodingLayout(1, 1),
}

SUPPORTED_ENCODINGS: tuple[str, ...] = tuple(_LAYOUTS)

# Encodings returned as (H, W) by image_to_numpy (single channel, like cv_bridge).
_SINGLE_CHANNEL = frozenset(name for name, layout in _LAYOUTS.items() if layout.channels == 1)

# Channel order in the message for the RGB-like encodings. 8UC3 carries no colour order; OpenCV
# (and so every cv_bridge publisher of a passthrough 8UC3 image) stores BGR, so we read it as BGR.
_TO_RGB_ORDER: dict[str, tuple[int, int, int]] = {
    "rgb8": (0, 1, 2),
    "rgba8": (0, 1, 2),
    "bgr8": (2, 1, 0),
    "bgra8": (2, 1, 0),
    "8UC3": (2, 1, 0),
}

# ---------------------------------------------------------------------------------------------
# Raw bytes -> native array
# ---------------------------------------------------------------------------------------------


def _as_byte_array(data: Any) -> np.ndarray:
    """A flat uint8 view of ``data`` (no copy for buffers and contiguous uint8 arrays)."""
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8:
            raise ImageDecodeError(f"data is a numpy array of dtype {data.dtype}, expected uint8")
        return data.reshape(-1)  # a view unless the array is not contiguous
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except TypeError:  # a plain sequence of ints
        try:
            return np.asarray(data, dtype=np.uint8).reshape(-1)
        except (TypeError, ValueError) as error:
            raise ImageDecodeError(f"data of type {type(data).__name__} is not a byte buffer") from error


def _field(msg: Any, name: str) -> Any:
    try:
        return getattr(msg, name)
    except AttributeError as error:
        raise ImageDecodeError(f"message of type {type(msg).__name__} has no field '{name}'") from error


def _validated_layout(msg: Any, layouts: dict[str, _EncodingLayout] | None = None
                      ) -> tuple[str, _EncodingLayout, int, int, int, np.ndarray]:
    """Check an Image message; return (encoding, layout, height, width, step, bytes)."""
    layouts = _LAYOUTS if layouts is None else layouts
    encoding = _field(msg, "encoding")
    layout = layouts.get(encoding)
    if layout is None:
        raise ImageDecodeError(f"encoding={encoding!r} is not supported; supported: {', '.join(layouts)}")
    height, width, step = int(_field(msg, "height")), int(_field(msg, "width")), int(_field(msg, "step"))
    if height <= 0 or width <= 0:
        raise ImageDecodeError(f"height={height}, width={width}: an image needs at least one pixel")
    if max(height, width) > MAX_IMAGE_SIDE:
        raise ImageDecodeError(
            f"height={height}, width={width}: each side must be at most {MAX_IMAGE_SIDE} pixels"
        )
    row_bytes = width * layout.bytes_per_pixel
    if step < row_bytes:
        raise ImageDecodeError(
            f"step={step} is shorter than width*bytes_per_pixel={width}*{layout.bytes_per_pixel}"
            f"={row_bytes} for encoding {encoding!r}"
        )
    if encoding.startswith("yuv422") and width % 2:
        raise ImageDecodeError(f"width={width} is odd; encoding {encoding!r} packs pixels in pairs")
    raw = _as_byte_array(_field(msg, "data"))
    if raw.size != step * height:
        raise ImageDecodeError(
            f"data length {raw.size} != step*height = {step}*{height} = {step * height}"
        )
    return encoding, layout, height, width, step, raw


def image_to_numpy(msg: Any) -> np.ndarray:
    """The pixels of an Image message in their native layout and dtype.

    Shape ``(H, W)`` for single-channel encodings (mono8, mono16, 8UC1, 16UC1, bayer_*8), else
    ``(H, W, C)`` (C = 2 for the yuv422 encodings). dtype is uint8 or native-endian uint16. The
    result is a *view* of ``msg.data`` whenever no byte swap is needed (read-only for ``bytes``
    data): copy it before changing it.
    """
    encoding, layout, height, width, step, raw = _validated_layout(msg)
    dtype: np.dtype[Any]
    if layout.bytes_per_channel == 1:
        dtype = np.dtype(np.uint8)
    else:
        dtype = np.dtype(">u2" if int(_field(msg, "is_bigendian")) else "<u2")
    pixels = np.ndarray(
        shape=(height, width, layout.channels),
        dtype=dtype,
        buffer=raw,
        strides=(step, layout.bytes_per_pixel, layout.bytes_per_channel),
    )
    if not dtype.isnative:
        pixels = pixels.astype(np.uint16)  # byte swap into a fresh native array
    if encoding in _SINGLE_CHANNEL:
        pixels = pixels[:, :, 0]
    return pixels


# Depth images: REP-118's 16UC1 (millimetres) and 32FC1 (metres); mono16 as some drivers send it.
_DEPTH_LAYOUTS = {
    "16UC1": _EncodingLayout(1, 2),
    "mono16": _EncodingLayout(1, 2),
    "32FC1": _EncodingLayout(1, 4),
}
MAX_DEPTH_M = 20.0  # farther readings are treated as unknown


def depth_image_to_metres(msg: Any) -> np.ndarray:
    """(H, W) float32 metres of a depth Image (16UC1 / mono16 mm, 32FC1 m); NaN where unknown
    (0, NaN, far)."""
    encoding, layout, height, width, step, raw = _validated_layout(msg, _DEPTH_LAYOUTS)
    big_endian = bool(int(_field(msg, "is_bigendian")))
    dtype: np.dtype[Any]
    if encoding == "32FC1":
        dtype = np.dtype(">f4" if big_endian else "<f4")
        scale = 1.0
    else:
        dtype = np.dtype(">u2" if big_endian else "<u2")
        scale = 1e-3
    pixels = np.ndarray(
        shape=(height, width), dtype=dtype, buffer=raw, strides=(step, layout.bytes_per_pixel)
    )
    with np.errstate(invalid="ignore", over="ignore"):  # NaN / inf readings are unknown depth, not an error
        metres = pixels.astype(np.float32) * np.float32(scale)
        metres[~np.isfinite(metres) | (metres <= 0.0) | (metres > MAX_DEPTH_M)] = np.nan
    return metres


# ---------------------------------------------------------------------------------------------
# Libraries
# ---------------------------------------------------------------------------------------------

Backend = Literal["cv_bridge", "opencv", "numpy"]
_PREFERENCE: tuple[Backend, ...] = ("cv_bridge", "opencv", "numpy")


@functools.cache
def _opencv() -> Any | None:
    try:
        import cv2
    except ImportError:
        return None
    return cv2


@functools.cache
def _cv_bridge() -> Any | None:
    """A ``CvBridge`` when a system ROS 2 provides one that converts a probe image correctly, else None."""
    try:
        from cv_bridge import CvBridge

        bridge = CvBridge()
        probe = SimpleNamespace(height=1, width=2, encoding="bgr8", is_bigendian=int(sys.byteorder == "big"),
                                step=6, data=bytes([1, 2, 3, 4, 5, 6]))
        converted = np.asarray(bridge.imgmsg_to_cv2(probe, desired_encoding="rgb8"))
    except Exception:  # not installed, built against another numpy or OpenCV, ...: not usable here
        return None
    return bridge if np.array_equal(converted, [[[3, 2, 1], [6, 5, 4]]]) else None


def image_backends() -> tuple[Backend, ...]:
    """The conversion libraries usable here, most preferred first (numpy is always there)."""
    usable = {"cv_bridge": _cv_bridge() is not None, "opencv": _opencv() is not None, "numpy": True}
    return tuple(name for name in _PREFERENCE if usable[name])


def _chosen(backend: Backend | None) -> Backend:
    available = image_backends()
    if backend is None:
        return available[0]
    if backend not in available:
        raise ValueError(f"backend={backend!r} is not usable here; usable: {', '.join(available)}")
    return backend


# ---------------------------------------------------------------------------------------------
# Conversions to RGB
# ---------------------------------------------------------------------------------------------

# cv_bridge's conversion of each encoding to rgb8, as the OpenCV code it runs (rgb8 itself is a copy).
_OPENCV_TO_RGB: dict[str, str] = {
    "bgr8": "COLOR_BGR2RGB",
    "8UC3": "COLOR_BGR2RGB",
    "rgba8": "COLOR_RGBA2RGB",
    "bgra8": "COLOR_BGRA2RGB",
    "mono8": "COLOR_GRAY2RGB",
    "8UC1": "COLOR_GRAY2RGB",
    "mono16": "COLOR_GRAY2RGB",
    "16UC1": "COLOR_GRAY2RGB",
    "yuv422": "COLOR_YUV2RGB_UYVY",
    "yuv422_yuy2": "COLOR_YUV2RGB_YUY2",
    # OpenCV names a Bayer pattern by the second row's 2nd and 3rd pixels, ROS by the top-left 2x2 cell
    "bayer_rggb8": "COLOR_BayerBG2RGB",
    "bayer_bggr8": "COLOR_BayerRG2RGB",
    "bayer_gbrg8": "COLOR_BayerGR2RGB",
    "bayer_grbg8": "COLOR_BayerGB2RGB",
}

# cv_bridge refuses these (no colour information); we read them as OpenCV stores them.
_CV_BRIDGE_REFUSES = frozenset({"8UC1", "8UC3", "16UC1"})


def _opencv_rgb8(cv2: Any, pixels: np.ndarray, encoding: str) -> np.ndarray:
    if encoding == "rgb8":
        return np.array(pixels, dtype=np.uint8, copy=True, order="C")  # plain memcpy
    if pixels.dtype == np.uint16:
        if pixels.strides[0] % pixels.itemsize:
            pixels = np.ascontiguousarray(pixels)  # cv2 misreads rows that start between two uint16
        pixels = cv2.convertScaleAbs(pixels, alpha=255.0 / 65535.0)  # convertTo(CV_8U, 255/65535)
    return cv2.cvtColor(pixels, getattr(cv2, _OPENCV_TO_RGB[encoding]))


def _numpy_rgb8(pixels: np.ndarray, encoding: str) -> np.ndarray:
    if encoding in _TO_RGB_ORDER:
        order = _TO_RGB_ORDER[encoding]
        if order == (0, 1, 2) and pixels.shape[2] == 3:
            return np.array(pixels, dtype=np.uint8, copy=True, order="C")  # plain memcpy
        return numpy_colour.pick_channels(pixels, order)
    if encoding in ("mono8", "8UC1"):
        return numpy_colour.gray_to_rgb(pixels)
    if encoding in ("mono16", "16UC1"):
        return numpy_colour.gray_to_rgb(numpy_colour.scale_16_to_8(pixels))
    if encoding.startswith("yuv422"):
        return numpy_colour.yuv422_to_rgb(pixels, encoding)
    if encoding.startswith("bayer_"):
        return numpy_colour.bayer_to_rgb(pixels, encoding[len("bayer_") : -1])
    raise AssertionError(f"unhandled encoding {encoding!r}")  # every _LAYOUTS key is handled above


def _cv_bridge_rgb8(bridge: Any, msg: Any, encoding: str) -> np.ndarray | None:
    """cv_bridge's own conversion, or None for a message its Python API cannot read."""
    layout = _LAYOUTS[encoding]
    native_order = bool(int(_field(msg, "is_bigendian"))) == (sys.byteorder == "big")
    if encoding in _CV_BRIDGE_REFUSES or not native_order or int(msg.step) % layout.bytes_per_pixel:
        return None
    try:
        rgb = np.asarray(bridge.imgmsg_to_cv2(msg, desired_encoding="rgb8"))
    except (TypeError, ValueError, RuntimeError, AttributeError):  # CvBridgeError is a TypeError
        return None
    if rgb.shape != (int(msg.height), int(msg.width), 3) or rgb.dtype != np.uint8:
        return None
    return rgb


def image_to_rgb8(msg: Any, backend: Backend | None = None) -> np.ndarray:
    """An Image message as a fresh ``(H, W, 3)`` uint8 RGB array, for every supported encoding.

    mono/8UC1 are replicated to three channels; 16-bit values are scaled by 255/65535 (rounded, as
    cv_bridge does); 8UC3 is read as BGR (OpenCV's order); alpha is dropped; yuv422 and bayer are
    converted as cv_bridge does (see the module docstring). ``backend`` picks the library (default:
    the first of :func:`image_backends`); every backend gives the same pixels.
    """
    pixels = image_to_numpy(msg)  # validates the message first, whichever library converts it
    encoding = msg.encoding
    chosen = _chosen(backend)
    if chosen == "cv_bridge":
        rgb = _cv_bridge_rgb8(_cv_bridge(), msg, encoding)
        if rgb is not None:
            return rgb
        chosen = "opencv" if _opencv() is not None else "numpy"
    if chosen == "opencv":
        return _opencv_rgb8(_opencv(), pixels, encoding)
    return _numpy_rgb8(pixels, encoding)


# ---------------------------------------------------------------------------------------------
# RGB -> Image fields
# ---------------------------------------------------------------------------------------------

_FIELD_ENCODINGS = ("rgb8", "bgr8", "rgba8", "bgra8", "mono8", "mono16") + tuple(
    name for name in SUPPORTED_ENCODINGS if name.startswith("bayer_")
)


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ValueError(f"expected a non-empty (H, W, 3) uint8 RGB array, got {rgb.shape} {rgb.dtype}")
    return rgb


def rgb8_to_image_fields(rgb: np.ndarray, encoding: str = "rgb8") -> dict[str, Any]:
    """Fields for an Image message holding ``rgb`` in ``encoding`` (rows unpadded, little-endian).

    Returns ``height, width, encoding, is_bigendian, step, data`` with ``data`` a flat uint8 numpy
    array, which both rosbags (needs ndarray) and rclpy (converts to array) accept. Encodings:
    rgb8, bgr8, rgba8, bgra8 (alpha 255), mono8 (OpenCV 4's RGB2GRAY weights; OpenCV 5
    rounds 0.1 % of pixels the other way), mono16 (mono8 * 257)
    and the bayer_*8 mosaics (each site keeps its own colour).
    """
    rgb = _check_rgb(rgb)
    height, width = rgb.shape[:2]
    pixels: np.ndarray
    if encoding in ("rgb8", "bgr8", "rgba8", "bgra8"):
        order = list(_TO_RGB_ORDER[encoding])
        pixels = np.empty((height, width, 4 if encoding.endswith("a8") else 3), dtype=np.uint8)
        pixels[..., :3] = rgb[..., order]  # the permutation is its own inverse
        if pixels.shape[2] == 4:
            pixels[..., 3] = 255
    elif encoding == "mono8":
        pixels = numpy_colour.rgb_to_gray(rgb)
    elif encoding == "mono16":
        pixels = numpy_colour.rgb_to_gray(rgb).astype("<u2") * np.uint16(257)
        pixels = pixels.astype("<u2")
    elif encoding.startswith("bayer_"):
        pattern = encoding[len("bayer_") : -1]
        pixels = np.empty((height, width), dtype=np.uint8)
        for parity_y in (0, 1):
            for parity_x in (0, 1):
                channel = numpy_colour.CHANNEL_INDEX[pattern[2 * parity_y + parity_x]]
                pixels[parity_y::2, parity_x::2] = rgb[parity_y::2, parity_x::2, channel]
    else:
        choices = ", ".join(_FIELD_ENCODINGS)
        raise ValueError(f"encoding={encoding!r} cannot be written; choose one of {choices}")
    data = np.ascontiguousarray(pixels).reshape(-1).view(np.uint8)
    return {
        "height": height,
        "width": width,
        "encoding": encoding,
        "is_bigendian": 0,
        "step": width * _LAYOUTS[encoding].bytes_per_pixel,
        "data": data,
    }


# ---------------------------------------------------------------------------------------------
# Compressed images
# ---------------------------------------------------------------------------------------------

_MAGIC = {"jpeg": b"\xff\xd8\xff", "png": b"\x89PNG\r\n\x1a\n"}
_PIL_FORMAT = {"jpeg": "JPEG", "png": "PNG"}


def _import_pillow() -> Any:
    try:
        from PIL import Image as PilImage
    except ImportError as error:  # pragma: no cover - Pillow is a declared dependency
        raise ImportError("compressed images need Pillow: pip install pillow") from error
    return PilImage


def _codec_from_format(fmt: str, payload: np.ndarray) -> str:
    """'jpeg' or 'png' from a ROS format string; an empty string is resolved from the magic bytes."""
    text = fmt.strip().lower()
    if "compresseddepth" in text.replace(" ", ""):
        raise ImageDecodeError(f"format={fmt!r}: compressedDepth images are depth, not RGB; not supported")
    # ROS writes "<encoding>; <codec> compressed <target>" or just "<codec>"
    codec_part = text.split(";", 1)[1] if ";" in text else text
    words = codec_part.replace(",", " ").split()
    if "jpeg" in words or "jpg" in words:
        return "jpeg"
    if "png" in words:
        return "png"
    if not text:
        head = payload[:8].tobytes()
        for codec, magic in _MAGIC.items():
            if head.startswith(magic):
                return codec
        raise ImageDecodeError("format='' and the data starts with neither a JPEG nor a PNG signature")
    raise ImageDecodeError(f"format={fmt!r} names no supported codec (jpeg, png)")


# A complete JPEG ends with an end-of-image marker, which entropy-coded data cannot contain (a 0xFF
# there is followed by 0x00 or a restart marker). Looked for in the tail, where encoders put it,
# because OpenCV 4's decoder pads a truncated image with grey instead of failing.
_JPEG_END = b"\xff\xd9"
_JPEG_TAIL = 4096


def _check_complete(codec: str, payload: np.ndarray, fmt: str) -> None:
    if codec == "jpeg" and _JPEG_END not in payload[-_JPEG_TAIL:].tobytes():
        raise ImageDecodeError(
            f"data ({payload.size} bytes, format={fmt!r}) is not a valid jpeg: no end-of-image marker "
            "(truncated)"
        )


def compressed_to_rgb8(msg: Any, backend: Backend | None = None) -> np.ndarray:
    """A CompressedImage (jpeg or png) as a fresh ``(H, W, 3)`` uint8 RGB array.

    Grey images are replicated to three channels, 16-bit PNGs scaled as in :func:`image_to_rgb8`,
    alpha is dropped, EXIF orientation is ignored (as cv_bridge's ``IMREAD_UNCHANGED``). A corrupt,
    truncated or mislabelled payload raises ImageDecodeError. Pillow reads the header (the size
    bound is checked before anything is decoded); the pixels are decoded by OpenCV unless
    ``backend="numpy"`` or cv2 is missing, then by Pillow (the same pixels: both run libjpeg-turbo and
    zlib). cv_bridge's ``compressed_imgmsg_to_cv2`` is not used: it labels every decoded image bgr8,
    which fails for grey, 16-bit and BGRA ones.
    """
    fmt = str(_field(msg, "format"))
    payload = _as_byte_array(_field(msg, "data"))
    if payload.size == 0:
        raise ImageDecodeError(f"data is empty (format={fmt!r})")
    codec = _codec_from_format(fmt, payload)
    if not payload[: len(_MAGIC[codec])].tobytes() == _MAGIC[codec]:
        raise ImageDecodeError(
            f"format={fmt!r} says {codec} but the data does not start with a {codec} signature"
        )
    _check_complete(codec, payload, fmt)
    cv2 = _opencv() if _chosen(backend) != "numpy" else None
    pil = _import_pillow()
    try:
        with pil.open(io.BytesIO(payload.data), formats=[_PIL_FORMAT[codec]]) as image:
            if max(image.size) > MAX_IMAGE_SIDE:
                raise ImageDecodeError(
                    f"the {codec} is {image.size[0]}x{image.size[1]}; each side must be at "
                    f"most {MAX_IMAGE_SIDE} pixels"
                )
            if cv2 is None:
                image.load()
                return numpy_colour.pil_to_rgb8(image)
    except ImageDecodeError:
        raise
    except (OSError, ValueError, SyntaxError, EOFError, pil.DecompressionBombError) as error:
        raise ImageDecodeError(
            f"data ({payload.size} bytes, format={fmt!r}) is not a valid {codec}: {error}"
        ) from error
    return _opencv_decode(cv2, payload, codec, fmt)


# imdecode(IMREAD_UNCHANGED) gives (H, W) grey or BGR / BGRA, 8 or 16 bits
_DECODED_TO_RGB = {1: "COLOR_GRAY2RGB", 3: "COLOR_BGR2RGB", 4: "COLOR_BGRA2RGB"}


def _opencv_decode(cv2: Any, payload: np.ndarray, codec: str, fmt: str) -> np.ndarray:
    try:
        decoded = cv2.imdecode(payload, cv2.IMREAD_UNCHANGED)  # cv_bridge's call
    except cv2.error as error:
        decoded, reason = None, str(error).strip().splitlines()[-1]
    else:
        reason = "OpenCV could not decode it"
    channels = None if decoded is None else (1 if decoded.ndim == 2 else decoded.shape[2])
    if channels not in _DECODED_TO_RGB or decoded.dtype not in (np.uint8, np.uint16):
        raise ImageDecodeError(
            f"data ({payload.size} bytes, format={fmt!r}) is not a valid {codec}: {reason}"
        )
    if decoded.dtype == np.uint16:
        decoded = cv2.convertScaleAbs(decoded, alpha=255.0 / 65535.0)
    return cv2.cvtColor(decoded, getattr(cv2, _DECODED_TO_RGB[channels]))


def encode_compressed(rgb: np.ndarray, fmt: str = "jpeg", quality: int = 90) -> tuple[str, bytes]:
    """Compress an RGB (or ``(H, W)`` grey) uint8 image; returns (format string, data) as ROS writes them.

    Format strings follow compressed_image_transport: ``"rgb8; jpeg compressed bgr8"``,
    ``"rgb8; png compressed bgr8"``, ``"mono8; jpeg compressed mono8"``. ``quality`` is JPEG's
    quality (1..100); PNG is lossless and ignores it.
    """
    if fmt not in _MAGIC:
        raise ValueError(f"fmt={fmt!r}: choose 'jpeg' or 'png'")
    array = np.asarray(rgb)
    if array.ndim == 2 and array.dtype == np.uint8 and array.size:
        source_encoding, target = "mono8", "mono8"
    else:
        array = _check_rgb(array)
        source_encoding, target = "rgb8", "bgr8"
    pil = _import_pillow()
    buffer = io.BytesIO()
    image = pil.fromarray(np.ascontiguousarray(array))
    if fmt == "jpeg":
        image.save(buffer, format="JPEG", quality=int(quality))
    else:
        image.save(buffer, format="PNG")
    return f"{source_encoding}; {fmt} compressed {target}", buffer.getvalue()
