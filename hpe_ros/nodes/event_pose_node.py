"""Event pose node: ``event_camera_msgs/EventPacket`` in, windows of events through a pipeline, 3D people out.

Packets are decoded in the subscription callback, in arrival order, because the EVT 3.0
stream carries state (row, time high bits) from packet to packet; complete windows then go to
the worker through the bounded queue, where the newest window wins.

Every input type is checked and a bad message is counted on ``/diagnostics`` per type
(``rejected event packet evt3`` / ``mono`` / ``other``, ``rejected camera_info``,
``rejected gray image``), logged at most every 5 s, and the next good message is processed as
usual. The decoder's and the windower's counters (events dropped outside the sensor, late
events, new window grids after a clock jump, ...) are published with the diagnostics too. On
deactivate the events of the open window are discarded and counted: the pipeline has stopped.
"""

from __future__ import annotations

from typing import Any

from event_camera_msgs.msg import EventPacket
from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn
from rclpy.qos import QoSProfile
from sensor_msgs.msg import CameraInfo, Image

from hpe_ros.io.event_stream import EventStream, window_settings_problem
from hpe_ros.io.events import EventDecodeError, EventPacketDecoder
from hpe_ros.io.images import ImageDecodeError, image_to_numpy, rgb8_to_image_fields
from hpe_ros.io.messages import camera_from_info, make_header
from hpe_ros.nodes.pose_node_base import PoseNodeBase, reliable_qos
from hpe_ros.nodes.runner import run_nodes
from hpe_ros.pipelines.base import EventWindow, PoseResult
from hpe_ros.pipelines.events.representations import GrayFrameBuffer


class EventPoseNode(PoseNodeBase):
    input_kind = "events"
    default_pipeline = "event_replay"
    # a lost packet also loses the EVT 3.0 stream state of the packets after it: keep many
    default_qos_depth = 1000

    def __init__(self, node_name: str = "hpe_event_pose", **kwargs: Any) -> None:
        self._gray = GrayFrameBuffer(capacity=32)
        self._stream = EventStream(gray=self._gray)  # counts carry over deactivate / activate
        self._intrinsics_warned = 0
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
            from hpe_ros.pipelines.events.eventhpe import flow_to_rgb  # only flow pipelines get here

            header = make_header(self.classes, result.stamp_ns, result.frame_id)
            fields = rgb8_to_image_fields(flow_to_rgb(result.flow))
            flow_publisher.publish(self.classes.new("sensor_msgs/msg/Image", header=header, **fields))

    def create_input_subscriptions(self, qos: QoSProfile) -> list[Any]:
        stream = self._stream
        stream.configure(float(self.param("input.window_ms")), int(self.param("input.window_events")),
                         str(self.param("input.frame_id")))  # a ValueError refuses the activation
        stream.reset()
        topics = [(EventPacket, self.param("input.events_topic"), self._on_packet),
                  (CameraInfo, self.param("input.camera_info_topic"), self._on_camera_info),
                  (Image, self.param("input.gray_topic"), self._on_gray)]
        return [self.subscribe_input(kind, topic, callback, qos) for kind, topic, callback in topics if topic]

    def parameter_problem(self, name: str, value: Any) -> str:
        if name == "input.window_ms":
            return window_settings_problem(value, 0)
        if name == "input.window_events":
            return window_settings_problem(1.0, value)
        return super().parameter_problem(name, value)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        result = super().on_deactivate(state)  # no packet callback runs after this
        discarded = self._stream.discard()
        if discarded:
            self.get_logger().info(f"deactivated: the {discarded} events of the open window are discarded")
        return result

    def _on_packet(self, msg: EventPacket) -> None:
        stream = self._stream
        sizes_before = (stream.windower is None, stream.size_changes)
        try:
            windows = stream.push(msg)
        except EventDecodeError as error:
            self.stats.received()
            self.reject(f"event packet {msg.seq}: {error}", f"event packet {EventPacketDecoder.kind_of(msg)}")
            return
        if sizes_before != (stream.windower is None, stream.size_changes):
            self.get_logger().info(f"receiving {msg.width}x{msg.height} '{msg.encoding}' events from packet "
                                   f"seq {msg.seq} (size changes so far: {stream.size_changes})",
                                   throttle_duration_sec=5.0)
        self._warn_camera_mismatch()
        for window in windows:
            self.enqueue(window)

    def _on_camera_info(self, msg: CameraInfo) -> None:
        try:
            self._stream.camera = camera_from_info(msg)
        except ValueError as error:
            self.reject(f"camera_info: {error}", "camera_info")
            return
        self._warn_camera_mismatch()

    def _warn_camera_mismatch(self) -> None:
        stream = self._stream
        if stream.intrinsics_ignored != self._intrinsics_warned and stream.camera is not None:
            self._intrinsics_warned = stream.intrinsics_ignored
            window = stream.windower
            events = f"{window.width}x{window.height}" if window is not None else "another size"
            self.get_logger().warning(f"camera_info is {stream.camera.width}x{stream.camera.height} but the "
                                      f"events are {events}: intrinsics ignored (is input.camera_info_topic "
                                      "the event camera's own?)", throttle_duration_sec=5.0)

    def _on_gray(self, msg: Image) -> None:
        try:
            self._gray.add(self.stamp_of(msg.header), image_to_numpy(msg))
        except ImageDecodeError as error:
            self.reject(f"gray image: {error}", "gray image")

    def input_diagnostics(self) -> dict[str, str]:
        return {key: str(value) for key, value in self._stream.counts().items()}

    def to_frame(self, window: EventWindow) -> EventWindow:
        return window


def main(args: list[str] | None = None) -> None:
    run_nodes([EventPoseNode], args=args)


if __name__ == "__main__":
    main()
