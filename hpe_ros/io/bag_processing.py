"""Offline processing: a recorded bag in, the pipeline's outputs written to a new bag.

Reads ``sensor_msgs/Image`` or ``CompressedImage`` with ``CameraInfo`` (the newest info
before each image is used), runs a pipeline on every frame and writes the same topics a live
node publishes, stamped like the inputs. Undecodable messages are counted and skipped.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hpe_ros.core.camera import CameraModel
from hpe_ros.io.bags import BagError, BagReader, BagWriter
from hpe_ros.io.images import ImageDecodeError, compressed_to_rgb8, image_to_rgb8
from hpe_ros.io.markers import mesh_markers, skeleton_markers
from hpe_ros.io.message_classes import RosbagsMessageClasses
from hpe_ros.io.messages import (camera_from_info, faces_to_msg, result_to_body_array, result_to_skeleton_array,
                                 stamp_to_ns)
from hpe_ros.io.tf_frames import joint_transforms
from hpe_ros.pipelines.base import ImageFrame, Pipeline

IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
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

    return tqdm(total=total, unit="frame", disable=not enabled, file=sys.stderr, dynamic_ncols=True)


def process_bag(in_bag: str | Path, out_bag: str | Path, pipeline: Pipeline, *, image_topic: str | None = None,
                camera_info_topic: str | None = None, storage: str = "sqlite3", output_prefix: str = "/hpe",
                markers: bool = True, tf: bool = False, copy_inputs: bool = False,
                progress: bool = True) -> ProcessReport:
    """Run ``pipeline`` over the images of ``in_bag`` and write its outputs to ``out_bag``."""
    report = ProcessReport()
    started = time.perf_counter()
    classes = RosbagsMessageClasses()
    with BagReader(in_bag) as reader:
        topics = reader.topics
        image = _pick_topic(topics, image_topic, IMAGE_TYPES, "image")
        if image is None:
            raise BagError(f"no image topic in {in_bag}; topics: {topics}")
        info = _camera_info_topic(topics, image, camera_info_topic)
        wanted = [image] + ([info] if info else [])
        camera: CameraModel | None = None
        faces_written = False
        with BagWriter(out_bag, storage=storage, typestore=classes.typestore) as writer, \
                _progress(reader.count([image]), progress) as bar:

            def write(topic: str, message: Any, timestamp: int) -> None:
                writer.write(topic, message, timestamp)
                report.written[topic] = report.written.get(topic, 0) + 1

            for item in reader.messages(wanted):
                if copy_inputs:
                    write(item.topic, item.message, item.timestamp_ns)
                if item.topic == info:
                    try:
                        camera = camera_from_info(item.message)
                    except ValueError as error:
                        report.note_error(f"camera_info at {item.timestamp_ns}: {error}")
                    continue
                report.input_frames += 1
                bar.update(1)
                msg = item.message
                try:
                    rgb = compressed_to_rgb8(msg) if item.msgtype.endswith("CompressedImage") else image_to_rgb8(msg)
                except ImageDecodeError as error:
                    report.note_error(f"image at {item.timestamp_ns}: {error}")
                    continue
                frame_camera = camera if camera and (camera.width, camera.height) == rgb.shape[1::-1] else None
                frame = ImageFrame(rgb, stamp_to_ns(msg.header.stamp), str(msg.header.frame_id), frame_camera)
                result = pipeline.process(frame)
                report.processed += 1
                report.people += len(result.people)
                t = item.timestamp_ns
                write(f"{output_prefix}/skeletons", result_to_skeleton_array(classes, result), t)
                faces = pipeline.mesh_faces()
                if any(p.smpl is not None for p in result.people):
                    write(f"{output_prefix}/bodies", result_to_body_array(classes, result), t)
                    if faces is not None and not faces_written:
                        write(f"{output_prefix}/mesh_faces", faces_to_msg(classes, faces, int(faces.max()) + 1,
                                                                          "smpl", result.stamp_ns, result.frame_id), t)
                        faces_written = True
                if markers:
                    marker_array = skeleton_markers(classes, result)
                    marker_array.markers.extend(mesh_markers(classes, result, faces).markers)
                    write(f"{output_prefix}/markers", marker_array, t)
                if tf:
                    transforms = joint_transforms(classes, result)
                    if transforms.transforms:
                        write("/tf", transforms, t)
    report.seconds = time.perf_counter() - started
    return report
