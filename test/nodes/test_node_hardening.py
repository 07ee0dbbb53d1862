"""The RGB node against a demanding user: refused requests, implausible intrinsics, a wrong graph,
lost messages.

The node runs in its own process (``hpe-ros run``, replay pipeline); this process is the user,
with its own rclpy context: it publishes, calls the node's services and reads ``/diagnostics``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from hypothesis import given, settings
from hypothesis import strategies as st
from lifecycle_msgs.msg import State, Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import String

from hpe_ros.cli.demo import write_sample_recording
from hpe_ros.io.images import encode_compressed

pytestmark = pytest.mark.ros

IMAGE_TOPIC, INFO_TOPIC = "/cam/image", "/cam/info"
WIDTH, HEIGHT = 64, 48


class User:
    """A client node: publishers, service calls and the node's latest /diagnostics values."""

    def __init__(self, node: Any, executor: SingleThreadedExecutor) -> None:
        self.node, self.executor = node, executor
        self.status: Any = None
        self.statuses: list[tuple[float, Any]] = []
        self.diagnostics = node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 50)

    def _on_diagnostics(self, msg: Any) -> None:
        for status in msg.status:
            if "hpe_pose" in status.name:
                self.status = status
                self.statuses.append((time.monotonic(), status))

    def values(self) -> dict[str, str]:
        return {kv.key: kv.value for kv in self.status.values} if self.status is not None else {}

    def spin_until(self, done: Callable[[], bool], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if done():
                return True
            self.executor.spin_once(timeout_sec=0.05)
        return done()

    def call(self, client: Any, request: Any, timeout_s: float = 10.0) -> Any:
        assert client.wait_for_service(timeout_sec=20.0), f"no service {client.srv_name}"
        future = client.call_async(request)
        assert self.spin_until(future.done, timeout_s), f"{client.srv_name} did not answer"
        return future.result()


@pytest.fixture
def user(ros_client) -> User:
    return User(*ros_client)


def _start_node(ros_graph, tmp_path: Path, *settings: str) -> Any:
    _, truth = write_sample_recording(tmp_path, num_frames=5)
    base = [f"replay.path={truth}", f"input.image_topic={IMAGE_TOPIC}",
            f"input.camera_info_topic={INFO_TOPIC}", "diagnostics_period_s=0.2",
            "input.camera_info_wait_s=0.0"]
    process = ros_graph.start("node", "run", "--pipeline", "replay",
                              *[arg for s in (*base, *settings) for arg in ("--set", s)])
    ros_graph.wait_for_line("node", "active:", timeout_s=30)
    return process


def _image(stamp_ns: int, width: int = WIDTH, height: int = HEIGHT) -> Image:
    msg = Image(height=height, width=width, encoding="rgb8", step=3 * width, data=bytes(3 * width * height))
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
    msg.header.frame_id = "cam"
    return msg


def _camera_info(with_intrinsics: Callable[..., Any], **changes: Any) -> CameraInfo:
    calibrated = CameraInfo(width=WIDTH, height=HEIGHT, distortion_model="plumb_bob", d=[0.0] * 5,
                            k=[50.0, 0.0, 32.0, 0.0, 50.0, 24.0, 0.0, 0.0, 1.0])
    return with_intrinsics(calibrated, **changes)


def _reliable(depth: int = 10) -> QoSProfile:
    return QoSProfile(depth=depth, reliability=ReliabilityPolicy.RELIABLE)


def _publish_matched(user: User, publisher: Any, messages: list[Any], period_s: float = 0.02) -> None:
    assert user.spin_until(lambda: publisher.get_subscription_count() > 0, 20.0), "the node never subscribed"
    time.sleep(0.3)  # the node's side of the match
    for msg in messages:
        publisher.publish(msg)
        user.spin_until(lambda: False, period_s)


def test_refused_lifecycle_requests_and_parameters_leave_the_node_running(
    ros_graph, user, tmp_path: Path
) -> None:
    # a queue for every image: a loaded machine would otherwise count one as replaced by a newer one
    process = _start_node(ros_graph, tmp_path, "input.qos=reliable", "input.queue_size=100")
    change = user.node.create_client(ChangeState, "/hpe_pose/change_state")
    get_state = user.node.create_client(GetState, "/hpe_pose/get_state")
    set_parameters = user.node.create_client(SetParameters, "/hpe_pose/set_parameters")

    refused = [Transition(id=99), Transition(id=Transition.TRANSITION_CONFIGURE), Transition(label="fly")]
    for transition in refused:
        assert not user.call(change, ChangeState.Request(transition=transition)).success
    assert process.poll() is None, ros_graph.log("node")
    assert user.call(get_state, GetState.Request()).current_state.id == State.PRIMARY_STATE_ACTIVE

    bad = Parameter(name="input.qos",
                    value=ParameterValue(type=ParameterType.PARAMETER_STRING, string_value="fast"))
    (result,) = user.call(set_parameters, SetParameters.Request(parameters=[bad])).results
    assert not result.successful and "input.qos" in result.reason
    bad = Parameter(name="output.mesh_marker_every",
                    value=ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=0))
    (result,) = user.call(set_parameters, SetParameters.Request(parameters=[bad])).results
    assert not result.successful and "mesh_marker_every" in result.reason

    # still working: images are processed, and the refusals are on /diagnostics
    publisher = user.node.create_publisher(Image, IMAGE_TOPIC, _reliable())
    _publish_matched(user, publisher, [_image(1_000_000_000 + i) for i in range(3)])
    assert user.spin_until(lambda: user.values().get("processed") == "3", 10.0), user.values()
    values = user.values()
    assert values["refused lifecycle requests"] == "2"  # the unknown label never reaches the state machine
    assert values["rejected parameter update"] == "2"
    assert "refused lifecycle transition id=99" in ros_graph.log("node")


