#!/usr/bin/env python3
"""Overload and soak runs of the RGB pose node: the figures of docs/reliability.md.

Both modes start ``hpe-ros run`` as its own process (its resident memory read from /proc),
publish 640x480 rgb8 images and their CameraInfo stamped with the current time from this
process, receive ``skeletons`` and ``/diagnostics``, and print the figures, every key of the
node's last /diagnostics status and (with --json) a JSON file. The exit code is 1 when a check
fails.

overload  Measures the pipeline's capacity first (frames published slowly; the node's processing
          time from /diagnostics), then publishes at --factor (2x) that rate. Checks: the newest
          frame wins (output stamps only go forward; their age, receive time minus stamp, has
          p99 under --age-bound-s, and its median does not grow over the run), resident memory
          bounded (peak minus the pre-overload baseline under --rss-growth-mb), and every frame
          accounted for (published = processed + dropped + rejected + failed + lost before the
          callback; the node's own totals must balance what it received).
soak      Publishes at --rate-hz (30) for --duration-s (600). Check: resident memory flat, the
          median RSS of the last --window-s within --max-growth-pct (1 %) of the second window's
          (the first is warm-up).

Usage:
  python scripts/load_test.py overload [--pipeline blazepose] [--factor 2] [--duration-s 30] [--json F]
  python scripts/load_test.py soak [--pipeline replay] [--rate-hz 30] [--duration-s 600] [--json F]
  common: [--qos sensor_data|reliable] [--qos-depth N] [--set NAME=VALUE ...] [--out DIR] [--domain-id N]
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

NODE_NAME = "hpe_pose"
IMAGE_TOPIC, INFO_TOPIC = "/camera/image_raw", "/camera/camera_info"


# ---- the node under test ------------------------------------------------------------------------
@dataclass
class NodeProcess:
    """``hpe-ros run`` in its own process."""

    process: subprocess.Popen
    log_path: Path

    def rss_mb(self) -> float:
        """Resident memory (VmRSS) in MiB; nan once the process is gone."""
        try:
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
        except (FileNotFoundError, ProcessLookupError):
            pass
        return float("nan")

    def cpu_s(self) -> float:
        """User + system CPU seconds the process has used."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_node(pipeline: str, settings: list[str], out: Path, env: dict[str, str],
               timeout_s: float = 180.0) -> NodeProcess:
    args = [sys.executable, "-m", "hpe_ros.cli.main", "run", "--pipeline", pipeline]
    for setting in settings:
        args += ["--set", setting]
    log_path = out / "node.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
    node = NodeProcess(process, log_path)
    deadline = time.monotonic() + timeout_s
    while "active:" not in log_path.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            node.stop()
            raise RuntimeError(f"the node did not become active; its log:\n{log_path.read_text()}")
        time.sleep(0.2)
    return node


def own_cpu_s() -> float:
    """CPU seconds this process (the publisher) has used."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class RssSampler(threading.Thread):
    """Samples the node's resident memory every ``period_s`` into (monotonic time, MiB) pairs."""

    def __init__(self, node: NodeProcess, period_s: float) -> None:
        super().__init__(daemon=True)
        self.node, self.period_s = node, period_s
        self.samples: list[tuple[float, float]] = []
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.samples.append((time.monotonic(), self.node.rss_mb()))
            self._done.wait(self.period_s)

    def stop(self) -> None:
        self._done.set()
        self.join()

    def between(self, start: float, end: float) -> np.ndarray:
        return np.array([rss for t, rss in self.samples if start <= t < end and np.isfinite(rss)])


