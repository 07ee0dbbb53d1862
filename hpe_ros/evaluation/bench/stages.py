"""One benchmark case: a pipeline run over frames, its time split into networks, the pipeline's own
work around them (pre- and post-processing) and the conversion of its results into ROS messages.

The networks are found by attribute (:data:`NETWORKS`, plus every backend the pipeline holds)
and timed by :class:`~hpe_ros.evaluation.bench.timing.NetworkClock`; the rest of ``process`` is
the pipeline's overhead. Turning results into messages belongs to ``io``, below which this
layer sits: the caller passes it in as ``outputs`` (``hpe-ros bench`` times the messages the
nodes and ``hpe-ros process`` publish).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hpe_ros.evaluation.bench.timing import NetworkClock
from hpe_ros.pipelines.backends.runtime import Backend
from hpe_ros.pipelines.base import Pipeline, PoseResult

# The networks of each pipeline, as attribute paths from the pipeline (missing ones are skipped:
# which exist depends on the options). Calls nested in one already watched count once.
NETWORKS: dict[str, tuple[str, ...]] = {
    "blazepose": ("detector._detector", "detector._landmarks", "lifter.model", "mesh.posh", "mesh.smpl"),
    "topdown": (
        "pose_backend", "lifter_backend", "default_lifter.model", "box_source.detector", "mesh.posh",
        "mesh.smpl",
    ),
    "eventhpe": (
        "flownet", "shapenet", "shapenet.encoder", "shapenet.temporal", "shapenet.temporal.gru",
        "shapenet.pose_head", "shapenet.translation_head", "smpl", "flownet_backend", "shapenet_backend",
    ),
}  # fmt: skip
OVERHEAD_GOAL = 0.15  # pipeline overhead + message conversion, as a share of network time

#: ``outputs(result, mesh_faces)``: seconds spent on each output message of one result
OutputTimer = Callable[[PoseResult, np.ndarray | None], dict[str, float]]


def watch_networks(pipeline: Pipeline, clock: NetworkClock) -> list[str]:
    """Watch :data:`NETWORKS` of ``pipeline`` and every :class:`Backend` it holds; the paths watched."""
    watched = [path for path in NETWORKS.get(pipeline.name, ()) if clock.watch(pipeline, path)]
    for name, value in vars(pipeline).items():
        if isinstance(value, Backend) and clock.watch(pipeline, name):
            watched.append(name)
    return watched


@dataclass
class CaseResult:
    """Medians over the timed frames, milliseconds unless named otherwise."""

    pipeline: str
    backend: str
    device: str
    people: int  # in the input
    people_found: float  # in the results (median)
    frames: int  # timed
    build_s: float  # building the pipeline (models loaded, exports and engines made)
    total_ms: float  # one process() call
    network_ms: float
    overhead_ms: float  # process() minus its networks: the pipeline's pre- and post-processing
    messages_ms: float  # building every output message
    frames_per_s: float  # 1000 / (total + messages)
    overhead_share: float  # (overhead + messages) / network
    stages_ms: dict[str, float] = field(default_factory=dict)  # the pipeline's own timings
    networks_ms: dict[str, float] = field(default_factory=dict)
    message_parts_ms: dict[str, float] = field(default_factory=dict)
    networks_watched: list[str] = field(default_factory=list)

    @property
    def within_goal(self) -> bool:
        return self.overhead_share <= OVERHEAD_GOAL


def _median_ms(values: Sequence[float]) -> float:
    return 1e3 * statistics.median(values) if values else 0.0


def _medians(rows: list[dict[str, float]]) -> dict[str, float]:
    keys = dict.fromkeys(key for row in rows for key in row)
    return {key: _median_ms([row.get(key, 0.0) for row in rows]) for key in keys}


@dataclass
class Subject:
    """One built pipeline under test."""

    pipeline: Pipeline
    backend: str
    build_s: float  # building it (models loaded, exports and engines made)


@dataclass
class _Samples:
    clock: NetworkClock
    watched: list[str]
    totals: list[float] = field(default_factory=list)
    networks: list[float] = field(default_factory=list)
    messages: list[float] = field(default_factory=list)
    found: list[int] = field(default_factory=list)
    stages: list[dict[str, float]] = field(default_factory=list)
    network_parts: list[dict[str, float]] = field(default_factory=list)
    message_parts: list[dict[str, float]] = field(default_factory=list)


def measure_cases(
    subjects: Sequence[Subject],
    frames: Sequence[Any],
    *,
    device: str = "cpu",
    people: int = 1,
    warmup: int = 1,
    sync: Callable[[], None] | None = None,
    outputs: OutputTimer | None = None,
) -> list[CaseResult]:
    """Run every subject ``warmup`` times on ``frames[0]``, then on each frame of ``frames`` in turn,
    the subjects alternating frame by frame (load from other processes then hits them alike);
    each result goes through ``outputs`` too, when given."""
    samples = []
    for subject in subjects:
        clock = NetworkClock(sync)
        samples.append(_Samples(clock, watch_networks(subject.pipeline, clock)))
    try:
        for subject in subjects:
            for _ in range(warmup):
                result = subject.pipeline.process(frames[0])
                if outputs is not None:
                    outputs(result, subject.pipeline.mesh_faces())
        for frame in frames:
            for subject, sample in zip(subjects, samples, strict=True):
                _run_once(subject.pipeline, frame, sample, sync, outputs)
    finally:
        for sample in samples:
            sample.clock.unwatch()
    return [_case(subject, sample, device, people) for subject, sample in zip(subjects, samples, strict=True)]


def _run_once(pipeline: Pipeline, frame: Any, sample: _Samples, sync: Callable[[], None] | None,
              outputs: OutputTimer | None) -> None:
    sample.clock.reset()
    if sync is not None:
        sync()
    began = time.perf_counter()
    result = pipeline.process(frame)
    if sync is not None:
        sync()
    sample.totals.append(time.perf_counter() - began)
    parts = outputs(result, pipeline.mesh_faces()) if outputs is not None else {}
    sample.networks.append(sample.clock.total_s)
    sample.messages.append(sum(parts.values()))
    sample.found.append(len(result.people))
    sample.stages.append(dict(result.timings_s))
    sample.network_parts.append(dict(sample.clock.seconds))
    sample.message_parts.append(parts)


def _case(subject: Subject, sample: _Samples, device: str, people: int) -> CaseResult:
    total_ms, network_ms = _median_ms(sample.totals), _median_ms(sample.networks)
    overhead_ms = _median_ms([t - n for t, n in zip(sample.totals, sample.networks, strict=True)])
    messages_ms = _median_ms(sample.messages)
    return CaseResult(
        pipeline=subject.pipeline.name,
        backend=subject.backend,
        device=device,
        people=people,
        people_found=float(statistics.median(sample.found)),
        frames=len(sample.totals),
        build_s=subject.build_s,
        total_ms=total_ms,
        network_ms=network_ms,
        overhead_ms=overhead_ms,
        messages_ms=messages_ms,
        frames_per_s=1e3 / (total_ms + messages_ms),
        overhead_share=(overhead_ms + messages_ms) / network_ms if network_ms > 0 else math.inf,
        stages_ms=_medians(sample.stages),
        networks_ms=_medians(sample.network_parts),
        message_parts_ms=_medians(sample.message_parts),
        networks_watched=sample.watched,
    )