def test_implausible_camera_info_is_counted_and_the_images_still_processed(ros_graph, user, tmp_path: Path,
                                                                           with_intrinsics) -> None:
    _start_node(ros_graph, tmp_path, "input.qos=reliable", "input.queue_size=100")
    changes = [{"d": [1e308, 0.0, 0.0, 0.0, 0.0]}, {"fx": 1e-300}, {"fx": 1e300}, {"skew": 1e9},
               {"cx": 500.0}, {"distortion_model": "rational_polynomial", "d": []}]
    implausible = [_camera_info(with_intrinsics, **change) for change in changes]
    infos = user.node.create_publisher(CameraInfo, INFO_TOPIC, _reliable(100))
    images = user.node.create_publisher(Image, IMAGE_TOPIC, _reliable(100))
    assert user.spin_until(lambda: images.get_subscription_count() > 0, 20.0)
    _publish_matched(user, infos, implausible)
    _publish_matched(user, images, [_image(2_000_000_000 + i) for i in range(4)])
    assert user.spin_until(lambda: user.values().get("processed") == "4", 10.0), user.values()
    values = user.values()
    assert values["rejected camera_info"] == str(len(implausible))
    assert "none received" in values[f"camera_info {INFO_TOPIC}"]

    # intrinsics of another size: the frame is processed and counted apart, not as rejected input
    _publish_matched(user, infos, [_camera_info(with_intrinsics, width=2 * WIDTH, height=2 * HEIGHT)])
    _publish_matched(user, images, [_image(3_000_000_000)])
    assert user.spin_until(lambda: user.values().get("processed") == "5", 10.0), user.values()
    values = user.values()
    assert values["intrinsics ignored (size mismatch)"] == "1"
    assert values["rejected camera_info"] == str(len(implausible)) and "rejected image" not in values


def test_a_wrong_message_type_and_an_incompatible_qos_are_named_with_the_fix(
    ros_graph, user, tmp_path: Path
) -> None:
    _start_node(ros_graph, tmp_path, "input.qos=reliable")
    best_effort = user.node.create_publisher(Image, IMAGE_TOPIC, QoSProfile(depth=5,
                                                                             reliability=ReliabilityPolicy.BEST_EFFORT))
    # one DDS participant cannot offer two types on a topic: the wrong type comes from another one
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=int(ros_graph.env["ROS_DOMAIN_ID"]))
    other = rclpy.create_node("misconfigured_driver", context=context)
    strings = other.create_publisher(String, IMAGE_TOPIC, 10)
    key = f"input {IMAGE_TOPIC}"

    def reported() -> bool:
        state = user.values().get(key, "")
        return "std_msgs/msg/String" in state and "set input.qos to 'sensor_data'" in state

    try:
        assert user.spin_until(reported, 20.0), user.values()
        assert strings.get_subscription_count() == 0 and best_effort.get_subscription_count() == 0
    finally:
        other.destroy_node()
        rclpy.shutdown(context=context)
    ros_graph.wait_for_line("node", "a publisher sends std_msgs/msg/String", timeout_s=5)
    log = ros_graph.log("node")
    assert log.count("set input.qos to 'sensor_data'") == 1  # warned once, not every period