# ---- this process: publisher and listener ---------------------------------------------------------
def sample_image(width: int, height: int) -> np.ndarray:
    """scikit-image's astronaut (one person) on a grey canvas of ``width`` x ``height``."""
    from PIL import Image
    from skimage import data

    side = min(width, height)
    canvas = Image.new("RGB", (width, height), (40, 40, 48))
    canvas.paste(Image.fromarray(data.astronaut()).resize((side, side)), ((width - side) // 2, height - side))
    return np.asarray(canvas)


class Harness:
    """An rclpy node that publishes stamped images and records the node's outputs and diagnostics."""

    def __init__(self, image: np.ndarray, qos: str, qos_depth: int) -> None:
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from hpe_ros_msgs.msg import Skeleton3DArray
        from rclpy.executors import SingleThreadedExecutor
        from sensor_msgs.msg import CameraInfo, Image

        from hpe_ros.cli.demo import pinhole_for
        from hpe_ros.io.images import rgb8_to_image_fields
        from hpe_ros.io.message_classes import RclpyMessageClasses
        from hpe_ros.io.messages import camera_to_info
        from hpe_ros.nodes.pose_node_base import input_qos, reliable_qos

        rclpy.init()
        self.node = rclpy.create_node("hpe_load_test")
        camera = pinhole_for(image, 60.0)
        self._image = Image(**rgb8_to_image_fields(image))
        self._image.header.frame_id = camera.frame_id
        self._info = camera_to_info(RclpyMessageClasses(), camera, 0)
        profile = input_qos(qos, qos_depth)
        self._image_pub = self.node.create_publisher(Image, IMAGE_TOPIC, profile)
        self._info_pub = self.node.create_publisher(CameraInfo, INFO_TOPIC, profile)
        self._lock = threading.Lock()
        self.published: list[int] = []  # stamps (ns, wall clock), in order
        self.outputs: list[tuple[int, int]] = []  # (receive time ns, stamp ns)
        self.status: dict[str, str] = {}  # the node's newest /diagnostics values
        self.status_history: list[dict[str, str]] = []
        self._outputs_sub = self.node.create_subscription(Skeleton3DArray, "/skeletons", self._on_skeletons,
                                                          reliable_qos(100))
        self._diag_sub = self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics,
                                                       reliable_qos(50))
        self._executor = SingleThreadedExecutor()
        self._executor.add_node(self.node)
        self._spinner = threading.Thread(target=self._executor.spin, daemon=True)
        self._spinner.start()

    def _on_skeletons(self, msg: Any) -> None:
        received = time.time_ns()
        with self._lock:
            self.outputs.append((received, msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec))

    def _on_diagnostics(self, msg: Any) -> None:
        for status in msg.status:
            if status.hardware_id == NODE_NAME:
                values = {kv.key: kv.value for kv in status.values}
                values["(message)"] = status.message
                with self._lock:
                    self.status = values
                    self.status_history.append(values)

    def wait_for_node(self, timeout_s: float = 60.0) -> None:
        """Until the node subscribes to our topics and we to its outputs (matching takes a moment)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if (self._image_pub.get_subscription_count() and self._info_pub.get_subscription_count()
                    and self._outputs_sub.get_publisher_count() and self.latest()):
                return
            time.sleep(0.1)
        raise RuntimeError("the node's topics did not match within the timeout")

    def publish(self) -> int:
        stamp_ns = time.time_ns()
        sec, nanosec = divmod(stamp_ns, 1_000_000_000)
        for msg in (self._info, self._image):
            msg.header.stamp.sec, msg.header.stamp.nanosec = sec, nanosec
        self._info_pub.publish(self._info)
        self._image_pub.publish(self._image)
        with self._lock:
            self.published.append(stamp_ns)
        return stamp_ns

    def publish_at(self, rate_hz: float, duration_s: float) -> float:
        """Publish at ``rate_hz`` for ``duration_s`` (no bursts to catch up); returns the rate achieved."""
        start = time.monotonic()
        count, next_at = 0, start
        while time.monotonic() - start < duration_s:
            self.publish()
            count += 1
            next_at = max(next_at + 1.0 / rate_hz, time.monotonic() - 1.0 / rate_hz)
            time.sleep(max(0.0, next_at - time.monotonic()))
        return count / (time.monotonic() - start)

    def latest(self) -> dict[str, str]:
        with self._lock:
            return dict(self.status)

    def outputs_since(self, wall_ns: int) -> list[tuple[int, int]]:
        with self._lock:
            return [o for o in self.outputs if o[0] >= wall_ns]

    def wait_drained(self, timeout_s: float) -> Mark:
        """The node's status once what it received is all accounted for and nothing more arrives."""
        deadline = time.monotonic() + timeout_s
        previous: dict[str, str] = {}
        while time.monotonic() < deadline:
            time.sleep(0.5)
            status = self.latest()
            balanced = Accounting.of(self.mark()).node_balance == 0
            if balanced and previous and status.get("received") == previous.get("received"):
                break
            previous = status
        return self.mark()

    def warm_up(self, rate_hz: float, timeout_s: float = 30.0) -> Mark:
        """Publish until frames reach the node (its side matches our publisher a moment after ours
        matches it), let it drain; returns the mark the figures are counted from."""
        deadline = time.monotonic() + timeout_s
        while _count(self.latest(), "received") == 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"no frame reached the node in {timeout_s} s: {self.latest()}")
            self.publish_at(rate_hz, 0.5)
        return self.wait_drained(timeout_s)

    def mark(self) -> Mark:
        with self._lock:
            return Mark(len(self.published), dict(self.status), len(self.status_history))

    def close(self) -> None:
        import rclpy

        self._executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        rclpy.try_shutdown()


