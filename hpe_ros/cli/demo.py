"""``hpe-ros demo``: real 3D skeletons from a real picture, with nothing to configure.

A picture (scikit-image's astronaut by default, or the user's image, video or webcam) is written
to a bag with camera intrinsics and goes through the real RGB pose node in a real ROS 2 graph
(node, player and recorder in three processes on a localhost-only domain), or straight through
the pipeline with ``--offline``. The outputs: a bag, the 2D overlay, a 3D plot.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from hpe_ros.cli.demo_outputs import draw_overlay, plot_3d
from hpe_ros.core.camera import CameraModel
from hpe_ros.io.bag_processing import process_bag
from hpe_ros.io.bags import BagReader, BagWriter
from hpe_ros.io.images import rgb8_to_image_fields
from hpe_ros.io.message_classes import RosbagsMessageClasses
from hpe_ros.io.messages import camera_to_info, make_header, skeleton_array_to_result
from hpe_ros.pipelines.base import PoseResult
from hpe_ros.pipelines.tracking.stage import TRACKING_DEFAULTS, tracking_from_options

FPS = 10.0
START_NS = 1_700_000_000_000_000_000
IMAGE_TOPIC, INFO_TOPIC = "/camera/image_raw", "/camera/camera_info"


def write_image_bag(path: Path, frames: list[np.ndarray], camera: CameraModel, fps: float = FPS) -> list[int]:
    """Images and their CameraInfo on /camera/*, stamped ``1/fps`` apart; returns the stamps."""
    classes = RosbagsMessageClasses()
    stamps = [START_NS + int(i * 1e9 / fps) for i in range(len(frames))]
    with BagWriter(path, typestore=classes.typestore) as writer:
        for stamp, frame in zip(stamps, frames, strict=True):
            header = make_header(classes, stamp, camera.frame_id)
            writer.write(INFO_TOPIC, camera_to_info(classes, camera, stamp), stamp)  # before its image
            writer.write(
                IMAGE_TOPIC,
                classes.new("sensor_msgs/msg/Image", header=header, **rgb8_to_image_fields(frame)),
                stamp,
            )
    return stamps


def write_sample_recording(folder: Path, num_frames: int = 30) -> tuple[Path, Path]:
    """A synthetic walking person: a bag of stick-figure images and the matching 3D ground truth."""
    from hpe_ros.simulation.people import default_camera, render_stick_figure, walking_skeleton

    camera = default_camera()
    joints = walking_skeleton(num_frames, fps=FPS)
    bag = folder / "sample_input"
    stamps = write_image_bag(bag, [render_stick_figure(pose, camera) for pose in joints], camera)
    truth = folder / "ground_truth.npz"
    np.savez(truth, joints_3d=joints, joint_set="h36m_17", stamps_ns=np.array(stamps),
             keypoints_2d=camera.project(joints))
    return bag, truth


def pinhole_for(image: np.ndarray, horizontal_fov_deg: float) -> CameraModel:
    height, width = image.shape[:2]
    focal = (width / 2) / math.tan(math.radians(horizontal_fov_deg) / 2)
    return CameraModel.from_intrinsics(focal, focal, (width - 1) / 2, (height - 1) / 2, width, height,
                                       frame_id="camera_optical_frame")


def group_picture() -> np.ndarray:
    """A 1280x512 picture of three people: scikit-image's astronaut (NASA, public domain) at three
    sizes, one mirrored, side by side (no photo of a group ships in a package we install)."""
    from PIL import Image
    from skimage import data

    astronaut = Image.fromarray(data.astronaut())
    canvas = Image.new("RGB", (1280, 512), (40, 40, 48))
    for left, scale, mirrored in ((0, 1.0, False), (520, 0.8, True), (930, 0.65, False)):
        size = round(512 * scale)
        person = astronaut.resize((size, size), Image.Resampling.LANCZOS)
        if mirrored:
            person = person.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        canvas.paste(person, (left, 512 - size))
    return np.asarray(canvas)


def load_frames(source: str | None, max_frames: int) -> tuple[list[np.ndarray], str]:
    """RGB frames of an image file, a video file or ``webcam:N``; :func:`group_picture` when
    ``source`` is None."""
    if source is None:
        return [group_picture()] * 3, "three astronauts (scikit-image's picture at three sizes)"
    video_suffixes = (".mp4", ".avi", ".mov", ".mkv", ".webm")
    if source.startswith("webcam:") or Path(source).suffix.lower() in video_suffixes:
        import cv2

        capture = cv2.VideoCapture(int(source.split(":")[1]) if source.startswith("webcam:") else source)
        frames: list[np.ndarray] = []
        while len(frames) < max_frames:
            ok, bgr = capture.read()
            if not ok:
                break
            frames.append(np.ascontiguousarray(bgr[:, :, ::-1]))
        capture.release()
        if not frames:
            raise ValueError(f"no frames could be read from {source}")
        return frames, source
    from PIL import Image

    with Image.open(source) as picture:
        return [np.asarray(picture.convert("RGB"))] * 3, source


def _ros_env(output: Path) -> dict[str, str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1", ROS_LOG_DIR=str(output / "ros_log"))
    env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    env.setdefault("ROS_DOMAIN_ID", str(150 + os.getpid() % 80))
    return env


def run_in_ros_graph(
    input_bag: Path, output_bag: Path, frames: int, output: Path, timeout_s: float = 180.0
) -> None:
    """Node, recorder and player as three processes; returns once every frame's output is recorded."""
    env = _ros_env(output)
    command = [sys.executable, "-m", "hpe_ros.cli.main"]
    logs = {name: (output / f"{name}.log").open("w") for name in ("node", "recorder", "player")}

    def start(name: str, *args: str) -> subprocess.Popen:
        return subprocess.Popen([*command, *args], env=env, stdout=logs[name], stderr=subprocess.STDOUT)

    def wait_for(name: str, text: str) -> None:
        deadline = time.monotonic() + timeout_s
        while text not in (output / f"{name}.log").read_text():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start; see {output / (name + '.log')}")
            time.sleep(0.2)

    node = start("node", "run", "--set", "pipeline=blazepose", "--set", "input.qos=reliable",
                 "--set", "input.qos_depth=100", "--set", "input.queue_size=100", "--set", "output.tf=true")
    processes = [node]
    try:
        wait_for("node", "active:")
        recorder = start("recorder", "record", str(output_bag),
                         "--topic", "/skeletons:hpe_ros_msgs/msg/Skeleton3DArray",
                         "--topic", "/markers:visualization_msgs/msg/MarkerArray",
                         "--topic", "/diagnostics:diagnostic_msgs/msg/DiagnosticArray",
                         "--until", f"/skeletons={frames}", "--until", f"/markers={frames}",
                         "--duration", str(timeout_s), "--wait-publishers", "30")
        processes.append(recorder)
        wait_for("recorder", "recording")
        player = start("player", "play", str(input_bag), "--wait-subscribers", "1", "--rate", "1")
        processes.append(player)
        player.wait(timeout=timeout_s)
        recorder.wait(timeout=timeout_s)
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=15)
        for handle in logs.values():
            handle.close()


def run_event_demo(frames: list[np.ndarray], out: Path, animation_frames: int = 40) -> str:
    """Events simulated from the frames (a still picture is animated so that it moves) through the
    EventHPE pipeline offline; returns a one-paragraph summary."""
    from hpe_ros.io.event_bags import animate_image, simulate_event_bag, to_gray
    from hpe_ros.pipelines.registry import create_pipeline

    gray = to_gray(frames[0])
    moving = list(animate_image(gray, animation_frames)) if len(frames) < animation_frames else \
        [to_gray(f) for f in frames]
    stamps = [START_NS + int(i * 1e9 / 100.0) for i in range(len(moving))]  # 100 Hz source frames
    events_bag = out / "events_input"
    report = simulate_event_bag(moving, stamps, events_bag)
    pipeline = create_pipeline("eventhpe", {"publish_vertices": True})
    try:
        result = process_bag(events_bag, out / "events_output", pipeline, progress=False)
    finally:
        pipeline.close()
    return (
        f"events: {report.events} simulated events in {report.packets} evt3 packets -> "
        f"{result.processed} windows through EventHPE (FlowNet + ShapeNet + SMPL), "
        f"{result.written.get('/hpe/bodies', 0)} SMPLBodyArray messages in {out / 'events_output'}.\n"
        "  NOTE: EventHPE ran on RANDOM weights with a synthetic SMPL-format body: its poses mean nothing "
        "until trained EventHPE checkpoints (eventhpe.flownet_checkpoint, eventhpe.shapenet_checkpoint) "
        "and a SMPL model file (eventhpe.smpl_model_path) are configured."
    )


def read_results(bag: Path, topic: str) -> list[PoseResult]:
    with BagReader(bag) as reader:
        return [skeleton_array_to_result(m.message) for m in reader.messages([topic])]


def demo_command(args: argparse.Namespace) -> int:
    out: Path = args.output.resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    frames, description = load_frames(args.input, args.max_frames)
    camera = pinhole_for(frames[0], args.fov_deg)
    input_bag = out / "input"
    write_image_bag(input_bag, frames, camera)
    output_bag = out / "output"
    started = time.perf_counter()
    if args.offline:
        from hpe_ros.pipelines.registry import create_pipeline

        pipeline = create_pipeline("blazepose")
        try:
            process_bag(
                input_bag, output_bag, pipeline, tf=True, progress=False, tracking=tracking_from_options({})
            )
        finally:
            pipeline.close()
        topic, how = "/hpe/skeletons", "offline (hpe-ros process)"
    else:
        run_in_ros_graph(input_bag, output_bag, len(frames), out)
        topic, how = "/skeletons", "the RGB pose node in a ROS 2 graph (node, player, recorder processes)"
    results = read_results(output_bag, topic)
    seconds = time.perf_counter() - started
    if not results:
        print(f"demo: no output was recorded; see the logs in {out}", file=sys.stderr)
        return 1
    first = results[0]
    overlay = draw_overlay(frames[0], first, out / "overlay_2d.png")
    plot = plot_3d(first, out / "skeleton_3d.png", title=description)
    people = [len(r.people) for r in results]
    print(f"demo: {description}: {len(frames)} frame(s) through {how} in {seconds:.1f} s")
    print(f"  people per frame: {people}")
    ids = [[p.track_id or "-" for p in r.people] for r in results]
    print(
        f"  ids per frame (given once a person is seen {TRACKING_DEFAULTS['min_hits']} frames in a row): "
        f"{ids}"
    )
    for number, person in enumerate(first.people, start=1):
        root = person.joints_3d[person.joint_set.root]
        where = (
            f"pelvis at ({root[0]:+.2f}, {root[1]:+.2f}, {root[2]:+.2f}) m in the camera frame "
            f"(placement confidence {person.root_confidence:.2f})"
            if person.metric
            else "root-relative only"
        )
        print(f"  person {number}: {where}")
    if any(p.metric for p in first.people):
        print(f"  intrinsics assumed: {args.fov_deg:.0f} deg horizontal field of view")
    print(f"  input bag:   {input_bag}")
    print(f"  output bag:  {output_bag}")
    print(f"  2D overlay:  {overlay}")
    print(f"  3D plot:     {plot}")
    if not args.no_events:
        print("  " + run_event_demo(frames, out))
    return 0 if any(people) else 1