def test_messages_lost_before_the_callback_are_counted_within_two_seconds(
    ros_graph, user, tmp_path: Path
) -> None:
    _start_node(ros_graph, tmp_path, "input.qos=sensor_data", "input.qos_depth=1")
    publisher = user.node.create_publisher(Image, IMAGE_TOPIC, QoSProfile(depth=1,
                                                                           reliability=ReliabilityPolicy.BEST_EFFORT))
    burst = [_image(4_000_000_000 + i, 320, 240) for i in range(300)]
    assert user.spin_until(lambda: publisher.get_subscription_count() > 0, 20.0)
    warm_up = 0  # until one arrives: what was sent before the node's side matched is not the node's loss
    while user.values().get("received", "0") == "0":
        assert warm_up < 100, user.values()
        publisher.publish(_image(3_000_000_000 + warm_up, 320, 240))
        warm_up += 1
        user.spin_until(lambda: False, 0.6)  # > 2 diagnostics periods: "received" includes this one
    unseen = warm_up - 1  # sent before the first arrival
    for msg in burst:  # as fast as this process can: the node's history of 1 overflows
        publisher.publish(msg)
    burst_ended = time.monotonic()
    tail = [_image(5_000_000_000 + i, 320, 240) for i in range(5)]
    for msg in tail:  # slowly: the last gap is seen
        publisher.publish(msg)
        user.spin_until(lambda: False, 0.1)
    published = warm_up + len(burst) + len(tail) - unseen

    def accounted() -> bool:
        values = user.values()
        return int(values.get("received", 0)) + int(values.get("lost before callback", 0)) >= published

    assert user.spin_until(accounted, 10.0), f"{user.values()}\n{ros_graph.log('node')}"
    values = user.values()
    lost, received = int(values["lost before callback"]), int(values["received"])
    assert lost > 0
    assert received + lost == published  # every message is either received or counted lost
    assert f"lost before callback: {lost} of {lost + received}" in values[f"input {IMAGE_TOPIC}"]
    assert values[f"lost before callback {IMAGE_TOPIC}"] == str(lost)
    warned = [t for t, status in user.statuses if "lost before the callback" in status.message]
    assert warned and warned[0] - burst_ended < 2.0
    assert np.isfinite(float(values["input rate (Hz)"]))


# ---- fuzzing lifecycle requests and parameter updates through the running node -----------------
_KNOWN_LABELS = ["configure", "activate", "deactivate", "cleanup", "create", "destroy", "", "fly"]
_PARAMETER_NAMES = ["input.qos", "input.queue_size", "input.qos_depth", "input.max_age_s", "output.markers",
                    "output.marker_lifetime_s", "tracking.max_lost_s", "pipeline", "replay.match",
                    "diagnostics_period_s", "no.such.parameter", "input.camera_info_wait_s"]


def _parameter_values() -> st.SearchStrategy:
    return st.one_of(
        st.builds(lambda v: ParameterValue(type=ParameterType.PARAMETER_BOOL, bool_value=v), st.booleans()),
        st.builds(lambda v: ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=v),
                  st.integers(-(2**63), 2**63 - 1)),
        st.builds(lambda v: ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=v),
                  st.floats(allow_nan=True, allow_infinity=True)),
        st.builds(lambda v: ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=v),
                  st.sampled_from(["", "reliable", "sensor_data", "replay", "blazepose", "stamp", "x" * 300])
                  | st.text(max_size=20)),
        st.builds(lambda v: ParameterValue(type=ParameterType.PARAMETER_DOUBLE_ARRAY, double_array_value=v),
                  st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=4)),
        st.just(ParameterValue(type=ParameterType.PARAMETER_NOT_SET)),
    )


