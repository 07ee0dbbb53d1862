"""RGB pose node: ``sensor_msgs/Image`` (or ``CompressedImage``) + ``CameraInfo`` in, 3D people out."""

from __future__ import annotations

from typing import Any

from rclpy.qos import QoSProfile
from rclpy.qos_overriding_options import QoSOverridingOptions
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from hpe_ros.core.camera import CameraModel
from hpe_ros.io.images import ImageDecodeError, compressed_to_rgb8, image_to_rgb8
from hpe_ros.io.messages import camera_from_info
from hpe_ros.nodes.pose_node_base import InputError, PoseNodeBase
from hpe_ros.nodes.runner import run_nodes
from hpe_ros.pipelines.base import ImageFrame


class PoseNode(PoseNodeBase):
    input_kind = "image"
    default_pipeline = "blazepose"

    def __init__(self, node_name: str = "hpe_pose", **kwargs: Any) -> None:
        self._camera: CameraModel | None = None
        super().__init__(node_name, **kwargs)

    def declare_input_parameters(self) -> None:
        self.declare("input.image_topic", "image", "image topic (for 'compressed': the base name, '/compressed' added)")
        self.declare("input.camera_info_topic", "camera_info", "sensor_msgs/CameraInfo of the image's camera")
        self.declare("input.transport", "raw", "'raw' (sensor_msgs/Image) or 'compressed' (CompressedImage)")

    def create_input_subscriptions(self, qos: QoSProfile) -> list[Any]:
        transport = self.param("input.transport")
        if transport not in ("raw", "compressed"):
            raise ValueError(f"input.transport must be 'raw' or 'compressed', got {transport!r}")
        overrides = QoSOverridingOptions.with_default_policies()
        image_topic = self.param("input.image_topic")
        if transport == "compressed":
            image_sub = self.create_subscription(CompressedImage, f"{image_topic}/compressed", self.enqueue, qos,
                                                 qos_overriding_options=overrides)
        else:
            image_sub = self.create_subscription(Image, image_topic, self.enqueue, qos,
                                                 qos_overriding_options=overrides)
        info_sub = self.create_subscription(CameraInfo, self.param("input.camera_info_topic"), self._on_camera_info,
                                            qos, qos_overriding_options=overrides)
        return [image_sub, info_sub]

    def _on_camera_info(self, msg: CameraInfo) -> None:
        try:
            self._camera = camera_from_info(msg)
        except ValueError as error:
            self.reject(f"camera_info: {error}")

    def to_frame(self, msg: Image | CompressedImage) -> ImageFrame:
        try:
            rgb = compressed_to_rgb8(msg) if isinstance(msg, CompressedImage) else image_to_rgb8(msg)
        except ImageDecodeError as error:
            raise InputError(str(error)) from error
        camera = self._camera
        if camera is not None and (camera.width, camera.height) != (rgb.shape[1], rgb.shape[0]):
            self.reject(f"camera_info is {camera.width}x{camera.height} but the image is "
                        f"{rgb.shape[1]}x{rgb.shape[0]}; ignoring the intrinsics")
            camera = None
        return ImageFrame(image=rgb, stamp_ns=self.stamp_of(msg.header), frame_id=self.frame_id_for(msg.header),
                          camera=camera)


def main(args: list[str] | None = None) -> None:
    run_nodes([PoseNode], args=args)


if __name__ == "__main__":
    main()
