"""Real ROS 2 graphs for the node tests: separate processes talking DDS over localhost."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("rclpy", reason="rclpy is not installed")
pytest.importorskip("hpe_ros_msgs.msg", reason="hpe_ros_msgs is not built (run `make venv`)")


class RosGraph:
    """Starts `hpe-ros` subcommands as processes on an isolated, localhost-only ROS domain."""

    def __init__(self, tmp_path: Path, domain_id: int) -> None:
        self.tmp_path = tmp_path
        self.env = dict(os.environ, ROS_DOMAIN_ID=str(domain_id), ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
                        ROS_LOG_DIR=str(tmp_path / "ros_log"), PYTHONUNBUFFERED="1",
                        RCUTILS_LOGGING_BUFFERED_STREAM="0")
        self.processes: list[tuple[subprocess.Popen, Path]] = []

    def start(self, name: str, *args: str) -> subprocess.Popen:
        log = self.tmp_path / f"{name}.log"
        handle = log.open("w")
        process = subprocess.Popen([sys.executable, "-m", "hpe_ros.cli.main", *args], env=self.env,
                                   stdout=handle, stderr=subprocess.STDOUT)
        self.processes.append((process, log))
        return process

    def log(self, name: str) -> str:
        return (self.tmp_path / f"{name}.log").read_text()

    def wait_for_line(self, name: str, text: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if text in self.log(name):
                return
            time.sleep(0.1)
        raise AssertionError(f"{name} did not print {text!r} within {timeout_s} s:\n{self.log(name)}")

    def stop_all(self) -> None:
        for process, _ in self.processes:
            if process.poll() is None:
                process.terminate()
        for process, _ in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def ros_graph(tmp_path: Path) -> Iterator[RosGraph]:
    graph = RosGraph(tmp_path, domain_id=100 + os.getpid() % 100)
    yield graph
    graph.stop_all()


@pytest.fixture
def ros_client(ros_graph, monkeypatch):
    """A node of this test process on the graph's domain, with its executor: ``(node, executor)``."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=int(ros_graph.env["ROS_DOMAIN_ID"]))
    node = rclpy.create_node("test_client", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    yield node, executor
    executor.shutdown()
    node.destroy_node()
    rclpy.shutdown(context=context)