# shutdown transitions (ids 5-7, labels '*shutdown') are left out: they end the node on purpose
_requests = st.lists(st.one_of(
    st.tuples(st.just("transition"), st.sampled_from([0, 1, 2, 3, 4, 8, 9, 10, 11, 12, 60, 97, 98, 99, 255])),
    st.tuples(st.just("label"), st.sampled_from(_KNOWN_LABELS) | st.text(max_size=12).filter(
        lambda t: "shutdown" not in t)),
    st.tuples(st.just("parameter"), st.tuples(st.sampled_from(_PARAMETER_NAMES), _parameter_values())),
), min_size=1, max_size=5)


@pytest.mark.fuzz
def test_fuzzed_lifecycle_requests_and_parameter_updates_never_end_the_node(ros_graph, user,
                                                                             tmp_path: Path) -> None:
    process = _start_node(ros_graph, tmp_path, "input.qos=reliable")
    truth = tmp_path / "ground_truth.npz"
    change = user.node.create_client(ChangeState, "/hpe_pose/change_state")
    get_state = user.node.create_client(GetState, "/hpe_pose/get_state")
    set_parameters = user.node.create_client(SetParameters, "/hpe_pose/set_parameters")
    cases = settings.default.max_examples
    answered: list[int] = []

    @settings(max_examples=40 if cases < 1000 else cases)
    @given(_requests)
    def requests_are_answered(requests: list[tuple[str, Any]]) -> None:
        answered.append(len(requests))
        for kind, payload in requests:
            if kind == "transition":
                user.call(change, ChangeState.Request(transition=Transition(id=payload)))
            elif kind == "label":
                user.call(change, ChangeState.Request(transition=Transition(label=payload)))
            else:
                name, value = payload
                request = SetParameters.Request(parameters=[Parameter(name=name, value=value)])
                user.call(set_parameters, request)
            assert process.poll() is None, ros_graph.log("node")[-3000:]
        assert user.call(get_state, GetState.Request()).current_state.id in (
            State.PRIMARY_STATE_UNCONFIGURED, State.PRIMARY_STATE_INACTIVE, State.PRIMARY_STATE_ACTIVE)

    requests_are_answered()
    print(f"{len(answered)} fuzzed cases, {sum(answered)} lifecycle requests and parameter updates answered")

    # and it still works once brought back up
    def string(value: str) -> ParameterValue:
        return ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=value)

    restore = [Parameter(name="pipeline", value=string("replay")),
               Parameter(name="replay.path", value=string(str(truth))),
               Parameter(name="replay.match", value=string("sequence")),
               Parameter(name="input.qos", value=string("reliable")),
               Parameter(name="input.max_age_s", value=ParameterValue(type=ParameterType.PARAMETER_DOUBLE))]
    user.call(set_parameters, SetParameters.Request(parameters=restore))
    state = user.call(get_state, GetState.Request()).current_state.id
    if state == State.PRIMARY_STATE_ACTIVE:
        user.call(change, ChangeState.Request(transition=Transition(id=Transition.TRANSITION_DEACTIVATE)))
        state = State.PRIMARY_STATE_INACTIVE
    if state == State.PRIMARY_STATE_INACTIVE:
        user.call(change, ChangeState.Request(transition=Transition(id=Transition.TRANSITION_CLEANUP)))
    for transition in (Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE):
        assert user.call(change, ChangeState.Request(transition=Transition(id=transition))).success, \
            ros_graph.log("node")[-3000:]
    before = int(user.values().get("processed", 0))
    publisher = user.node.create_publisher(Image, IMAGE_TOPIC, _reliable())
    _publish_matched(user, publisher, [_image(7_000_000_000 + i) for i in range(2)])
    assert user.spin_until(lambda: int(user.values().get("processed", 0)) >= before + 2, 10.0), user.values()


_encodings = st.sampled_from(
    ["rgb8", "bgr8", "mono8", "mono16", "yuv422", "bayer_rggb8", "rgba8", "16UC1", "", "x"]
)


