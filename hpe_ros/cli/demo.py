"""``hpe-ros demo``: a sample recording processed end to end, with nothing to configure.

Makes a short recording of a (synthetic) walking person with camera intrinsics, runs it through
``hpe-ros process`` with the ground-truth replay pipeline and reads the output bag back with an
independent reader, then prints where everything is.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np

from hpe_ros.io.bag_processing import process_bag
from hpe_ros.io.bags import BagReader, BagWriter
from hpe_ros.io.images import rgb8_to_image_fields
from hpe_ros.io.message_classes import RosbagsMessageClasses
from hpe_ros.io.messages import camera_to_info, make_header, skeleton_array_to_result
from hpe_ros.pipelines.replay import ReplayPipeline
from hpe_ros.pipelines.synthetic_people import default_camera, render_stick_figure, walking_skeleton

FPS = 10.0
START_NS = 1_700_000_000_000_000_000


def write_sample_recording(folder: Path, num_frames: int = 30) -> tuple[Path, Path]:
    """A bag with /camera/image_raw + /camera/camera_info and the matching ground-truth .npz."""
    camera = default_camera()
    joints = walking_skeleton(num_frames, fps=FPS)
    stamps = START_NS + (np.arange(num_frames) * 1e9 / FPS).astype(np.int64)
    truth = folder / "ground_truth.npz"
    np.savez(truth, joints_3d=joints, joint_set="h36m_17", stamps_ns=stamps, keypoints_2d=camera.project(joints))
    bag = folder / "sample_input"
    classes = RosbagsMessageClasses()
    with BagWriter(bag, typestore=classes.typestore) as writer:
        for stamp, pose in zip(stamps, joints):
            header = make_header(classes, int(stamp), camera.frame_id)
            fields = rgb8_to_image_fields(render_stick_figure(pose, camera))
            writer.write("/camera/image_raw", classes.new("sensor_msgs/msg/Image", header=header, **fields), int(stamp))
            writer.write("/camera/camera_info", camera_to_info(classes, camera, int(stamp)), int(stamp))
    return bag, truth


def demo_command(args: argparse.Namespace) -> int:
    out: Path = args.output
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    bag, truth = write_sample_recording(out)
    result_bag = out / "sample_output"
    report = process_bag(bag, result_bag, ReplayPipeline(truth, match="stamp"), tf=True)
    with BagReader(result_bag) as reader:
        arrays = [skeleton_array_to_result(m.message) for m in reader.messages(["/hpe/skeletons"])]
    people = sum(len(a.people) for a in arrays)
    print(f"demo: {report.processed} frames processed, {people} skeletons written")
    print(f"  input bag:     {bag}")
    print(f"  ground truth:  {truth}")
    print(f"  output bag:    {result_bag}")
    for topic, count in sorted(report.written.items()):
        print(f"    {topic}: {count}")
    print("  note: this demo replays known 3D poses (pipeline 'replay'); see README for the networks")
    return 0 if people == report.processed > 0 else 1
