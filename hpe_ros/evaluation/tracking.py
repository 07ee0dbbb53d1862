"""Tracking measured the standard way: CLEAR-MOT (MOTA, id switches, fragmentations) and IDF1.

Scenes from :mod:`~hpe_ros.simulation.crowd` go through the default lifter and the
metric placement like a real frame's 2D people (so the tracker sees real 3D roots, with the
lifter's size error as depth error), then :class:`~hpe_ros.pipelines.tracking.stage.PeopleTracking`.
The metrics come from ``motmetrics`` (py-motmetrics, the MOTChallenge reference in Python):
a hypothesis matches a true person when their boxes overlap with IoU >= 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from hpe_ros.core.boxes import box_iou
from hpe_ros.core.camera import CameraModel
from hpe_ros.pipelines.base import PoseResult
from hpe_ros.pipelines.output.people import place_people
from hpe_ros.pipelines.rgb.default_lifter import DefaultLifter
from hpe_ros.pipelines.tracking.stage import PeopleTracking, SmoothingConfig
from hpe_ros.simulation.crowd import KeypointNoise, SceneFrame, Walker, simulate
from hpe_ros.simulation.depth import DepthNoise, render_depth

MATCH_IOU = 0.5


@dataclass(frozen=True)
class TrackingScores:
    person_frames: int  # true people summed over frames
    idf1: float
    mota: float
    id_switches: int
    fragmentations: int
    false_positives: int
    misses: int
    false_tracks: int  # confirmed ids never matched to a true person
    id_true_positives: int  # IDTP, IDFP, IDFN: what IDF1 is made of (for totals over scenes)
    id_false_positives: int
    id_false_negatives: int

    @property
    def switches_per_1000(self) -> float:
        return 1000.0 * self.id_switches / max(self.person_frames, 1)


def overall(scores: list[TrackingScores]) -> TrackingScores:
    """The scores of several scenes taken as one (IDF1 and MOTA from the summed counts)."""
    total = {
        name: sum(getattr(s, name) for s in scores)
        for name in TrackingScores.__dataclass_fields__
        if name not in ("idf1", "mota")
    }
    idtp, idfp, idfn = total["id_true_positives"], total["id_false_positives"], total["id_false_negatives"]
    errors = total["misses"] + total["false_positives"] + total["id_switches"]
    return TrackingScores(
        idf1=2 * idtp / max(2 * idtp + idfp + idfn, 1),
        mota=1.0 - errors / max(total["person_frames"], 1),
        **total,
    )


def frame_result(
    frame: SceneFrame,
    camera: CameraModel,
    lifter: DefaultLifter,
    depth_rng: np.random.Generator | None = None,
) -> PoseResult:
    """A pipeline's output for the scene frame's detections: lifted, placed, not yet tracked.
    With ``depth_rng`` an RGB-D camera's depth image of the visible people (capsule bodies, the
    camera's holes and noise) places them, as with ``input.depth_topic``."""
    result = PoseResult(
        stamp_ns=int(round(frame.stamp_s * 1e9)),
        frame_id=camera.frame_id,
        image_size=(camera.width, camera.height),
    )
    if len(frame.keypoints):
        depth = None
        if depth_rng is not None:
            depth = DepthNoise().apply(render_depth(frame.true_joints, camera, depth_rng), depth_rng)
        relative = lifter.lift(frame.keypoints, frame.scores, camera)
        boxes = np.concatenate([frame.boxes, np.ones((len(frame.boxes), 1))], axis=1)
        result.people.extend(
            place_people(frame.keypoints, frame.scores, relative, boxes, camera, {}, depth=depth)
        )
    return result


