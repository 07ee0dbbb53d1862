"""Offline processing: a recorded bag in, the pipeline's outputs written to a new bag.

Reads ``sensor_msgs/Image`` or ``CompressedImage`` with ``CameraInfo`` (the newest info
before each image is used), or event packets (``event_camera_msgs/EventPacket``, the older
``event_array_msgs/EventArray`` and ``dvs_msgs/EventArray``) cut into windows, runs a pipeline
on every frame and writes the same topics a live node publishes, stamped like the inputs.
Undecodable messages are counted and skipped. Event windows follow
:class:`~hpe_ros.pipelines.events.representations.EventWindower` (a clock jump starts a new window grid); the
last, partial window of the bag is processed too, and what the decoder and windower dropped
is in :attr:`ProcessReport.event_counts`.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hpe_ros.core.camera import CameraModel
from hpe_ros.io.bags import BagError, BagMessage, BagReader, BagWriter
from hpe_ros.io.event_stream import EventStream
from hpe_ros.io.events import EventDecodeError
from hpe_ros.io.images import ImageDecodeError, compressed_to_rgb8, image_to_rgb8
from hpe_ros.io.message_classes import RosbagsMessageClasses
from hpe_ros.io.messages import camera_from_info, stamp_to_ns
from hpe_ros.io.outputs import OutputOptions, ResultMessages
from hpe_ros.pipelines.base import EventWindow, ImageFrame, Pipeline
from hpe_ros.pipelines.tracking.stage import PeopleTracking

IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
EVENT_TYPES = ("event_camera_msgs/msg/EventPacket", "dvs_msgs/msg/EventArray")
CAMERA_INFO_TYPE = "sensor_msgs/msg/CameraInfo"
MAX_REPORTED_ERRORS = 20


@dataclass
class ProcessReport:
    """What happened to a bag."""

    input_frames: int = 0
    processed: int = 0
    skipped: int = 0
    people: int = 0
    written: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    # event bags: events decoded / dropped (outside the sensor, ...), late, window grid resyncs, ...
    event_counts: dict[str, int] = field(default_factory=dict)

    def note_error(self, message: str) -> None:
        self.skipped += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(message)


def _pick_topic(topics: dict[str, str], wanted: str | None, types: tuple[str, ...], what: str) -> str | None:
    if wanted:
        if wanted not in topics:
            raise BagError(f"{what} topic {wanted} is not in the bag; topics: {sorted(topics)}")
        if topics[wanted] not in types:
            raise BagError(f"{what} topic {wanted} has type {topics[wanted]}, expected one of {list(types)}")
        return wanted
    found = sorted(t for t, kind in topics.items() if kind in types)
    if len(found) > 1:
        raise BagError(f"several {what} topics in the bag ({found}); choose one")
    return found[0] if found else None


def _camera_info_topic(topics: dict[str, str], image_topic: str, wanted: str | None) -> str | None:
    if wanted:
        return _pick_topic(topics, wanted, (CAMERA_INFO_TYPE,), "camera info")
    sibling = image_topic.rsplit("/", 1)[0] + "/camera_info"
    if topics.get(sibling) == CAMERA_INFO_TYPE:
        return sibling
    return _pick_topic(topics, None, (CAMERA_INFO_TYPE,), "camera info")


def _progress(total: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="msg", disable=not enabled, file=sys.stderr, dynamic_ncols=True)


class _ImageFrames:
    """Turns the image and camera-info messages of a bag into :class:`ImageFrame` s."""

    def __init__(self, info_topic: str | None) -> None:
        self.info_topic = info_topic
        self.camera: CameraModel | None = None

    def frames(self, item: BagMessage, report: ProcessReport) -> list[ImageFrame]:
        if item.topic == self.info_topic:
            try:
                self.camera = camera_from_info(item.message)
            except ValueError as error:
                report.note_error(f"camera_info at {item.timestamp_ns}: {error}")
            return []
        msg = item.message
        report.input_frames += 1
        try:
            rgb = compressed_to_rgb8(msg) if item.msgtype.endswith("CompressedImage") else image_to_rgb8(msg)
        except ImageDecodeError as error:
            report.note_error(f"image at {item.timestamp_ns}: {error}")
            return []
        camera = (
            self.camera
            if self.camera and (self.camera.width, self.camera.height) == rgb.shape[1::-1]
            else None
        )
        return [ImageFrame(rgb, stamp_to_ns(msg.header.stamp), str(msg.header.frame_id), camera)]


class _EventWindows:
    """Decodes event packets in order and cuts them into windows by time or by count."""

    def __init__(self, window_ms: float, window_events: int) -> None:
        self.stream = EventStream(window_ms=window_ms, window_events=window_events)

    def frames(self, item: BagMessage, report: ProcessReport) -> list[EventWindow]:
        try:
            windows = self.stream.push(item.message)
        except EventDecodeError as error:
            report.note_error(f"event packet at {item.timestamp_ns}: {error}")
            return []
        report.input_frames += len(windows)
        return windows

    def finish(self, report: ProcessReport) -> list[EventWindow]:
        """At the end of the bag: the last, partial window; the counts go to ``report``."""
        windows = self.stream.finish()
        report.input_frames += len(windows)
        report.event_counts = self.stream.counts()
        return windows


def process_bag(
    in_bag: str | Path,
    out_bag: str | Path,
    pipeline: Pipeline,
    *,
    image_topic: str | None = None,
    camera_info_topic: str | None = None,
    events_topic: str | None = None,
    window_ms: float = 50.0,
    window_events: int = 0,
    storage: str = "sqlite3",
    output_prefix: str = "/hpe",
    markers: bool = True,
    tf: bool = False,
    copy_inputs: bool = False,
    progress: bool = True,
    tracking: PeopleTracking | None = None,
) -> ProcessReport:
    """Run ``pipeline`` over the images (or event windows) of ``in_bag``; write its outputs to ``out_bag``.

    ``tracking`` (ids and smoothing, as the nodes run it) follows the pipeline when given."""
    report = ProcessReport()
    started = time.perf_counter()
    classes = RosbagsMessageClasses()
    with BagReader(in_bag) as reader:
        topics = reader.topics
        source: _ImageFrames | _EventWindows
        if pipeline.input_kind == "events":
            main_topic = _pick_topic(
                topics, events_topic, EVENT_TYPES + ("event_array_msgs/msg/EventArray",), "event"
            )
            if main_topic is None:
                raise BagError(
                    f"pipeline {pipeline.name!r} needs events; no event topic in {in_bag}: {topics}"
                )
            wanted = [main_topic]
            source = _EventWindows(window_ms, window_events)
        else:
            main_topic = _pick_topic(topics, image_topic, IMAGE_TYPES, "image")
            if main_topic is None:
                raise BagError(f"no image topic in {in_bag}; topics: {topics}")
            info = _camera_info_topic(topics, main_topic, camera_info_topic)
            wanted = [main_topic] + ([info] if info else [])
            source = _ImageFrames(info)
        outputs = ResultMessages(classes)
        options = OutputOptions(markers=markers, tf=tf)
        topics = {"skeletons": f"{output_prefix}/skeletons", "bodies": f"{output_prefix}/bodies",
                  "faces": f"{output_prefix}/mesh_faces", "markers": f"{output_prefix}/markers", "tf": "/tf"}
        with BagWriter(out_bag, storage=storage, typestore=classes.typestore) as writer, \
                _progress(reader.count([main_topic]), progress) as bar:

            def write(topic: str, message: Any, timestamp: int) -> None:
                writer.write(topic, message, timestamp)
                report.written[topic] = report.written.get(topic, 0) + 1

            def run(frames: list[Any], timestamp_ns: int) -> None:
                for frame in frames:
                    result = pipeline.process(frame)
                    if tracking is not None:
                        result = tracking.apply(result).result
                    report.processed += 1
                    report.people += len(result.people)
                    for name, message in outputs.messages(result, pipeline.mesh_faces(), options):
                        write(topics[name], message, timestamp_ns)

            last_timestamp_ns = 0
            for item in reader.messages(wanted):
                if copy_inputs:
                    write(item.topic, item.message, item.timestamp_ns)
                if item.topic == main_topic:
                    bar.update(1)
                last_timestamp_ns = item.timestamp_ns
                run(source.frames(item, report), item.timestamp_ns)
            if isinstance(source, _EventWindows):
                run(source.finish(report), last_timestamp_ns)
    report.seconds = time.perf_counter() - started
    return report
