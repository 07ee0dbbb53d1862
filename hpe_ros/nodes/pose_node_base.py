"""The lifecycle node every hpe_ros pipeline runs in.

configure  -> builds the pipeline (loads models) and the publishers
activate   -> subscribes and starts the worker thread
deactivate -> unsubscribes and stops the worker
cleanup    -> releases the pipeline

Subscription callbacks only hand messages to a bounded queue (the newest wins, older ones are
counted as dropped); a worker thread converts, runs the pipeline and publishes, stamping every
output with its input's header. A bad message is counted, logged and reported on
``/diagnostics``; the node goes on.
"""

from __future__ import annotations

import threading
import time
import traceback
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from hpe_ros_msgs.msg import MeshFaces, Skeleton3DArray, SMPLBodyArray
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.lifecycle.node import LifecycleNodeMixin
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rclpy.qos_overriding_options import QoSOverridingOptions
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import MarkerArray

from hpe_ros.io.diagnostics import StreamStats, diagnostic_array
from hpe_ros.io.input_loss import SequenceGaps
from hpe_ros.io.message_classes import RclpyMessageClasses
from hpe_ros.io.messages import stamp_to_ns
from hpe_ros.io.outputs import OutputOptions, ResultMessages
from hpe_ros.nodes.hri_publishers import HriPublishers
from hpe_ros.nodes.latest_queue import LatestQueue
from hpe_ros.pipelines.base import EventWindow, ImageFrame, Pipeline, PoseResult
from hpe_ros.pipelines.registry import create_pipeline, pipeline_specs
from hpe_ros.pipelines.tracking.stage import (
    TRACKING_DEFAULTS,
    TRACKING_HELP,
    PeopleTracking,
    tracking_from_options,
)

REJECT_LOG_PERIOD_S = 5.0  # at most one log line per input kind in this time


class InputError(ValueError):
    """An input message that cannot be turned into a frame (reported, then skipped)."""


def reliable_qos(depth: int = 10, transient_local: bool = False) -> QoSProfile:
    return QoSProfile(
        depth=depth,
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if transient_local else DurabilityPolicy.VOLATILE,
    )


def input_qos(name: str, depth: int) -> QoSProfile:
    """``sensor_data`` (best effort: cameras' usual offer) or ``reliable``, keeping ``depth`` messages."""
    if name == "sensor_data":
        return QoSProfile(depth=depth, reliability=qos_profile_sensor_data.reliability,
                          durability=qos_profile_sensor_data.durability)
    if name == "reliable":
        return reliable_qos(depth)
    raise ValueError(f"input.qos must be 'sensor_data' or 'reliable', got {name!r}")