def track_scene(
    frames: list[SceneFrame],
    camera: CameraModel,
    lifter: DefaultLifter,
    tracking: PeopleTracking,
    depth_rng: np.random.Generator | None = None,
) -> TrackingScores:
    """Run ``tracking`` over the scene and score its ids against the walkers' (people placed from
    an RGB-D camera's depth with ``depth_rng``, see :func:`frame_result`)."""
    import motmetrics  # a test and evaluation dependency (requirements.txt)

    accumulator = motmetrics.MOTAccumulator(auto_id=True)
    matched_ids: set[str] = set()
    all_ids: set[str] = set()
    numbers: dict[str, int] = {}  # motmetrics wants numeric hypothesis ids
    for frame in frames:
        tracked = tracking.apply(frame_result(frame, camera, lifter, depth_rng)).result
        named = [p for p in tracked.people if p.track_id]
        hypothesis_boxes = np.array([p.box[:4] for p in named]).reshape(-1, 4)  # type: ignore[index]
        iou = box_iou(frame.true_boxes, hypothesis_boxes) if len(named) and len(frame.true_boxes) else None
        distance = np.empty((len(frame.true_boxes), len(named))) if iou is None else 1.0 - iou
        if iou is not None:
            distance[iou < MATCH_IOU] = np.nan
            matched_ids.update(named[j].track_id for j in np.flatnonzero(np.isfinite(distance).any(axis=0)))
        all_ids.update(p.track_id for p in named)
        hypotheses = [numbers.setdefault(p.track_id, len(numbers)) for p in named]
        accumulator.update(frame.true_ids.tolist(), hypotheses, distance)
    names = [
        "num_objects",
        "idf1",
        "mota",
        "num_switches",
        "num_fragmentations",
        "num_false_positives",
        "num_misses",
        "idtp",
        "idfp",
        "idfn",
    ]
    summary = motmetrics.metrics.create().compute(accumulator, metrics=names, name="scene")
    row = summary.loc["scene"]
    return TrackingScores(
        person_frames=int(row["num_objects"]),
        idf1=float(row["idf1"]),
        mota=float(row["mota"]),
        id_switches=int(row["num_switches"]),
        fragmentations=int(row["num_fragmentations"]),
        false_positives=int(row["num_false_positives"]),
        misses=int(row["num_misses"]),
        false_tracks=len(all_ids - matched_ids),
        id_true_positives=int(row["idtp"]),
        id_false_positives=int(row["idfp"]),
        id_false_negatives=int(row["idfn"]),
    )


@dataclass(frozen=True)
class SmoothingScores:
    jitter_raw_m: float  # static person: std over time of the joints' positions, mean over joints
    jitter_smoothed_m: float
    lag_frames: float  # step motion: frames the smoothed root crosses half the step after the raw one

    @property
    def jitter_reduction(self) -> float:
        return self.jitter_raw_m / max(self.jitter_smoothed_m, 1e-12)


def _tracked_joints(
    frames: list[SceneFrame], camera: CameraModel, lifter: DefaultLifter, tracking: PeopleTracking
) -> np.ndarray:
    """(T, 17, 3) the single person's joints through ``tracking`` (NaN where not detected)."""
    out = np.full((len(frames), 17, 3), np.nan)
    for index, frame in enumerate(frames):
        people = tracking.apply(frame_result(frame, camera, lifter)).result.people
        real = [p for p, source in zip(people, frame.sources, strict=True) if source >= 0]
        if real:
            out[index] = real[0].joints_3d
    return out


def measure_smoothing(
    camera: CameraModel,
    lifter: DefaultLifter,
    noise: KeypointNoise,
    fps: float = 30.0,
    distance_m: float = 3.5,
    step_m: float = 0.3,
    seed: int = 0,
    smoothing: SmoothingConfig | None = None,
) -> SmoothingScores:
    """Jitter of a person standing still, with and without smoothing, and the lag smoothing adds
    to a sudden sideways step of ``step_m`` (one frame long)."""
    quiet = replace(noise, miss_rate=0.0, false_rate=0.0)
    standing = [Walker(((0.0, 0.0, distance_m), (6.0, 0.0, distance_m)))]
    step_at = 2.0
    stepping = [
        Walker(
            (
                (0.0, 0.0, distance_m),
                (step_at, 0.0, distance_m),
                (step_at + 1.0 / fps, step_m, distance_m),
                (4.0, step_m, distance_m),
            )
        )
    ]
    results = {}
    for name, walkers, duration in (("standing", standing, 6.0), ("stepping", stepping, 4.0)):
        frames = simulate(walkers, camera, duration, fps, quiet, np.random.default_rng(seed))
        for smoothed in (False, True):
            config = smoothing or SmoothingConfig()
            tracking = PeopleTracking(smoothing=replace(config, enabled=smoothed))
            results[name, smoothed] = _tracked_joints(frames, camera, lifter, tracking)
    settle = int(fps)  # the first second: the filters settle, tracks are confirmed
    jitter = {s: float(np.nanmean(np.nanstd(results["standing", s][settle:], axis=0))) for s in (False, True)}
    crossings = {}
    for smoothed in (False, True):
        root_x = results["stepping", smoothed][:, 0, 0]
        before = np.nanmedian(root_x[settle : int(step_at * fps)])
        after = np.nanmedian(root_x[int((step_at + 1.0) * fps) :])
        halfway = np.flatnonzero(root_x[int(step_at * fps) - 1 :] > 0.5 * (before + after))
        crossings[smoothed] = float(halfway[0]) if len(halfway) else np.inf
    return SmoothingScores(jitter[False], jitter[True], crossings[True] - crossings[False])