# ---- figures ------------------------------------------------------------------------------------
def _count(status: dict[str, str], key: str) -> int:
    try:
        return int(status.get(key, "0"))
    except ValueError:
        return 0


def _counters(status: dict[str, str], test: Any) -> list[str]:
    """The keys passing ``test`` whose values are counts."""
    return [k for k, v in status.items() if test(k) and v.strip().isdigit()]


def _image_loss(status: dict[str, str]) -> dict[str, int]:
    """The node's count of images lost before its callback: the image topic's own where it reports
    one per topic ("input /camera/image_raw": "...lost before callback: 431 of 795..."), else its
    loss counters (which may include the CameraInfo's)."""
    match = re.search(r"lost[^:]*:\s*(\d+)", status.get(f"input {IMAGE_TOPIC}", ""))
    if match:
        return {f"input {IMAGE_TOPIC}": int(match.group(1))}
    return {k: int(status[k]) for k in _counters(status, lambda k: "lost" in k.lower())}


@dataclass
class Mark:
    """A moment of a run: frames published so far and the node's status then."""

    published: int
    status: dict[str, str]
    history_index: int  # statuses received before it


@dataclass
class Accounting:
    """Where every published frame went, from the publisher's count and the node's totals."""

    published: int
    received: int  # reached the node's callback
    processed: int
    dropped: dict[str, int]  # every 'dropped ...' counter (replaced by newer, too old, ...)
    rejected: int
    failed: int
    lost_before_callback: int  # published - received: never reached the callback (middleware)
    reported_lost: dict[str, int]  # the node's own counters of frames that never reached it ('... lost ...')
    unaccounted: int  # published minus everything the node counted
    node_balance: int  # received - processed - dropped - rejected - failed (0: the node lost none)

    @staticmethod
    def of(now: Mark, since: Mark | None = None) -> Accounting:
        """What happened between ``since`` (default: the node's start) and ``now``."""
        before = since or Mark(0, {}, 0)

        def delta(key: str) -> int:
            return _count(now.status, key) - _count(before.status, key)

        received, processed = delta("received"), delta("processed")
        rejected, failed = delta("rejected (bad input)"), delta("failed (pipeline error)")
        dropped = {k: delta(k) for k in _counters(now.status, lambda k: k.startswith("dropped"))}
        lost_before = _image_loss(before.status)
        lost = {key: count - lost_before.get(key, 0) for key, count in _image_loss(now.status).items()}
        published = now.published - before.published
        handled = processed + sum(dropped.values()) + rejected + failed
        return Accounting(published, received, processed, dropped, rejected, failed, published - received,
                          lost, published - handled - sum(lost.values()), received - handled)


