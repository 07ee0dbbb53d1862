"""Start hpe_ros nodes in one process, configure and activate them, spin until interrupted.

Used by the node executables (``ros2 run`` / ``ros2 launch``) and by ``hpe-ros run`` where
``ros2 launch`` is not available; both read the same YAML parameter files.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import rclpy
from rclpy.executors import Executor, ExternalShutdownException, MultiThreadedExecutor
from rclpy.lifecycle import LifecycleNode

NodeFactory = Callable[..., LifecycleNode]


def start_lifecycle(node: LifecycleNode) -> bool:
    """configure + activate; False (with the reason already logged) when a transition fails."""
    if node.trigger_configure() != rclpy.lifecycle.TransitionCallbackReturn.SUCCESS:
        node.get_logger().error("configure failed; the node stays unconfigured (fix the parameters, then "
                                "configure it again through its lifecycle services)")
        return False
    if node.trigger_activate() != rclpy.lifecycle.TransitionCallbackReturn.SUCCESS:
        node.get_logger().error("activate failed")
        return False
    return True


def spin_until_shutdown(executor: Executor, nodes: Sequence[LifecycleNode]) -> None:
    """Spin; an exception escaping a callback is logged (rate-limited) and counted, and spinning goes on.

    ``executor.spin()`` would end at the first such exception and the process with it."""
    logger = rclpy.logging.get_logger("hpe_ros.runner")
    while rclpy.ok():
        try:
            executor.spin_once(timeout_sec=0.5)
        except (KeyboardInterrupt, ExternalShutdownException):
            raise
        except Exception as error:
            logger.error(f"a callback raised {type(error).__name__}: {error}; the node goes on\n"
                         f"{traceback.format_exc()}", throttle_duration_sec=5.0)
            for node in nodes:
                stats = getattr(node, "stats", None)
                if stats is not None:
                    stats.failed(f"callback raised {type(error).__name__}: {error}")


def run_nodes(factories: Sequence[NodeFactory], args: list[str] | None = None,
              node_kwargs: Sequence[dict[str, Any]] | None = None, autostart: bool | None = None) -> int:
    """Create the nodes, bring them up (unless ``autostart`` is off) and spin; returns an exit code."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: see hpe_ros.cli.main
    rclpy.init(args=args)
    nodes: list[LifecycleNode] = []
    executor = MultiThreadedExecutor()
    try:
        for index, factory in enumerate(factories):
            kwargs = dict(node_kwargs[index]) if node_kwargs else {}
            node = factory(**kwargs)
            node.declare_parameter("autostart", True if autostart is None else autostart)
            nodes.append(node)
            executor.add_node(node)
        for node in nodes:
            if node.get_parameter("autostart").value:
                start_lifecycle(node)
        spin_until_shutdown(executor, nodes)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        for node in nodes:
            try:
                node.trigger_shutdown()
            except Exception:  # already shut down or never configured
                pass
            node.destroy_node()
        executor.shutdown(timeout_sec=1.0)
        if rclpy.ok():
            rclpy.shutdown()
    return 0
