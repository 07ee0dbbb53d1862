"""Event pose node: ``event_camera_msgs/EventPacket`` in, windows of events through a pipeline, 3D people out.

Packets are decoded in the subscription callback, in arrival order, because the EVT 3.0
stream carries state (row, time high bits) from packet to packet; complete windows then go to
the worker through the bounded queue, where the newest window wins.
"""

from __future__ import annotations

from typing import Any

from event_camera_msgs.msg import EventPacket
from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn
from rclpy.qos import QoSProfile
from rclpy.qos_overriding_options import QoSOverridingOptions
from sensor_msgs.msg import CameraInfo, Image

from hpe_ros.io.events import EventDecodeError, EventPacketDecoder
from hpe_ros.io.images import ImageDecodeError, image_to_numpy, rgb8_to_image_fields
from hpe_ros.io.messages import camera_from_info, make_header
from hpe_ros.nodes.pose_node_base import PoseNodeBase, reliable_qos
from hpe_ros.nodes.runner import run_nodes
from hpe_ros.pipelines.base import EventWindow, PoseResult
from hpe_ros.pipelines.event_repr import EventWindower, GrayFrameBuffer


class EventPoseNode(PoseNodeBase):
    input_kind = "events"
    default_pipeline = "event_replay"
    # a lost packet also loses the EVT 3.0 stream state of the packets after it: keep many
    default_qos_depth = 1000

    def __init__(self, node_name: str = "hpe_event_pose", **kwargs: Any) -> None:
        self._decoder = EventPacketDecoder()
        self._windower: EventWindower | None = None
        self._gray = GrayFrameBuffer(capacity=32)
        super().__init__(node_name, **kwargs)

    def declare_input_parameters(self) -> None:
        self.declare("input.events_topic", "/event_camera/events", "event_camera_msgs/EventPacket topic")
        self.declare("input.camera_info_topic", "", "CameraInfo of the event camera (empty: none)")
        self.declare("input.gray_topic", "", "intensity frames of the same sensor (empty: none)")
        self.declare("input.window_ms", 50.0, "window length in ms (used when input.window_events is 0)")
        self.declare("input.window_events", 0, "events per window (0: windows by time)")
        self.declare("output.flow", False, "publish the pipeline's optical flow (when it has one) as a "
                     "colour-coded rgb8 sensor_msgs/Image on 'flow' (hue: direction, saturation: magnitude)")

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        result = super().on_configure(state)
        if result == TransitionCallbackReturn.SUCCESS and self.param("output.flow"):
            self._outputs["flow"] = self.create_lifecycle_publisher(Image, "flow", reliable_qos())
        return result

    def publish(self, result: PoseResult) -> None:
        super().publish(result)
        flow_publisher = self._outputs.get("flow")
        if flow_publisher is not None and result.flow is not None:
            from hpe_ros.pipelines.eventhpe_pipeline import flow_to_rgb  # only flow pipelines get here

            header = make_header(self.classes, result.stamp_ns, result.frame_id)
            fields = rgb8_to_image_fields(flow_to_rgb(result.flow))
            flow_publisher.publish(self.classes.new("sensor_msgs/msg/Image", header=header, **fields))

    def create_input_subscriptions(self, qos: QoSProfile) -> list[Any]:
        overrides = QoSOverridingOptions.with_default_policies()
        self._decoder.reset()
        self._windower = None
        subs = [self.create_subscription(EventPacket, self.param("input.events_topic"), self._on_packet, qos,
                                         qos_overriding_options=overrides)]
        if self.param("input.camera_info_topic"):
            subs.append(self.create_subscription(CameraInfo, self.param("input.camera_info_topic"),
                                                 self._on_camera_info, qos, qos_overriding_options=overrides))
        if self.param("input.gray_topic"):
            subs.append(self.create_subscription(Image, self.param("input.gray_topic"), self._on_gray, qos,
                                                 qos_overriding_options=overrides))
        return subs

    def _make_windower(self, msg: EventPacket) -> EventWindower:
        count = int(self.param("input.window_events"))
        duration = None if count else int(float(self.param("input.window_ms")) * 1e6)
        return EventWindower(int(msg.width), int(msg.height), duration_ns=duration, count=count or None,
                             frame_id=self.frame_id_for(msg.header), gray=self._gray)

    def _on_packet(self, msg: EventPacket) -> None:
        try:
            decoded = self._decoder.decode(msg)
        except EventDecodeError as error:
            self.stats.received()
            self.reject(f"event packet {msg.seq}: {error}")
            return
        if self._windower is None or (self._windower.width, self._windower.height) != (msg.width, msg.height):
            self._windower = self._make_windower(msg)
            self.get_logger().info(f"receiving {msg.width}x{msg.height} '{msg.encoding}' events, first packet "
                                   f"seq {msg.seq}")
        for window in self._windower.add(decoded.cd):
            self.enqueue(window)

    def _on_camera_info(self, msg: CameraInfo) -> None:
        try:
            camera = camera_from_info(msg)
        except ValueError as error:
            self.reject(f"camera_info: {error}")
            return
        if self._windower is not None:
            self._windower.camera = camera

    def _on_gray(self, msg: Image) -> None:
        try:
            self._gray.add(self.stamp_of(msg.header), image_to_numpy(msg))
        except ImageDecodeError as error:
            self.reject(f"gray image: {error}")

    def to_frame(self, window: EventWindow) -> EventWindow:
        return window


def main(args: list[str] | None = None) -> None:
    run_nodes([EventPoseNode], args=args)


if __name__ == "__main__":
    main()