@dataclass
class AgeFigures:
    """Outputs' stamp age (receive time minus stamp) and how many newer frames had been published."""

    outputs: int
    age_p50_s: float
    age_p99_s: float
    age_max_s: float
    frames_behind_p50: float
    frames_behind_max: int
    stamps_increasing: bool

    @staticmethod
    def of(outputs: list[tuple[int, int]], published: list[int]) -> AgeFigures:
        if not outputs:
            return AgeFigures(0, float("nan"), float("nan"), float("nan"), float("nan"), 0, True)
        ages = np.array([(r - s) * 1e-9 for r, s in outputs])
        # newest frame published before the output came back, minus the output's own frame
        behind = np.array([bisect.bisect_right(published, r) - 1 - bisect.bisect_left(published, s)
                           for r, s in outputs])
        stamps = [s for _, s in outputs]
        return AgeFigures(len(outputs), float(np.percentile(ages, 50)), float(np.percentile(ages, 99)),
                          float(ages.max()), float(np.median(behind)), int(behind.max()),
                          all(b > a for a, b in zip(stamps, stamps[1:], strict=False)))


def processing_mean_s(history: list[dict[str, str]]) -> float:
    """Median of the node's per-window processing means, over windows that processed frames."""
    means = [float(v["processing mean (s)"]) for v in history
             if float(v.get("output rate (Hz)", "0")) > 0 and "processing mean (s)" in v]
    return float(np.median(means)) if means else float("nan")


def replay_file(out: Path, fps: float = 30.0) -> Path:
    """A walking person's 3D poses for the ``replay`` pipeline (matched in sequence, wrapping)."""
    from hpe_ros.simulation.people import walking_skeleton

    path = out / "replay_poses.npz"
    np.savez(path, joints_3d=walking_skeleton(int(10 * fps), fps=fps), joint_set="h36m_17")
    return path


# ---- the two runs --------------------------------------------------------------------------------
@dataclass
class RunSetup:
    pipeline: str
    qos: str
    qos_depth: int
    image: str
    settings: list[str]
    machine: str = field(default_factory=lambda: f"{os.cpu_count()} CPUs, {_cpu_model()}")
    date_utc: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def overload(args: argparse.Namespace, node: NodeProcess, harness: Harness,
             setup: RunSetup) -> dict[str, Any]:
    sampler = RssSampler(node, args.sample_s)
    sampler.start()
    start = harness.warm_up(args.probe_hz)
    probe_started = time.monotonic()
    while True:  # best effort can lose most big frames: probe until enough were processed
        harness.publish_at(args.probe_hz, 1.0)
        probed = harness.wait_drained(timeout_s=10.0 + 5.0 / args.probe_hz)
        processed = Accounting.of(probed, start).processed
        if processed >= args.probe_frames or time.monotonic() - probe_started > args.probe_timeout_s:
            break
    probe_rate = (probed.published - start.published) / (time.monotonic() - probe_started)
    processing_s = processing_mean_s(harness.status_history[start.history_index:probed.history_index])
    capacity_hz = 1.0 / processing_s if processing_s > 0 else float("inf")
    rate_hz = args.rate_hz or min(args.factor * capacity_hz, args.max_rate_hz)
    # newest wins: an output waits behind at most the middleware's history, the queue and the frame
    # in work, all slowed by the overload's own CPU load; a backlog would grow by seconds instead
    age_bound_s = args.age_bound_s or max(0.5, 5.0 * processing_s)
    baseline_end = time.monotonic()
    baseline = sampler.between(baseline_end - 5.0, baseline_end)
    started_ns, started, cpu_before, own_before = time.time_ns(), time.monotonic(), node.cpu_s(), own_cpu_s()
    achieved_hz = harness.publish_at(rate_hz, args.duration_s)
    overload_s, cpu_s, own_s = time.monotonic() - started, node.cpu_s() - cpu_before, own_cpu_s() - own_before
    during = sampler.between(started, time.monotonic())
    end = harness.wait_drained(timeout_s=10.0 + 5.0 * processing_s)
    sampler.stop()
    overload_outputs = [o for o in harness.outputs_since(started_ns) if o[1] >= started_ns]
    ages = AgeFigures.of(overload_outputs, harness.published)
    third_ns = int(overload_s * 1e9 / 3)
    edges = [started_ns + i * third_ns for i in range(3)] + [sys.maxsize]
    thirds = [AgeFigures.of([o for o in overload_outputs if lo <= o[1] < hi], harness.published)
              for lo, hi in zip(edges, edges[1:], strict=False)]
    rss_baseline = float(np.median(baseline)) if baseline.size else float("nan")
    rss_peak = float(during.max()) if during.size else float("nan")
    overloaded = Accounting.of(end, probed)
    checks = {
        "newest frame wins: output stamps only go forward": ages.stamps_increasing,
        f"newest frame wins: stamp age p99 <= {age_bound_s:.3f} s": ages.age_p99_s <= age_bound_s,
        "no backlog: stamp age p50 in the last third <= the first third's + 2 processing times (>= 50 ms)":
            thirds[2].age_p50_s <= thirds[0].age_p50_s + max(0.05, 2.0 * processing_s),
        f"memory bounded: peak RSS - baseline <= {args.rss_growth_mb:.0f} MiB":
            rss_peak - rss_baseline <= args.rss_growth_mb,
        "every frame the node received is accounted for (node balance 0)": overloaded.node_balance == 0,
        "the node published outputs under overload": ages.outputs > 0,
    }
    return {
        "mode": "overload", "setup": asdict(setup),
        "probe": {"rate_hz": probe_rate, "frames_processed": processed, "processing_mean_s": processing_s,
                  "capacity_hz": capacity_hz, "accounting": asdict(Accounting.of(probed, start))},
        "overload": {"target_rate_hz": rate_hz, "achieved_rate_hz": achieved_hz, "duration_s": overload_s,
                     "factor_of_capacity": achieved_hz / capacity_hz,
                     "output_rate_hz": ages.outputs / overload_s,
                     "node_cpu_percent": 100.0 * cpu_s / overload_s,
                     "publisher_cpu_percent": 100.0 * own_s / overload_s},
        "age": asdict(ages), "age_bound_s": age_bound_s,
        "age_p50_by_third_s": [third.age_p50_s for third in thirds],
        "rss_mb": {"baseline": rss_baseline, "peak": rss_peak, "growth": rss_peak - rss_baseline,
                   "end": float(during[-1]) if during.size else None},
        # (seconds from the overload's start, MiB); negative: warm-up and probe
        "rss_samples": [[round(t - started, 2), rss] for t, rss in sampler.samples],
        "accounting": asdict(overloaded), "diagnostics": end.status, "checks": checks,
    }


