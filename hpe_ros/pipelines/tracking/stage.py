"""The stage after every pipeline in the nodes: stable ids, then smoothing per id.

:class:`PeopleTracking` takes a :class:`~hpe_ros.pipelines.base.PoseResult`, matches its people to
tracks (:mod:`~hpe_ros.pipelines.tracking.tracker`: boxes, keypoints and metric roots), writes each
confirmed track's id into ``track_id`` ("" while a track is tentative) and, with smoothing on,
filters each track's root, root-relative joints and SMPL parameters with One-Euro filters
(:mod:`~hpe_ros.pipelines.tracking.smoothing`): the root and the pose separately, since their noise differs
(the root's depth is the noisiest), SMPL rotations on the rotation manifold. The nodes run it by
default; evaluations use the pipelines' per-frame output.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from hpe_ros.pipelines.base import PersonPose, PoseResult, SMPLEstimate
from hpe_ros.pipelines.tracking.smoothing import OneEuroConfig, OneEuroFilter, RotationOneEuroFilter
from hpe_ros.pipelines.tracking.tracker import Detection, PeopleTracker, TrackerConfig


@dataclass(frozen=True)
class SmoothingConfig:
    enabled: bool = True
    root: OneEuroConfig = OneEuroConfig(min_cutoff_hz=0.2, beta=3.0)  # metres
    joints: OneEuroConfig = OneEuroConfig(min_cutoff_hz=0.5, beta=4.0)  # metres, root-relative
    rotations: OneEuroConfig = OneEuroConfig(min_cutoff_hz=0.5, beta=1.0)  # radians
    shape: OneEuroConfig = OneEuroConfig(
        min_cutoff_hz=0.3, beta=0.0
    )  # SMPL betas: a person's shape is constant
    # the root's depth jitters most (one camera): its speed opens the root's filter this much less
    root_depth_speed_weight: float = 0.1


@dataclass(frozen=True)
class TrackedResult:
    result: PoseResult  # its people carry their track ids and smoothed joints
    ended: list[str]  # ids of tracks that ended at this frame
    active: list[str]  # ids of confirmed tracks alive (seen now or lost for a short while)


@dataclass
class _Filters:
    root: OneEuroFilter
    joints: OneEuroFilter
    rotations: RotationOneEuroFilter
    shape: OneEuroFilter
    translation: OneEuroFilter


@dataclass
class PeopleTracking:
    tracker: PeopleTracker = field(default_factory=PeopleTracker)
    smoothing: SmoothingConfig = field(default_factory=SmoothingConfig)
    _filters: dict[int, _Filters] = field(default_factory=dict)

    @classmethod
    def from_configs(cls, tracker: TrackerConfig, smoothing: SmoothingConfig) -> PeopleTracking:
        return cls(PeopleTracker(tracker), smoothing)

    def reset(self) -> None:
        self.tracker.reset()
        self._filters.clear()

    def apply(self, result: PoseResult) -> TrackedResult:
        """Ids and smoothing for ``result``'s people. People that arrive with a ``track_id`` (a
        pipeline that knows who is who, e.g. ground-truth replay) pass through unchanged."""
        stamp_s = result.stamp_ns * 1e-9
        untracked = [i for i, p in enumerate(result.people) if not p.track_id]
        update = self.tracker.update(
            detection_of([result.people[i] for i in untracked], result.image_size), stamp_s
        )
        people = list(result.people)
        for index, track_id, key in zip(untracked, update.ids, update.track_keys, strict=True):
            if self.smoothing.enabled:
                people[index] = self._smooth(people[index], key, stamp_s, track_id)
            else:
                people[index] = replace(people[index], track_id=track_id)
        if len(self._filters) > len(update.track_keys):  # else every filter is a track seen now
            alive = self.tracker.track_keys()
            self._filters = {k: f for k, f in self._filters.items() if k in alive}
        return TrackedResult(replace(result, people=people), update.ended, update.active)

    def _smooth(self, person: PersonPose, key: int, stamp_s: float, track_id: str) -> PersonPose:
        filters = self._filters.get(key)
        if filters is None:
            config = self.smoothing
            depth_weighted = np.array([1.0, 1.0, config.root_depth_speed_weight])
            filters = _Filters(
                OneEuroFilter(config.root, -1, depth_weighted),
                OneEuroFilter(config.joints, -1),
                RotationOneEuroFilter(config.rotations),
                OneEuroFilter(config.shape),
                OneEuroFilter(config.root, -1, depth_weighted),
            )
            self._filters[key] = filters
        root_index = person.joint_set.root
        root = person.joints_3d[root_index]
        relative = person.joints_3d - root
        if person.metric:
            root = filters.root(root, stamp_s)
        else:
            filters.root.reset()
        joints = filters.joints(relative, stamp_s) + root
        smpl = person.smpl
        if smpl is not None:
            smpl = _smooth_smpl(smpl, filters, stamp_s)
        return replace(person, joints_3d=joints, smpl=smpl, track_id=track_id)


def _smooth_smpl(smpl: SMPLEstimate, filters: _Filters, stamp_s: float) -> SMPLEstimate:
    """SMPL rotations on the manifold, shape and translation per value; joints and vertices follow
    the translation (re-posing them would need the body model, which is the pipeline's)."""
    translation = filters.translation(smpl.translation, stamp_s)
    shift = translation - smpl.translation
    return replace(
        smpl,
        body_pose=filters.rotations(smpl.body_pose, stamp_s).reshape(smpl.body_pose.shape),
        betas=filters.shape(smpl.betas, stamp_s),
        translation=translation,
        joints=smpl.joints + shift,
        vertices=None if smpl.vertices is None else smpl.vertices + shift,
    )


def detection_of(people: list[PersonPose], image_size: tuple[int, int] | None = None) -> Detection:
    """The tracker's view of a frame's people: boxes (from the keypoints where a pipeline gives
    none), 2D keypoints when every person has them, metric roots."""
    count = len(people)
    boxes = np.full((count, 4), np.nan)
    roots = np.full((count, 3), np.nan)
    for index, person in enumerate(people):
        if person.box is not None:
            boxes[index] = person.box[:4]
        elif person.keypoints_2d is not None:
            visible = person.keypoints_2d[np.isfinite(person.keypoints_2d).all(-1)]
            if len(visible) >= 2:
                boxes[index] = np.concatenate([visible.min(axis=0), visible.max(axis=0)])
        if person.metric:
            roots[index] = person.joints_3d[person.joint_set.root]
    with_2d = count > 0 and all(p.keypoints_2d is not None for p in people)
    same_shape = with_2d and len({p.keypoints_2d.shape for p in people}) == 1  # type: ignore[union-attr]
    keypoints = np.stack([p.keypoints_2d for p in people]) if same_shape else None  # type: ignore[misc]
    scores = None
    if same_shape:  # the 2D scores, or the joints' confidence for pipelines that give none
        scores = np.stack([p.confidence if p.scores_2d is None else p.scores_2d for p in people])
    return Detection(boxes, keypoints, scores, roots, image_size)


#: the nodes' ``tracking.*`` parameters (also read by ``hpe-ros process``) and their defaults
TRACKING_DEFAULTS: dict[str, bool | int | float] = {
    "enabled": True,
    "smoothing": True,
    "min_hits": TrackerConfig.min_hits,
    "max_lost_s": TrackerConfig.max_lost_s,
}


TRACKING_HELP = {
    "enabled": "give people ids that hold over time (Skeleton3D.id, one marker namespace per id)",
    "smoothing": "smooth each tracked person's joints, root and SMPL parameters (One-Euro, no added latency)",
    "min_hits": "frames a new person must be seen in a row before they get an id",
    "max_lost_s": "how long an id survives while its person is not seen (occlusion, out of the image)",
}


def tracking_from_options(options: dict[str, bool | int | float]) -> PeopleTracking | None:
    """The tracking stage the ``tracking.*`` options ask for (missing ones take their defaults), or None."""
    unknown = set(options) - set(TRACKING_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown tracking options {sorted(unknown)}; known: {sorted(TRACKING_DEFAULTS)}")
    merged = {**TRACKING_DEFAULTS, **options}
    if not merged["enabled"]:
        return None
    min_hits, max_lost_s = int(merged["min_hits"]), float(merged["max_lost_s"])
    if min_hits < 1 or max_lost_s < 0:
        raise ValueError(
            f"tracking.min_hits must be >= 1 and tracking.max_lost_s >= 0, got {min_hits}, {max_lost_s}"
        )
    tracker = TrackerConfig(min_hits=min_hits, max_lost_s=max_lost_s, predict_lost_s=max_lost_s)
    return PeopleTracking.from_configs(tracker, SmoothingConfig(enabled=bool(merged["smoothing"])))
