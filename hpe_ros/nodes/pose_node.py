"""RGB pose node: ``sensor_msgs/Image`` (or ``CompressedImage``) + ``CameraInfo`` in, 3D people out.

Optionally person boxes from an upstream detector (``input.boxes_topic``,
``hpe_ros_msgs/BoundingBox2DArray``): the box message whose stamp is nearest the image's, within
``input.boxes_stamp_tolerance_s``, becomes :attr:`ImageFrame.boxes` (pipelines with
``box_source: upstream`` crop those people). Likewise an aligned depth image
(``input.depth_topic``, 16UC1 mm or 32FC1 m, e.g. a RealSense's ``aligned_depth_to_color``)
becomes :attr:`ImageFrame.depth`, and people are placed from their measured depth. SMPL mesh
faces go out once on ``mesh_faces`` when the pipeline makes meshes (see :class:`PoseNodeBase`).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
from hpe_ros_msgs.msg import BoundingBox2DArray
from rclpy.qos import QoSProfile
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from hpe_ros.core.camera import CameraModel
from hpe_ros.io.images import ImageDecodeError, compressed_to_rgb8, depth_image_to_metres, image_to_rgb8
from hpe_ros.io.input_bounds import check_boxes
from hpe_ros.io.messages import camera_from_info
from hpe_ros.nodes.pose_node_base import InputError, PoseNodeBase
from hpe_ros.nodes.runner import run_nodes
from hpe_ros.nodes.stamped_history import StampedHistory
from hpe_ros.pipelines.base import ImageFrame

BOX_HISTORY = 16  # box messages kept for pairing with images that arrive later
DEPTH_HISTORY = 4  # depth images kept (a few MB each)
CAMERA_INFO_MISSING_AFTER_S = 5.0  # images without any CameraInfo for this long: warn (once)


class PoseNode(PoseNodeBase):
    input_kind = "image"
    default_pipeline = "blazepose"

    def __init__(self, node_name: str = "hpe_pose", **kwargs: Any) -> None:
        self._camera: CameraModel | None = None
        self._camera_arrived = threading.Event()
        self._camera_wait_ends: float | None = None  # monotonic end of the first images' wait for intrinsics
        self._boxes: StampedHistory[np.ndarray] = StampedHistory(BOX_HISTORY)
        self._depth: StampedHistory[np.ndarray] = StampedHistory(DEPTH_HISTORY)
        self._first_image_at: float | None = None  # monotonic time of the first image since activation
        self._camera_missing_warned = False
        self._intrinsics_ignored = 0  # images whose CameraInfo was of another size
        super().__init__(node_name, **kwargs)

    def declare_input_parameters(self) -> None:
        self.declare(
            "input.image_topic", "image", "image topic (for 'compressed': the base name, '/compressed' added)"
        )
        self.declare("input.camera_info_topic", "camera_info", "sensor_msgs/CameraInfo of the image's camera")
        self.declare(
            "input.camera_info_wait_s",
            0.5,
            "how long images wait for the first CameraInfo (s), counted from the first image; later, "
            "images without intrinsics go out root-relative",
        )
        self.declare("input.transport", "raw", "'raw' (sensor_msgs/Image) or 'compressed' (CompressedImage)")
        self.declare("input.boxes_topic", "", "hpe_ros_msgs/BoundingBox2DArray person boxes of an upstream "
                     "detector, paired with the image of the same stamp (empty: none)")
        self.declare("input.boxes_stamp_tolerance_s", 0.02,
                     "largest stamp difference (s) between an image and the box message used for it")
        self.declare(
            "input.depth_topic",
            "",
            "sensor_msgs/Image depth aligned to the image (16UC1 mm or 32FC1 m): "
            "people are placed from measured depth (empty: size prior only)",
        )
        self.declare("input.depth_stamp_tolerance_s", 0.02,
                     "largest stamp difference (s) between an image and the depth image used for it")
        self.declare("input.depth_wait_s", 0.25,
                     "how long an image waits for its depth image while the depth stream is behind (s)")

    def create_input_subscriptions(self, qos: QoSProfile) -> list[Any]:
        transport = self.param("input.transport")
        if transport not in ("raw", "compressed"):
            raise ValueError(f"input.transport must be 'raw' or 'compressed', got {transport!r}")
        self._camera_wait_ends = None
        self._first_image_at, self._camera_missing_warned = None, False
        self._depth.clear()
        self._boxes.clear()
        image_topic = self.param("input.image_topic")
        compressed = transport == "compressed"
        image = (CompressedImage, f"{image_topic}/compressed") if compressed else (Image, image_topic)
        # CameraInfo and depth first: when an image and its side inputs are ready in the same wait,
        # the executor takes them in creation order, so the image finds them.
        inputs = [(CameraInfo, self.param("input.camera_info_topic"), self._on_camera_info),
                  (Image, self.param("input.depth_topic"), self._on_depth),
                  (*image, self._on_image),
                  (BoundingBox2DArray, self.param("input.boxes_topic"), self._on_boxes)]
        return [self.subscribe_input(kind, topic, callback, qos) for kind, topic, callback in inputs if topic]

    def _on_image(self, msg: Image | CompressedImage) -> None:
        if self._first_image_at is None:
            self._first_image_at = time.monotonic()
        self.enqueue(msg)

    def _on_boxes(self, msg: BoundingBox2DArray) -> None:
        checked = check_boxes(np.array([[b.x_min, b.y_min, b.x_max, b.y_max, b.score] for b in msg.boxes],
                                       dtype=np.float64))
        if checked.refused:
            self.reject(
                f"boxes: {checked.refused} of {len(msg.boxes)} box(es) skipped: {checked.reason}", "boxes"
            )
        self._boxes.append(self.stamp_of(msg.header), checked.boxes)

    def _on_depth(self, msg: Image) -> None:
        try:
            metres = depth_image_to_metres(msg)
        except ImageDecodeError as error:
            self.reject(f"depth: {error}", "depth")
            return
        self._depth.append(self.stamp_of(msg.header), metres)

    def boxes_for(self, stamp_ns: int) -> np.ndarray | None:
        """The boxes whose message stamp is nearest ``stamp_ns`` within the tolerance, else None."""
        return self._boxes.nearest(stamp_ns, float(self.param("input.boxes_stamp_tolerance_s")) * 1e9)

    def depth_for(self, stamp_ns: int) -> np.ndarray | None:
        """The depth image (metres) stamped nearest ``stamp_ns`` within the tolerance, else None."""
        return self._depth.wait_nearest(stamp_ns, float(self.param("input.depth_stamp_tolerance_s")) * 1e9,
                                        float(self.param("input.depth_wait_s")))

    def _on_camera_info(self, msg: CameraInfo) -> None:
        try:
            self._camera = camera_from_info(msg)
        except ValueError as error:
            self.reject(f"camera_info: {error}", "camera_info")
            return
        self._camera_arrived.set()

    def _first_camera(self) -> CameraModel | None:
        """Before any CameraInfo: wait for one, within a window that opens at the first image.

        A camera driver's first image and CameraInfo can reach the node in either order; without
        this wait the first frames would go out root-relative only.
        """
        if self._camera_wait_ends is None:
            self._camera_wait_ends = time.monotonic() + float(self.param("input.camera_info_wait_s"))
        remaining = self._camera_wait_ends - time.monotonic()
        if remaining > 0.0:
            self._camera_arrived.wait(remaining)
        return self._camera

    def to_frame(self, msg: Image | CompressedImage) -> ImageFrame:
        try:
            rgb = compressed_to_rgb8(msg) if isinstance(msg, CompressedImage) else image_to_rgb8(msg)
        except ImageDecodeError as error:
            raise InputError(str(error)) from error
        camera = self._camera or self._first_camera()
        if camera is not None and (camera.width, camera.height) != (rgb.shape[1], rgb.shape[0]):
            # the frame is processed, root-relative: counted apart from rejected inputs
            self._intrinsics_ignored += 1
            self.get_logger().warning(f"camera_info is {camera.width}x{camera.height} but the image is "
                                      f"{rgb.shape[1]}x{rgb.shape[0]}: intrinsics ignored, people not placed "
                                      "(is input.camera_info_topic the image's own camera?)",
                                      throttle_duration_sec=5.0)
            camera = None
        stamp_ns = self.stamp_of(msg.header)
        depth = self.depth_for(stamp_ns) if camera is not None else None
        if depth is None and camera is not None and self.param("input.depth_topic"):
            self.get_logger().warning(f"no depth image within the tolerance of image {stamp_ns} "
                                      f"(newest depth: {self._depth.newest_stamp()}): placed from its size",
                                      throttle_duration_sec=5.0)
        return ImageFrame(image=rgb, stamp_ns=stamp_ns, frame_id=self.frame_id_for(msg.header),
                          camera=camera, boxes=self.boxes_for(stamp_ns), depth=depth)

    def input_diagnostics(self) -> dict[str, str]:
        topic = self.resolve_topic_name(self.param("input.camera_info_topic"))
        camera = self._camera
        if camera is not None:
            state = f"{camera.width}x{camera.height} fx={camera.K[0, 0]:.1f}"
        else:
            state = "none received: people are not placed (root-relative only)"
            waited = time.monotonic() - self._first_image_at if self._first_image_at is not None else 0.0
            if waited > CAMERA_INFO_MISSING_AFTER_S and not self._camera_missing_warned:
                self._camera_missing_warned = True
                self.get_logger().warning(
                    f"no usable CameraInfo on {topic} after {waited:.0f} s of images: people are not "
                    "placed in metres; publish the camera's CameraInfo or set input.camera_info_topic"
                )
        values = {f"camera_info {topic}": state}
        if self._intrinsics_ignored:
            values["intrinsics ignored (size mismatch)"] = str(self._intrinsics_ignored)
        return values


def main(args: list[str] | None = None) -> None:
    run_nodes([PoseNode], args=args)


if __name__ == "__main__":
    main()
