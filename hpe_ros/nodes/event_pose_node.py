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

from dataclasses import asdict
from typing import Any

from event_camera_msgs.msg import EventPacket
from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn
from rclpy.qos import QoSProfile
from rclpy.qos_overriding_options import QoSOverridingOptions
from sensor_msgs.msg import CameraInfo, Image

from hpe_ros.io.events import EventDecodeError, EventPacketDecoder
from hpe_ros.core.camera import CameraModel
from hpe_ros.io.images import ImageDecodeError, image_to_numpy, rgb8_to_image_fields
from hpe_ros.io.messages import camera_from_info, make_header
from hpe_ros.nodes.pose_node_base import PoseNodeBase, reliable_qos
from hpe_ros.nodes.runner import run_nodes
from hpe_ros.pipelines.base import EventWindow, PoseResult
from hpe_ros.pipelines.event_repr import EventWindower, GrayFrameBuffer, WindowerCounts


class EventPoseNode(PoseNodeBase):
    input_kind = "events"
    default_pipeline = "event_replay"
    # a lost packet also loses the EVT 3.0 stream state of the packets after it: keep many
    default_qos_depth = 1000

    def __init__(self, node_name: str = "hpe_event_pose", **kwargs: Any) -> None:
        self._decoder = EventPacketDecoder()
        self._windower: EventWindower | None = None
        self._gray = GrayFrameBuffer(capacity=32)
        self._camera: CameraModel | None = None
        self._retired = WindowerCounts()  # counts of the windowers replaced so far
        self._size_changes = 0
        self._intrinsics_ignored = 0
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
        self._retire_windower()
        topics = [(EventPacket, self.param("input.events_topic"), self._on_packet),
                  (CameraInfo, self.param("input.camera_info_topic"), self._on_camera_info),
                  (Image, self.param("input.gray_topic"), self._on_gray)]
        return [self.create_subscription(kind, topic, self.counted(topic, callback), qos,
                                         qos_overriding_options=overrides)
                for kind, topic, callback in topics if topic]

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        result = super().on_deactivate(state)  # no packet callback runs after this
        if self._windower is not None:
            discarded = self._windower.discard()
            if discarded:
                self.get_logger().info(f"deactivated: {discarded} events of the open window discarded")
        return result

    def _retire_windower(self) -> None:
        if self._windower is not None:
            self._windower.discard()
            for name, value in asdict(self._windower.counts).items():
                setattr(self._retired, name, getattr(self._retired, name) + value)
        self._windower = None

    def _make_windower(self, msg: EventPacket) -> EventWindower:
        count = int(self.param("input.window_events"))
        duration = None if count else int(float(self.param("input.window_ms")) * 1e6)
        return EventWindower(int(msg.width), int(msg.height), duration_ns=duration, count=count or None,
                             frame_id=self.frame_id_for(msg.header), camera=self._camera_for(msg.width, msg.height),
                             gray=self._gray)

    def _camera_for(self, width: int, height: int) -> CameraModel | None:
        camera = self._camera
        if camera is None or (camera.width, camera.height) == (width, height):
            return camera
        self._intrinsics_ignored += 1
        self.get_logger().warning(f"camera_info is {camera.width}x{camera.height} but the events are "
                                  f"{width}x{height}: intrinsics ignored (is input.camera_info_topic the event "
                                  "camera's own?)", throttle_duration_sec=5.0)
        return None

    def _on_packet(self, msg: EventPacket) -> None:
        try:
            decoded = self._decoder.decode(msg)
        except EventDecodeError as error:
            self.stats.received()
            self.reject(f"event packet {msg.seq}: {error}", f"event packet {self._decoder.kind_of(msg)}")
            return
        windower = self._windower
        if windower is None or (windower.width, windower.height) != (msg.width, msg.height):
            last = windower.flush() if windower is not None else None
            if last is not None:
                self.enqueue(last)
            if windower is not None:
                self._size_changes += 1
            self._retire_windower()
            self._windower = windower = self._make_windower(msg)
            self.get_logger().info(f"receiving {msg.width}x{msg.height} '{msg.encoding}' events from packet seq "
                                   f"{msg.seq} (size changes so far: {self._size_changes})",
                                   throttle_duration_sec=5.0)
        for window in windower.add(decoded.cd):
            self.enqueue(window)

    def _on_camera_info(self, msg: CameraInfo) -> None:
        try:
            self._camera = camera_from_info(msg)
        except ValueError as error:
            self.reject(f"camera_info: {error}", "camera_info")
            return
        if self._windower is not None:
            self._windower.camera = self._camera_for(self._windower.width, self._windower.height)

    def _on_gray(self, msg: Image) -> None:
        try:
            self._gray.add(self.stamp_of(msg.header), image_to_numpy(msg))
        except ImageDecodeError as error:
            self.reject(f"gray image: {error}", "gray image")

    def input_diagnostics(self) -> dict[str, str]:
        counts = self._decoder.counts
        windowed = WindowerCounts(**asdict(self._retired))
        if self._windower is not None:
            for name, value in asdict(self._windower.counts).items():
                setattr(windowed, name, getattr(windowed, name) + value)
        values = {f"event packets decoded {kind}": str(n) for kind, n in sorted(counts.packets.items())}
        values.update({
            "events decoded": str(counts.events),
            "events dropped (outside the sensor / before the stream state)": str(counts.dropped),
            "evt3 ROS time re-anchored (stamp jumps)": str(counts.reanchored),
            "events late (older than the open window)": str(windowed.late),
            "window grid resyncs (clock jumps)": str(windowed.resyncs),
            "events discarded (open window at deactivate)": str(windowed.discarded),
            "event packet size changes": str(self._size_changes),
        })
        if self._intrinsics_ignored:
            values["intrinsics ignored (size mismatch)"] = str(self._intrinsics_ignored)
        return values

    def to_frame(self, window: EventWindow) -> EventWindow:
        return window


def main(args: list[str] | None = None) -> None:
    run_nodes([EventPoseNode], args=args)


if __name__ == "__main__":
    main()
