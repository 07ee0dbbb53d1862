"""Event pose node: ``event_camera_msgs/EventPacket`` in, windows of events through a pipeline, 3D people out.

Packets are queued in the subscription callback, in arrival order (no decoding there), and
decoded in batches when a window is probably due (the packet stamps say so), the batch is full,
or a timer finds packets waiting for ``BATCH_MAX_WAIT_S``: one compiled call per batch instead of
one per packet, with the same events and windows (see ``hpe_ros.io.event_stream``). The EVT 3.0
stream carries state (row, time high bits) from packet to packet, so batches are decoded in
order, in the callbacks' thread; complete windows then go to the worker through the bounded
queue, where the newest window wins.

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

from hpe_ros.io.event_stream import BATCH_MAX_WAIT_S, EventStream, window_settings_problem
from hpe_ros.io.events import EventPacketDecoder
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
        self._flush_timer: Any = None  # while active: decodes packets left waiting (a paused stream)
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
        subscriptions = [self.subscribe_input(kind, topic, callback, qos) for kind, topic, callback in topics
                         if topic]
        if self._flush_timer is None:
            self._flush_timer = self.create_timer(BATCH_MAX_WAIT_S, self._on_flush_timer)
        return subscriptions

    def parameter_problem(self, name: str, value: Any) -> str:
        if name == "input.window_ms":
            return window_settings_problem(value, 0)
        if name == "input.window_events":
            return window_settings_problem(1.0, value)
        return super().parameter_problem(name, value)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        result = super().on_deactivate(state)  # no packet callback runs after this
        if self._flush_timer is not None:
            self.destroy_timer(self._flush_timer)
            self._flush_timer = None
        self._decode_queued(keep_windows=False)  # the stream state and counts stay right
        discarded = self._stream.discard()
        if discarded:
            self.get_logger().info(f"deactivated: the {discarded} events of the open window are discarded")
        return result

    def _on_packet(self, msg: EventPacket) -> None:
        if self._stream.queue(msg):
            self._decode_queued()

    def _on_flush_timer(self) -> None:
        if self._stream.stale():
            self._decode_queued()

    def _decode_queued(self, keep_windows: bool = True) -> None:
        """Decode the queued packets; their windows go to the worker, bad packets are reported."""
        stream = self._stream
        sizes_before = (stream.windower is None, stream.size_changes)
        batch = stream.flush()
        for msg, error in batch.rejected:
            self.stats.received()
            self.reject(f"event packet {getattr(msg, 'seq', '?')}: {error}",
                        f"event packet {EventPacketDecoder.kind_of(msg)}")
        window = stream.windower
        if sizes_before != (window is None, stream.size_changes) and window is not None:
            self.get_logger().info(f"receiving {window.width}x{window.height} events (size changes so far: "
                                   f"{stream.size_changes})", throttle_duration_sec=5.0)
        self._warn_camera_mismatch()
        for item in batch.windows if keep_windows else ():
            self.enqueue(item)

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