class PoseNodeBase(LifecycleNode):
    """Shared parameters, publishers, worker and diagnostics; subclasses add the inputs."""

    #: "image" or "events": which pipelines this node accepts
    input_kind = "image"
    default_pipeline = "replay"
    #: messages the middleware keeps for a subscription whose callback is late
    default_qos_depth = 5

    def __init__(self, node_name: str, **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self.classes = RclpyMessageClasses()
        self.stats = StreamStats()
        self.pipeline: Pipeline | None = None
        self.tracking: PeopleTracking | None = None
        self._tracked_ids = 0  # confirmed ids alive after the last frame
        self._queue: LatestQueue[Any] = LatestQueue(1)
        self._worker: threading.Thread | None = None
        self._stop = threading.Event()
        self._inputs: list[Any] = []
        self._outputs: dict[str, Any] = {}
        self._messages = ResultMessages(self.classes)
        self._hri: HriPublishers | None = None  # ROS4HRI topics, with output.hri
        self._input_qos: QoSProfile | None = None
        self._loss: dict[str, SequenceGaps] = {}  # per input topic
        self._input_publishers: dict[str, int] = {}  # matching publishers per input topic (graph check)
        self._graph_warnings: set[tuple[str, str]] = set()  # (topic, problem) already warned about
        self._reject_logged: dict[str, float] = {}  # input kind -> monotonic time of its last log line
        self._declare_common_parameters()
        self.declare_input_parameters()
        self.add_on_set_parameters_callback(self._check_parameters)
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._diagnostics_timer = self.create_timer(
            self.param("diagnostics_period_s"), self._publish_diagnostics
        )

    # ---- parameters -------------------------------------------------------------------------
    def declare(self, name: str, default: Any, description: str, read_only: bool = False) -> None:
        self.declare_parameter(
            name, default, ParameterDescriptor(description=description, read_only=read_only)
        )

    def param(self, name: str) -> Any:
        return self.get_parameter(name).value

    def _declare_common_parameters(self) -> None:
        self.declare(
            "pipeline", self.default_pipeline, "pipeline to run; its options are '<pipeline>.<option>'"
        )
        for spec in pipeline_specs().values():
            if spec.input_kind != self.input_kind:
                continue
            for option, default in spec.defaults.items():
                self.declare(f"{spec.name}.{option}", default, f"option '{option}' of pipeline '{spec.name}'")
        self.declare("input.qos", "sensor_data", "input QoS: 'sensor_data' (best effort) or 'reliable'")
        self.declare("input.qos_depth", self.default_qos_depth,
                     "messages the middleware keeps while the subscription callback is busy")
        self.declare("input.queue_size", 1, "frames kept while the pipeline is busy; older ones are dropped")
        self.declare(
            "input.max_age_s",
            0.0,
            "skip (and count) frames whose stamp is older than this when the "
            "pipeline takes them (s, node clock; 0: off)",
        )
        self.declare("input.frame_id", "", "override the input's frame_id (empty: use the message header)")
        self.declare("output.markers", True, "publish visualization_msgs/MarkerArray on 'markers'")
        self.declare("output.tf", False, "publish a /tf frame per metric joint")
        self.declare("output.tf_prefix", "hpe", "prefix of the joint frames on /tf")
        self.declare("output.marker_lifetime_s", 0.3, "lifetime of the RViz markers (s)")
        self.declare("output.mesh_marker_every", 1,
                     "publish the RViz mesh markers with every N-th result (living N times as long)")
        self.declare("output.hri", False, "publish ROS4HRI (REP-155) /humans/bodies/* and body_<id> frames")
        for option, default in TRACKING_DEFAULTS.items():
            self.declare(f"tracking.{option}", default, TRACKING_HELP[option])
        self.declare("diagnostics_period_s", 1.0, "period of the /diagnostics status (s)", read_only=True)

    def declare_input_parameters(self) -> None:
        """Subclasses declare their input topics here."""

    def pipeline_options(self, name: str) -> dict[str, Any]:
        spec = pipeline_specs()[name]
        return {option: self.param(f"{name}.{option}") for option in spec.defaults}

    # ---- lifecycle ---------------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        name = self.param("pipeline")
        specs = pipeline_specs()
        if name not in specs or specs[name].input_kind != self.input_kind:
            usable = [n for n, s in specs.items() if s.input_kind == self.input_kind]
            self.get_logger().error(f"parameter 'pipeline' is {name!r}; this node runs one of {usable}")
            return TransitionCallbackReturn.FAILURE
        try:
            self.pipeline = create_pipeline(name, self.pipeline_options(name))
            self.tracking = tracking_from_options({o: self.param(f"tracking.{o}") for o in TRACKING_DEFAULTS})
        except Exception as error:  # a missing file or a bad option must not kill the process
            self.get_logger().error(f"cannot build pipeline {name!r}: {error}")
            return TransitionCallbackReturn.FAILURE
        self._queue = LatestQueue(int(self.param("input.queue_size")))
        self._outputs = {
            "skeletons": self.create_lifecycle_publisher(Skeleton3DArray, "skeletons", reliable_qos()),
            "markers": self.create_lifecycle_publisher(MarkerArray, "markers", reliable_qos()),
            "bodies": self.create_lifecycle_publisher(SMPLBodyArray, "bodies", reliable_qos()),
            "faces": self.create_lifecycle_publisher(
                MeshFaces, "mesh_faces", reliable_qos(1, transient_local=True)
            ),
            "tf": self.create_lifecycle_publisher(TFMessage, "/tf", reliable_qos(100)),
        }
        self._messages = ResultMessages(self.classes)
        if self.param("output.hri"):
            self._hri = HriPublishers(self, self.classes, self._outputs["tf"])
        described = ", ".join(f"{k}={v}" for k, v in self.pipeline.describe().items())
        self.get_logger().info(f"configured: {described}")
        return super().on_configure(state)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._input_qos = input_qos(self.param("input.qos"), int(self.param("input.qos_depth")))
        self._loss, self._input_publishers, self._graph_warnings = {}, {}, set()
        try:
            self._inputs = self.create_input_subscriptions(self._input_qos)
        except Exception as error:  # a bad topic name or option: refuse the transition, keep the node
            self.get_logger().error(f"cannot subscribe to the inputs: {error}")
            return TransitionCallbackReturn.FAILURE
        self._stop.clear()
        self._worker = threading.Thread(target=self._work, name=f"{self.get_name()}-worker", daemon=True)
        self._worker.start()
        self.get_logger().info("active: " + ", ".join(s.topic_name for s in self._inputs))
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_inputs()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_inputs()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def _stop_inputs(self) -> None:
        for subscription in self._inputs:
            self.destroy_subscription(subscription)
        self._inputs = []
        self._stop.set()
        if self._worker is not None:
            self._worker.join(timeout=5.0)
            self._worker = None
        self._queue.clear()
        if self._hri is not None:
            self._hri.stop()

    def _release(self) -> None:
        if self._hri is not None:
            self._hri.close()
            self._hri = None
        for publisher in self._outputs.values():
            self.destroy_lifecycle_publisher(publisher)
        self._outputs = {}
        if self.pipeline is not None:
            self.pipeline.close()
            self.pipeline = None
        self.tracking = None

    # ---- inputs ------------------------------------------------------------------------------
    def create_input_subscriptions(self, qos: QoSProfile) -> list[Any]:
        """Subclasses subscribe to their inputs and feed :meth:`enqueue`."""
        raise NotImplementedError

    def subscribe_input(self, message_type: Any, topic: str, callback: Any, qos: QoSProfile) -> Any:
        """A subscription to an input topic: losses before ``callback`` counted, QoS overridable
        by the standard ``qos_overrides`` parameters."""
        return self.create_subscription(message_type, topic, self.counted(topic, callback), qos,
                                        qos_overriding_options=QoSOverridingOptions.with_default_policies())

    def counted(self, topic: str, callback: Any) -> Any:
        """A subscription callback that counts the messages lost before it on ``topic``, then calls
        ``callback``."""
        resolved = self.resolve_topic_name(topic)
        gaps = self._loss.setdefault(resolved, SequenceGaps())

        def on_message(msg: Any, message_info: Any) -> None:
            self.stats.lost(gaps.observe_info(message_info, self._input_publishers.get(resolved, 1)))
            callback(msg)

        return on_message

    def enqueue(self, item: Any) -> None:
        """Hand an input to the worker (from a subscription callback)."""
        self.stats.received()
        dropped = self._queue.put(item)
        if dropped:
            self.stats.dropped(dropped)

    def to_frame(self, item: Any) -> ImageFrame | EventWindow:
        """Subclasses turn a queued item into a frame; raise InputError for bad input."""
        raise NotImplementedError

    def reject(self, reason: str, kind: str = "input") -> None:
        """Count (per input ``kind``) and report a bad input message without processing it.

        The log line is rate-limited per kind (rclpy's throttle is per line of code, so a flood of
        one bad input would hide the others)."""
        self.stats.rejected(reason, kind)
        now = time.monotonic()
        if now - self._reject_logged.get(kind, -REJECT_LOG_PERIOD_S) >= REJECT_LOG_PERIOD_S:
            self._reject_logged[kind] = now
            self.get_logger().warning(f"skipped {kind}: {reason}")

    # ---- work --------------------------------------------------------------------------------
    def _work(self) -> None:
        while not self._stop.is_set():
            item = self._queue.get(timeout=0.1)
            if item is None or self.pipeline is None:
                continue
            try:
                frame = self.to_frame(item)
            except InputError as error:
                self.reject(str(error), self.input_kind)
                continue
            max_age_s = float(self.param("input.max_age_s"))
            if max_age_s > 0.0 and (self.get_clock().now().nanoseconds - frame.stamp_ns) * 1e-9 > max_age_s:
                self.stats.stale()
                self.get_logger().warning(
                    f"skipped frames older than input.max_age_s={max_age_s:g} s (is the "
                    "input's clock the node's? use_sim_time for bags)",
                    throttle_duration_sec=5.0,
                )
                continue
            started = time.perf_counter()
            try:
                result = self.pipeline.process(frame)
                if self.tracking is not None:
                    tracked = self.tracking.apply(result)
                    result, self._tracked_ids = tracked.result, len(tracked.active)
                self.publish(result)
            except Exception as error:  # keep the node alive: report and go on
                self.stats.failed(f"{type(error).__name__}: {error}")
                self.get_logger().error(f"pipeline failed: {error}\n{traceback.format_exc()}",
                                        throttle_duration_sec=5.0)
                continue
            now_ns = self.get_clock().now().nanoseconds
            self.stats.processed((now_ns - frame.stamp_ns) * 1e-9, time.perf_counter() - started)

    def publish(self, result: PoseResult) -> None:
        """Publish every output of one processed frame."""
        options = OutputOptions(markers=bool(self.param("output.markers")), tf=bool(self.param("output.tf")),
                                tf_prefix=str(self.param("output.tf_prefix")),
                                marker_lifetime_s=float(self.param("output.marker_lifetime_s")),
                                mesh_marker_every=max(1, int(self.param("output.mesh_marker_every"))))
        faces = self.pipeline.mesh_faces() if self.pipeline is not None else None
        # outputs nobody subscribes to are not built (a mesh marker is thousands of point messages)
        skip = [name for name in ("skeletons", "bodies", "markers")
                if self._outputs[name].get_subscription_count() == 0]
        for name, message in self._messages.messages(result, faces, options, skip=skip):
            self._outputs[name].publish(message)
        if self._hri is not None:
            self._hri.publish(result)

    # ---- lifecycle requests and parameter updates from outside ---------------------------------
    def _LifecycleNodeMixin__on_change_state(self, request: Any, response: Any) -> Any:  # noqa: N802
        """The ``change_state`` service: a transition that does not exist from here is refused, not fatal.

        rclpy raises from the service callback for an unknown transition id, which ends the
        executor's spin and with it the process."""
        current = self._state_machine.current_state
        try:
            # rclpy's name-mangled private handler, which mypy does not resolve
            return LifecycleNodeMixin._LifecycleNodeMixin__on_change_state(  # type: ignore[attr-defined]
                self, request, response)
        except Exception as error:
            self.stats.rejected(f"lifecycle request: {error}", "lifecycle request")
            available = ", ".join(f"{t.transition.label} ({t.transition.id})"
                                  for t in self._available_transitions())
            self.get_logger().warning(
                f"refused lifecycle transition id={request.transition.id} label={request.transition.label!r} "
                f"from state '{current[1]}': {error}; available: {available}", throttle_duration_sec=1.0)
            response.success = False
            return response

    def _available_transitions(self) -> list[Any]:
        from lifecycle_msgs.srv import GetAvailableTransitions

        request, response = GetAvailableTransitions.Request(), GetAvailableTransitions.Response()
        try:
            handler = self._LifecycleNodeMixin__on_get_available_transitions  # type: ignore[attr-defined]
            return list(handler(request, response).available_transitions)
        except Exception:
            return []

    def _check_parameters(self, parameters: list[Any]) -> Any:
        """Refuse parameter updates the node cannot use, with the reason (the caller gets it back)."""
        from rcl_interfaces.msg import SetParametersResult

        problems = [self.parameter_problem(parameter.name, parameter.value) for parameter in parameters]
        reason = "; ".join(problem for problem in problems if problem)
        if reason:
            self.stats.rejected(f"parameter update: {reason}", "parameter update")
            self.get_logger().warning(f"refused parameter update: {reason}", throttle_duration_sec=1.0)
        return SetParametersResult(successful=not reason, reason=reason)

    def parameter_problem(self, name: str, value: Any) -> str:
        """Why ``value`` is not usable for parameter ``name`` ('' when it is)."""
        if name == "input.qos":
            try:
                input_qos(value, 1)
            except ValueError as error:
                return str(error)
        if name in ("input.qos_depth", "input.queue_size") and not (
            isinstance(value, int) and 1 <= value <= 10_000
        ):
            return f"{name} must be an integer 1..10000, got {value!r}"
        if name == "output.mesh_marker_every" and not (isinstance(value, int) and value >= 1):
            return f"{name} must be an integer >= 1, got {value!r}"
        if (name.endswith(("_s", "_tolerance_s")) and name.startswith(("input.", "output.", "tracking."))
                and isinstance(value, float | int) and not (0.0 <= float(value) < 1e6)):
            return f"{name} must be a duration in seconds, 0 <= value < 1e6, got {value!r}"
        if name == "pipeline" and value not in pipeline_specs():
            return f"pipeline must be one of {sorted(pipeline_specs())}, got {value!r}"
        return ""

    # ---- the input graph -----------------------------------------------------------------------
    def _check_input_graph(self) -> dict[str, str]:
        """Publishers of every input topic: a wrong message type or an incompatible QoS is warned
        about once."""
        report = {}
        for subscription in self._inputs:
            topic = subscription.topic_name
            ours = _type_name(subscription.msg_type)
            try:
                publishers = self.get_publishers_info_by_topic(topic)
            except Exception:  # the graph is not available during shutdown
                continue
            matching = [p for p in publishers if p.topic_type == ours]
            self._input_publishers[topic] = len(matching)
            problems = []
            for other in sorted({p.topic_type for p in publishers} - {ours}):
                problems.append(
                    f"a publisher sends {other}, this node reads {ours}: point the input parameter "
                    "at a topic of that type"
                )
            wants_reliable = (
                self._input_qos is not None and self._input_qos.reliability == ReliabilityPolicy.RELIABLE
            )
            if wants_reliable and any(
                p.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT for p in matching
            ):
                problems.append(
                    "a publisher offers best effort but input.qos is 'reliable', so nothing arrives "
                    "from it: set input.qos to 'sensor_data'"
                )
            for problem in problems:
                if (topic, problem) not in self._graph_warnings:
                    self._graph_warnings.add((topic, problem))
                    self.get_logger().warning(f"input {topic}: {problem}")
            loss = self._loss.get(topic)
            state = f"{len(matching)} publisher(s)" + (f"; {'; '.join(problems)}" if problems else "")
            report[f"input {topic}"] = state + (f"; lost before callback: {loss.describe()}" if loss else "")
            if loss is not None and loss.counted:
                report[f"lost before callback {topic}"] = str(loss.lost)  # the number alone, for tools
        return report

    def _publish_diagnostics(self) -> None:
        now_ns = self.get_clock().now().nanoseconds
        snapshot = self.stats.snapshot(now_ns * 1e-9)
        extra = (
            {"lifecycle state": self._state_machine.current_state[1]}
            if hasattr(self, "_state_machine")
            else {}
        )
        if self.pipeline is not None:
            extra.update(self.pipeline.describe())
        extra["tracked ids"] = str(self._tracked_ids) if self.tracking is not None else "tracking off"
        extra.update(self._check_input_graph())
        refused = snapshot.rejected_by_kind.get("lifecycle request", 0)
        if refused:
            extra["refused lifecycle requests"] = str(refused)
        extra.update(self.input_diagnostics())
        self._diagnostics_pub.publish(
            diagnostic_array(self.classes, f"{self.get_fully_qualified_name()}: pipeline", self.get_name(),
                             snapshot, now_ns, extra)
        )

    def input_diagnostics(self) -> dict[str, str]:
        """Subclasses add counters of their inputs (key: value) to the /diagnostics status."""
        return {}

    def frame_id_for(self, header: Any) -> str:
        return self.param("input.frame_id") or str(header.frame_id)

    @staticmethod
    def stamp_of(header: Any) -> int:
        return stamp_to_ns(header.stamp)


def _type_name(message_type: Any) -> str:
    """``sensor_msgs.msg.Image`` -> ``sensor_msgs/msg/Image`` (the graph's spelling)."""
    return f"{message_type.__module__.split('.')[0]}/msg/{message_type.__name__}"