def soak(args: argparse.Namespace, node: NodeProcess, harness: Harness, setup: RunSetup) -> dict[str, Any]:
    if args.duration_s < 2 * args.window_s:
        raise SystemExit("--duration-s must be at least twice --window-s (the first window is warm-up)")
    sampler = RssSampler(node, args.sample_s)
    sampler.start()
    start = harness.warm_up(args.rate_hz)
    started_ns, started, cpu_before, own_before = time.time_ns(), time.monotonic(), node.cpu_s(), own_cpu_s()
    achieved_hz = harness.publish_at(args.rate_hz, args.duration_s)
    elapsed, cpu_s, own_s = time.monotonic() - started, node.cpu_s() - cpu_before, own_cpu_s() - own_before
    end = harness.wait_drained(timeout_s=15.0)
    sampler.stop()
    outputs = harness.outputs_since(started_ns)
    windows = []
    for index in range(int(elapsed // args.window_s)):
        start_ns = started_ns + int(index * args.window_s * 1e9)
        end_ns = start_ns + int(args.window_s * 1e9)
        rss = sampler.between(started + index * args.window_s, started + (index + 1) * args.window_s)
        ages = AgeFigures.of([o for o in outputs if start_ns <= o[1] < end_ns], harness.published)
        windows.append({"window": index + 1, "outputs": ages.outputs, "age_p50_s": ages.age_p50_s,
                        "age_p99_s": ages.age_p99_s,
                        "rss_median_mb": float(np.median(rss)) if rss.size else float("nan")})
    second = windows[1]["rss_median_mb"]
    last = float(np.median(sampler.between(started + elapsed - args.window_s, started + elapsed)))
    growth_pct = 100.0 * (last - second) / second
    ages = AgeFigures.of([o for o in outputs if o[1] >= started_ns], harness.published)
    accounting = Accounting.of(end, start)
    rss_all = [r for t, r in sampler.samples if t >= started and np.isfinite(r)]
    checks = {
        f"RSS flat: last window's median within {args.max_growth_pct}% of the second's":
            growth_pct < args.max_growth_pct,
        "every frame the node received is accounted for (node balance 0)": accounting.node_balance == 0,
        "the node published outputs": ages.outputs > 0,
    }
    return {
        "mode": "soak", "setup": asdict(setup),
        "soak": {"target_rate_hz": args.rate_hz, "achieved_rate_hz": achieved_hz, "duration_s": elapsed,
                 "window_s": args.window_s, "output_rate_hz": ages.outputs / elapsed,
                 "node_cpu_percent": 100.0 * cpu_s / elapsed,
                 "publisher_cpu_percent": 100.0 * own_s / elapsed},
        "rss_mb": {"second_window_median": second, "last_window_median": last, "growth_percent": growth_pct,
                   "min": float(min(rss_all)), "max": float(max(rss_all))},
        "windows": windows, "age": asdict(ages), "accounting": asdict(accounting), "diagnostics": end.status,
        "checks": checks,
    }


# ---- output -------------------------------------------------------------------------------------
def print_report(result: dict[str, Any]) -> None:
    setup = result["setup"]
    print(f"{result['mode']}: pipeline {setup['pipeline']}, {setup['image']} rgb8, input QoS {setup['qos']} "
          f"depth {setup['qos_depth']}, {setup['machine']}, {setup['date_utc']}")
    if setup["settings"]:
        print("  node settings: " + " ".join(setup["settings"]))
    if "probe" in result:
        probe, run = result["probe"], result["overload"]
        print(f"  capacity: processing {probe['processing_mean_s'] * 1e3:.1f} ms/frame over "
              f"{probe['frames_processed']} frames published at {probe['rate_hz']:.1f} Hz -> "
              f"{probe['capacity_hz']:.1f} Hz")
        print(f"  overload: published {run['achieved_rate_hz']:.1f} Hz "
              f"({run['factor_of_capacity']:.2f}x capacity) "
              f"for {run['duration_s']:.1f} s; outputs {run['output_rate_hz']:.1f} Hz; CPU: node "
              f"{run['node_cpu_percent']:.0f}%, publisher {run['publisher_cpu_percent']:.0f}%")
    else:
        run = result["soak"]
        print(f"  soak: published {run['achieved_rate_hz']:.1f} Hz for {run['duration_s']:.0f} s; outputs "
              f"{run['output_rate_hz']:.1f} Hz; CPU: node {run['node_cpu_percent']:.0f}%, publisher "
              f"{run['publisher_cpu_percent']:.0f}%")
        for window in result["windows"]:
            print(f"    window {window['window']:3d}: RSS {window['rss_median_mb']:.1f} MiB, "
                  f"{window['outputs']} outputs, age p50 {window['age_p50_s'] * 1e3:.1f} ms "
                  f"p99 {window['age_p99_s'] * 1e3:.1f} ms")
    age = result["age"]
    if "age_p50_by_third_s" in result:
        print("  stamp age p50 per third of the overload: "
              + ", ".join(f"{value * 1e3:.1f} ms" for value in result["age_p50_by_third_s"]))
    print(f"  stamp age: p50 {age['age_p50_s'] * 1e3:.1f} ms, p99 {age['age_p99_s'] * 1e3:.1f} ms, "
          f"max {age['age_max_s'] * 1e3:.1f} ms over {age['outputs']} outputs; frames behind the newest: "
          f"p50 {age['frames_behind_p50']:.0f}, max {age['frames_behind_max']}")
    rss = result["rss_mb"]
    print("  RSS (MiB): " + ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                                      for k, v in rss.items()))
    acc = result["accounting"]
    print(f"  accounting: published {acc['published']} = processed {acc['processed']} + dropped "
          f"{sum(acc['dropped'].values())} {acc['dropped']} + rejected {acc['rejected']} + failed "
          f"{acc['failed']} "
          f"+ lost before the callback {acc['lost_before_callback']}")
    print(f"    node's own loss counters {acc['reported_lost'] or '(none reported)'}; "
          f"unaccounted by the node: "
          f"{acc['unaccounted']}; node balance: {acc['node_balance']}")
    print("  last /diagnostics status:")
    for key, value in result["diagnostics"].items():
        print(f"    {key}: {value}")
    for name, passed in result["checks"].items():
        print(f"  [{'pass' if passed else 'FAIL'}] {name}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    modes = parser.add_subparsers(dest="mode", required=True)
    for name in ("overload", "soak"):
        mode = modes.add_parser(name)
        mode.add_argument("--pipeline", default="blazepose" if name == "overload" else "replay")
        mode.add_argument("--qos", choices=("sensor_data", "reliable"), default="sensor_data",
                          help="input QoS")
        mode.add_argument("--qos-depth", type=int, default=5, help="input QoS depth (node and publisher)")
        mode.add_argument("--size", default="640x480", help="image size WxH")
        mode.add_argument("--set", dest="settings", action="append", default=[], metavar="NAME=VALUE",
                          help="a node parameter (repeatable), e.g. input.max_age_s=0.2")
        mode.add_argument("--sample-s", type=float, default=1.0, help="RSS sampling period (s)")
        mode.add_argument("--out", type=Path,
                          help="folder for the node's log and the replay file (default: temp)")
        mode.add_argument("--domain-id", type=int, help="ROS_DOMAIN_ID (default: the environment's)")
        mode.add_argument("--json", type=Path, help="write the figures here")
    over = modes.choices["overload"]
    over.add_argument("--probe-hz", type=float, default=3.0, help="rate while measuring the capacity")
    over.add_argument("--probe-frames", type=int, default=20,
                      help="frames processed while measuring the capacity")
    over.add_argument("--probe-timeout-s", type=float, default=60.0)
    over.add_argument("--factor", type=float, default=2.0, help="overload rate as a multiple of the capacity")
    over.add_argument("--rate-hz", type=float,
                      help="overload rate (default: --factor x the measured capacity)")
    over.add_argument("--max-rate-hz", type=float, default=120.0, help="cap on the overload rate")
    over.add_argument("--duration-s", type=float, default=30.0)
    over.add_argument("--age-bound-s", type=float,
                      help="bound on the stamp age p99 (default: 5 processing times, >= 0.5 s)")
    over.add_argument("--rss-growth-mb", type=float, default=64.0,
                      help="bound on the RSS peak over the baseline (MiB)")
    soak_mode = modes.choices["soak"]
    soak_mode.add_argument("--rate-hz", type=float, default=30.0)
    soak_mode.add_argument("--duration-s", type=float, default=600.0)
    soak_mode.add_argument("--window-s", type=float, default=60.0,
                           help="RSS is compared per window (the first is warm-up)")
    soak_mode.add_argument("--max-growth-pct", type=float, default=1.0)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.domain_id is not None:
        os.environ["ROS_DOMAIN_ID"] = str(args.domain_id)
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    out = args.out or Path(tempfile.mkdtemp(prefix=f"hpe_{args.mode}_"))
    out.mkdir(parents=True, exist_ok=True)
    width, height = (int(v) for v in args.size.split("x"))
    settings = [f"input.qos={args.qos}", f"input.qos_depth={args.qos_depth}", "diagnostics_period_s=0.5"]
    if args.pipeline == "replay":
        settings.append(f"replay.path={replay_file(out)}")
    settings += args.settings
    env = dict(os.environ, PYTHONUNBUFFERED="1", ROS_LOG_DIR=str(out / "ros_log"))
    setup = RunSetup(args.pipeline, args.qos, args.qos_depth, args.size, settings[2:])
    node = start_node(args.pipeline, settings, out, env)
    harness = None
    try:
        harness = Harness(sample_image(width, height), args.qos, args.qos_depth)
        harness.wait_for_node()
        result = (overload if args.mode == "overload" else soak)(args, node, harness, setup)
    finally:
        if harness is not None:
            harness.close()
        node.stop()
    print_report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if all(result["checks"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
