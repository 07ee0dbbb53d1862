"""Event-camera bags made from intensity frames: frames -> simulated events -> EVT 3.0 packets -> rosbag2.

:func:`simulate_event_bag` streams frames through the
:class:`~hpe_ros.pipelines.events.simulator.EventSimulator` and writes
``event_camera_msgs/msg/EventPacket`` messages (encoding ``evt3``), optionally with the gray
frames as ``sensor_msgs/msg/Image`` (``mono8``) on a second topic. Frames come from
:func:`open_frame_source`: a video file (OpenCV), a folder of images, or one image animated by a
slow zoom and shift so that something moves.

Time conventions (those of :mod:`hpe_ros.io.events`):

* event times are truncated to whole microseconds (EVT 3.0's resolution) before packing, so the
  events in the bag are exactly the simulated ones with ``t // 1000 * 1000``;
* the sensor clock starts at 0 at the first frame: the EVT 3.0 words hold
  ``(t - first frame stamp)`` in microseconds (modulo 2^24, as a sensor's counter);
* a packet holds the events of ``[origin + k P, origin + (k + 1) P)`` (``P`` = ``packet_us``;
  slots without events are not written); its ``header.stamp`` is the ROS time of its first
  event, so :class:`~hpe_ros.io.events.EventPacketDecoder` (``time_reference="ros"``) gives the
  original ROS times back exactly and ``"sensor"`` gives times from the first frame; ``seq``
  counts packets from 0 and ``time_base`` is 0 (unused by evt3);
* a packet's bag (receive) time is the end of its slot, or the last frame's stamp for the final
  partial slot; images are stamped, and written, at their frame's stamp.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from hpe_ros.io.bags import BagWriter
from hpe_ros.io.events import encode_evt3
from hpe_ros.io.message_classes import RosbagsMessageClasses
from hpe_ros.io.messages import make_header
from hpe_ros.pipelines.events.simulator import EventSimulator, EventSimulatorConfig

EVT3_MAX_SIZE = 2048  # EVT 3.0 addresses have 11 bits
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".pgm", ".ppm", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".gif")


@dataclass
class EventBagReport:
    """What :func:`simulate_event_bag` wrote."""

    path: Path
    width: int = 0
    height: int = 0
    frames: int = 0
    events: int = 0
    on_events: int = 0
    packets: int = 0
    images: int = 0
    first_stamp_ns: int = 0
    last_stamp_ns: int = 0
    topics: dict[str, str] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return (self.last_stamp_ns - self.first_stamp_ns) * 1e-9

    def summary(self) -> str:
        rate = self.events / self.duration_s if self.duration_s > 0 else 0.0
        lines = [
            f"wrote {self.path}",
            f"  sensor {self.width} x {self.height}, {self.frames} frames over {self.duration_s:.3f} s",
            f"  {self.events} events ({self.on_events} ON, {self.events - self.on_events} OFF; "
            f"{rate / 1e6:.3f} Mev/s) in {self.packets} evt3 packets",
        ]
        lines += [f"  {topic}: {msgtype}" for topic, msgtype in self.topics.items()]
        return "\n".join(lines)


def to_gray(frame: np.ndarray) -> np.ndarray:
    """(H, W) or (H, W, 3|4) uint8 RGB(A) -> (H, W) uint8 gray (ITU-R BT.601 weights, as OpenCV)."""
    frame = np.asarray(frame)
    if frame.ndim == 2:
        gray = frame
    elif frame.ndim == 3 and frame.shape[2] in (3, 4):
        gray = np.rint(frame[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))
    else:
        raise ValueError(f"expected a gray (H, W) or colour (H, W, 3) frame, got shape {frame.shape}")
    if gray.dtype != np.uint8:
        gray = np.clip(gray, 0, 255).astype(np.uint8)
    return gray


class _Packetizer:
    """Collects time-sorted events and hands out complete fixed-duration slots."""

    def __init__(self, origin_ns: int, packet_ns: int) -> None:
        self.origin_ns, self.packet_ns = origin_ns, packet_ns
        self._pending: list[np.ndarray] = []

    def add(self, events: np.ndarray) -> None:
        if events.size:
            self._pending.append(events)

    def complete(self, until_ns: int | None) -> Iterator[tuple[np.ndarray, int]]:
        """(events, slot end) of every non-empty slot ending at or before ``until_ns`` (None: all)."""
        if not self._pending:
            return
        events = np.concatenate(self._pending)
        slot = (events["t"] - self.origin_ns) // self.packet_ns
        if until_ns is None:
            done = events.size
        else:
            last_done = (until_ns - self.origin_ns) // self.packet_ns  # slots below this one are complete
            done = int(np.searchsorted(slot, last_done, side="left"))
        rest = events[done:]
        self._pending = [rest] if rest.size else []
        if done == 0:
            return
        slot = slot[:done]
        starts = np.flatnonzero(np.r_[True, slot[1:] != slot[:-1]])
        for begin, end in zip(starts, np.r_[starts[1:], done], strict=True):
            yield events[begin:end], self.origin_ns + (int(slot[begin]) + 1) * self.packet_ns


def simulate_event_bag(
    frames: Iterable[np.ndarray],
    stamps_ns: Iterable[int],
    out_bag: str | Path,
    *,
    simulator: EventSimulatorConfig | None = None,
    events_topic: str = "/event_camera/events",
    gray_topic: str | None = "/event_camera/image_raw",
    frame_id: str = "event_camera",
    packet_us: int = 1000,
    storage: str = "sqlite3",
    vectorize: bool = True,
) -> EventBagReport:
    """Simulate events from ``frames`` (uint8 gray or RGB, one size) at increasing ``stamps_ns``
    and write them to a new bag (see the module docstring for the time conventions).

    ``gray_topic`` None writes no images. ``vectorize`` packs events of one row and time into
    EVT 3.0 vector words, as sensors do (smaller packets, same events).
    """
    if packet_us <= 0:
        raise ValueError(f"packet_us must be positive, got {packet_us}")
    classes = RosbagsMessageClasses()
    report = EventBagReport(path=Path(out_bag))
    sim: EventSimulator | None = None
    packets: _Packetizer | None = None
    origin_ns = 0
    last_stamp: int | None = None
    with BagWriter(out_bag, storage=storage, typestore=classes.typestore) as writer:

        def write_packets(until_ns: int | None, bag_time_ns: int) -> None:
            assert packets is not None
            for events, slot_end in packets.complete(until_ns):
                shifted = events.copy()
                shifted["t"] -= origin_ns  # the sensor clock starts at the first frame
                msg = classes.new(
                    "event_camera_msgs/msg/EventPacket",
                    header=make_header(classes, int(events["t"][0]), frame_id),
                    height=report.height, width=report.width, seq=report.packets, time_base=0,
                    encoding="evt3", is_bigendian=False,
                    events=np.frombuffer(encode_evt3(shifted, vectorize=vectorize), np.uint8),
                )
                writer.write(events_topic, msg, min(slot_end, bag_time_ns))
                report.packets += 1
                report.events += events.size
                report.on_events += int(np.count_nonzero(events["p"]))

        for frame, stamp in zip(frames, stamps_ns):  # noqa: B905 - stamps may be an endless generator
            gray = to_gray(frame)
            stamp = int(stamp)
            if sim is None:
                height, width = gray.shape
                if width > EVT3_MAX_SIZE or height > EVT3_MAX_SIZE:
                    raise ValueError(f"frames of {width} x {height} do not fit EVT 3.0 (at most "
                                     f"{EVT3_MAX_SIZE} x {EVT3_MAX_SIZE}); resize them first")
                sim = EventSimulator(height, width, simulator)
                origin_ns = stamp // 1000 * 1000
                packets = _Packetizer(origin_ns, packet_us * 1000)
                report.width, report.height, report.first_stamp_ns = width, height, stamp
                report.topics[events_topic] = "event_camera_msgs/msg/EventPacket"
                if gray_topic:
                    report.topics[gray_topic] = "sensor_msgs/msg/Image"
            elif gray.shape != (report.height, report.width):
                raise ValueError(f"frame {report.frames} is {gray.shape[1]} x {gray.shape[0]}, the first was "
                                 f"{report.width} x {report.height}")
            elif stamp <= last_stamp:  # type: ignore[operator]
                raise ValueError(f"frame stamps must increase: {stamp} after {last_stamp}")
            events = sim.simulate(gray[None], np.array([stamp], np.int64))
            events["t"] = events["t"] // 1000 * 1000
            packets.add(events)  # type: ignore[union-attr]
            write_packets(stamp, stamp)  # later events are at or after this stamp
            if gray_topic:
                writer.write(gray_topic, _mono8_image(classes, gray, stamp, frame_id), stamp)
                report.images += 1
            report.frames += 1
            last_stamp = stamp
        if packets is not None and last_stamp is not None:
            write_packets(None, last_stamp)
            report.last_stamp_ns = last_stamp
    return report


def _mono8_image(classes: RosbagsMessageClasses, gray: np.ndarray, stamp_ns: int, frame_id: str) -> object:
    height, width = gray.shape
    return classes.new(
        "sensor_msgs/msg/Image", header=make_header(classes, stamp_ns, frame_id), height=height, width=width,
        encoding="mono8", is_bigendian=0, step=width, data=np.ascontiguousarray(gray).reshape(-1),
    )


# --------------------------------------------------------------------------- frame sources


@dataclass(frozen=True)
class FrameSource:
    """Gray uint8 frames to be read once, their rate and, when known, their number."""

    description: str
    fps: float
    count: int | None
    frames: Iterator[np.ndarray]

    def stamps_ns(self, start_ns: int = 0) -> Iterator[int]:
        """``start_ns + round(i * 1e9 / fps)`` for i = 0, 1, ..."""
        index = 0
        while True:
            yield start_ns + int(round(index * 1e9 / self.fps))
            index += 1


def _import_cv2() -> object | None:
    try:
        import cv2
    except ImportError:
        return None
    return cv2


def read_image_gray(path: str | Path) -> np.ndarray:
    """One image file -> (H, W) uint8 gray (Pillow)."""
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("L"), dtype=np.uint8)


def resize_gray(gray: np.ndarray, width: int, height: int) -> np.ndarray:
    """Area-averaged (downscaling) or bilinear resize with Pillow."""
    from PIL import Image

    if gray.shape == (height, width):
        return gray
    method = Image.Resampling.BOX if width <= gray.shape[1] else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(gray).resize((width, height), method), dtype=np.uint8)


def _video_frames(path: Path, max_frames: int | None) -> tuple[Iterator[np.ndarray], float, int | None]:
    cv2 = _import_cv2()
    if cv2 is None:
        raise RuntimeError(f"reading the video {path} needs OpenCV (pip install opencv-python-headless); "
                           "or give a folder of images")
    capture = cv2.VideoCapture(str(path))  # type: ignore[attr-defined]
    if not capture.isOpened():
        raise ValueError(f"OpenCV cannot open the video {path}")
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)  # type: ignore[attr-defined]
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)  # type: ignore[attr-defined]
    count = min(total, max_frames) if total > 0 and max_frames else (total or max_frames or None)

    def read() -> Iterator[np.ndarray]:
        try:
            produced = 0
            while max_frames is None or produced < max_frames:
                ok, bgr = capture.read()
                if not ok:
                    break
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)  # type: ignore[attr-defined]
                produced += 1
        finally:
            capture.release()

    return read(), fps, count


def animate_image(
    gray: np.ndarray, count: int, zoom: float = 0.15, shift_px: float = 12.0
) -> Iterator[np.ndarray]:
    """``count`` frames of ``gray`` slowly zooming in (up to ``1 + zoom``) and drifting sideways.

    Bilinear resampling about the image centre; pixels sampled outside the image take the edge.
    """
    height, width = gray.shape
    image = gray.astype(np.float32)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    cy, cx = (height - 1) / 2.0, (width - 1) / 2.0
    for index in range(count):
        phase = index / max(count - 1, 1)
        scale = 1.0 + zoom * phase
        angle = 2 * math.pi * phase
        dx, dy = shift_px * math.sin(angle), 0.5 * shift_px * (1 - math.cos(angle))
        src_x = np.clip((xs - cx - dx) / scale + cx, 0, width - 1)
        src_y = np.clip((ys - cy - dy) / scale + cy, 0, height - 1)
        x0, y0 = np.floor(src_x).astype(np.int64), np.floor(src_y).astype(np.int64)
        x1, y1 = np.minimum(x0 + 1, width - 1), np.minimum(y0 + 1, height - 1)
        fx, fy = src_x - x0, src_y - y0
        top = image[y0, x0] * (1 - fx) + image[y0, x1] * fx
        bottom = image[y1, x0] * (1 - fx) + image[y1, x1] * fx
        yield np.clip(np.rint(top * (1 - fy) + bottom * fy), 0, 255).astype(np.uint8)


def open_frame_source(
    path: str | Path,
    *,
    fps: float | None = None,
    max_frames: int | None = None,
    animate_frames: int = 60,
    size: tuple[int, int] | None = None,
) -> FrameSource:
    """Gray frames from a video file, a folder of images (sorted by name) or one image (animated).

    ``fps`` overrides the video's rate (default 30 for images); ``size`` (width, height) resizes.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such video, image or folder: {path}")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {path}")
        files = files[:max_frames] if max_frames else files
        source = FrameSource(f"{len(files)} images in {path}", fps or 30.0, len(files),
                             (read_image_gray(f) for f in files))
    elif path.suffix.lower() in IMAGE_SUFFIXES:
        count = min(animate_frames, max_frames) if max_frames else animate_frames
        source = FrameSource(f"{path} animated (slow zoom and shift) over {count} frames", fps or 30.0, count,
                             animate_image(read_image_gray(path), count))
    else:
        frames, video_fps, video_count = _video_frames(path, max_frames)
        rate = fps or video_fps
        if not rate or rate <= 0:
            raise ValueError(f"the video {path} does not say its frame rate; give one (--fps)")
        source = FrameSource(f"video {path}", rate, video_count, frames)
    if size is not None:
        width, height = size
        source = replace(source, frames=(resize_gray(to_gray(f), width, height) for f in source.frames))
    return source