@pytest.mark.fuzz
def test_fuzzed_images_through_the_node_are_each_processed_or_counted(
    ros_graph, user, tmp_path: Path
) -> None:
    process = _start_node(ros_graph, tmp_path, "input.qos=reliable", "input.queue_size=1000",
                          "input.qos_depth=1000")
    publisher = user.node.create_publisher(Image, IMAGE_TOPIC, _reliable(1000))
    _publish_matched(user, publisher, [])
    sent = []
    cases = settings.default.max_examples

    @settings(max_examples=60 if cases < 1000 else cases)
    @given(encoding=_encodings, height=st.integers(0, 20), width=st.integers(0, 20), step=st.integers(0, 80),
           data=st.binary(max_size=1500), big_endian=st.integers(0, 1))
    def publish(encoding: str, height: int, width: int, step: int, data: bytes, big_endian: int) -> None:
        msg = Image(height=height, width=width, encoding=encoding, step=step, data=data,
                    is_bigendian=big_endian)
        msg.header.stamp.sec = 10 + len(sent)
        publisher.publish(msg)
        sent.append(msg)
        user.executor.spin_once(timeout_sec=0.001)

    publish()
    print(f"{len(sent)} fuzzed images published")
    publisher.publish(_image(90_000_000_000))  # and a good one last
    total = len(sent) + 1

    def all_handled() -> bool:
        values = user.values()
        handled = int(values.get("processed", 0)) + int(values.get("rejected image", 0))
        return int(values.get("received", 0)) == total and handled == total

    assert user.spin_until(all_handled, 30.0), user.values()
    assert process.poll() is None and int(user.values()["processed"]) >= 1


_CAMERA_SCRIPT = """
import sys, time, rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
rclpy.init()
node = rclpy.create_node("camera_with_profile")
best_effort = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT)
publisher = node.create_publisher(Image, sys.argv[1], best_effort)
while publisher.get_subscription_count() == 0:
    time.sleep(0.05)
time.sleep(0.5)
for i in range(int(sys.argv[2])):
    msg = Image(height=480, width=640, encoding="rgb8", step=1920, data=bytes(640 * 480 * 3))
    msg.header.stamp.sec = 6 + i
    publisher.publish(msg)
    time.sleep(0.1)
time.sleep(0.5)
rclpy.shutdown()
"""


def test_the_shipped_fast_dds_profile_delivers_every_raw_frame_best_effort(ros_graph, user,
                                                                           tmp_path: Path) -> None:
    # Fast DDS reads its profile once per process: the node and the camera run in their own, with it
    profile = Path(__file__).resolve().parents[2] / "config" / "fastdds_large_images.xml"
    ros_graph.env["FASTRTPS_DEFAULT_PROFILES_FILE"] = str(profile)
    _start_node(ros_graph, tmp_path, "input.qos=sensor_data", "input.queue_size=100")
    frames = 20  # 900 KiB each
    camera = subprocess.run([sys.executable, "-c", _CAMERA_SCRIPT, IMAGE_TOPIC, str(frames)],
                            env=ros_graph.env, capture_output=True, text=True, timeout=60)
    assert camera.returncode == 0, camera.stderr
    assert user.spin_until(lambda: user.values().get("received") == str(frames), 10.0), user.values()
    assert user.values()["lost before callback"] == "0"


def test_compressed_input_a_corrupt_jpeg_is_counted_and_the_next_one_processed(ros_graph, user,
                                                                                tmp_path: Path) -> None:
    _start_node(ros_graph, tmp_path, "input.qos=reliable", "input.queue_size=100",
                "input.transport=compressed")
    fmt, jpeg = encode_compressed(np.full((HEIGHT, WIDTH, 3), 128, dtype=np.uint8))
    messages = []
    for index, data in enumerate([jpeg[: len(jpeg) // 3], jpeg]):  # cut short, then whole
        msg = CompressedImage(format=fmt, data=data)
        msg.header.stamp.sec = 20 + index
        messages.append(msg)
    publisher = user.node.create_publisher(CompressedImage, f"{IMAGE_TOPIC}/compressed", _reliable())
    _publish_matched(user, publisher, messages)
    assert user.spin_until(lambda: user.values().get("processed") == "1", 10.0), user.values()
    assert user.values()["rejected image"] == "1"
