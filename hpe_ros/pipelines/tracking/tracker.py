"""Person identities over time: the people of consecutive frames matched to tracks.

Each frame is two assignment problems solved by :func:`scipy.optimize.linear_sum_assignment` (one
track or one person needs no solver):

1. the confirmed tracks against all people, in one problem: a track seen in the last frame costs
   1 - OKS of its keypoints moved with its predicted box (the boxes' IoU where there are no
   keypoints: one outlier joint stretches a box, not the OKS), averaged with its root's distance
   from the prediction when both are metric. The root's offset is gated along the camera ray by
   ``gate_m`` + ``depth_gate_fraction`` of the distance (from one camera the depth is the noisiest
   part, and off the optical axis a wrong depth moves the root sideways too, along the ray) and
   across it by ``gate_m`` sideways and ``height_gate_m`` in height. A track lost for up to
   ``max_lost_s`` (hidden, or out of the image) costs ``lost_penalty`` plus its distance from where
   its motion puts it (or, for people who left at the edge of the image, from where they left) in
   gates that grow with the time lost, plus how little the boxes overlap, plus ``spread_weight``
   times the log of its gate's growth (as in a likelihood: a wider gate is a less certain
   prediction, so a person hidden longer does not take the one reappearing from a person hidden
   for a moment);
2. the tentative tracks against the people left, like seen tracks.

Motion is a least-squares line through the last ``motion_window_s`` of observations (only the box
centre and the root's sideways position are extrapolated; sizes, heights and depths are held).
Roots of people cut by the edge of the image take no part (the lifter saw part of a body), and a
track's root older than ``motion_window_s`` is forgotten. People left over start tentative tracks;
a track is confirmed, and gets an id, after ``min_hits`` consecutive frames; a tentative track
missed once is dropped. Ids ("p1", "p2", ...: valid ROS name tokens) are never reused; a confirmed
track unseen for more than ``max_lost_s`` ends, and all tracks end when time goes back (a bag
played again, a simulation reset).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from hpe_ros.core.boxes import box_iou

_INFEASIBLE = 1e6


@dataclass(frozen=True)
class TrackerConfig:
    min_hits: int = 3  # consecutive matches before a track is confirmed and published with an id
    max_lost_s: float = 3.0  # how long a confirmed track survives unmatched (occlusion, edge of the image)
    predict_lost_s: float = 3.0  # a lost track's position is extrapolated at most this long
    min_similarity: float = 0.2  # least mean of IoU and OKS for a seen track's match
    gate_m: float = 0.5  # largest sideways root distance from a seen track's prediction
    height_gate_m: float = 0.15  # largest vertical root distance
    depth_gate_fraction: float = 0.3  # ... and in depth, this fraction of the distance more
    walking_speed_mps: float = 1.5  # how fast a lost track's gate grows for people who left the image
    drift_speed_mps: float = 0.4  # ... and for the others, whose motion is extrapolated
    lost_penalty: float = 0.1  # added to a lost track's cost: a track seen in the last frame wins a tie
    lost_gate_heights: float = 0.5  # ... and in box heights, for people without a metric root
    oks_sigma: float = 0.08  # keypoint tolerance, as a fraction of the box scale
    min_keypoint_score: float = 0.3
    min_keypoints: int = 4  # joints confident in both a track and a detection before their OKS counts
    motion_window_s: float = 0.5  # the constant-velocity line is fitted to this much history
    spread_weight: float = 0.7  # cost of a lost track's gate growth (log of its width over gate_m)


@dataclass(frozen=True)
class Detection:
    """One frame's people (N): box (N, 4) x_min, y_min, x_max, y_max; optional keypoints and roots."""

    boxes: np.ndarray
    keypoints: np.ndarray | None = None  # (N, J, 2) pixels
    scores: np.ndarray | None = None  # (N, J)
    roots: np.ndarray | None = None  # (N, 3) metres in the camera frame, NaN where not metric
    image_size: tuple[int, int] | None = None  # (width, height): tells who is at the edge of the image

    def __len__(self) -> int:
        return len(self.boxes)


@dataclass(frozen=True)
class TrackUpdate:
    """Per detection, its track's id ("" while the track is tentative); ended and alive ids."""

    ids: list[str]
    track_keys: list[int]  # internal key of each detection's track (tentative ones included)
    ended: list[str]  # ids of confirmed tracks that ended in this update
    active: list[str]  # ids of the confirmed tracks alive after this update (seen or lost)


class LinearMotion:
    """Constant velocity fitted by least squares to the last ``window_s`` of observations.

    A line through a short history is robust to one bad frame, unlike a two-point difference,
    and its value at the last time is already less noisy than the last observation. The sums of
    the fit are kept as samples come and go (times relative to the first sample, for precision)."""

    def __init__(self, window_s: float, moving: np.ndarray | None = None) -> None:
        self.window_s = window_s
        self.moving = moving  # which components may be extrapolated (None: all)
        self.restart()

    def restart(self) -> None:
        self._origin: float | None = None
        self._times: deque[float] = deque()
        self._values: deque[np.ndarray] = deque()
        self._sums: list = [0.0, 0.0, 0.0, 0.0]  # sum t, sum t^2, sum v, sum t v
        self._fit: tuple[np.ndarray, np.ndarray] | None = None

    def _account(self, t: float, value: np.ndarray, sign: float) -> None:
        sums = self._sums
        sums[0] += sign * t
        sums[1] += sign * t * t
        sums[2] = sums[2] + sign * value
        sums[3] = sums[3] + sign * t * value

    def add(self, stamp_s: float, value: np.ndarray) -> None:
        if self._origin is None:
            self._origin = stamp_s
        t, value = stamp_s - self._origin, np.asarray(value, dtype=float)
        self._times.append(t)
        self._values.append(value)
        self._account(t, value, 1.0)
        while self._times[-1] - self._times[0] > self.window_s:
            self._account(self._times.popleft(), self._values.popleft(), -1.0)
        self._fit = None

    @property
    def last(self) -> np.ndarray:
        return self._values[-1]

    @property
    def last_stamp_s(self) -> float:
        return (self._origin or 0.0) + self._times[-1]

    def predict(self, horizon_s: float) -> np.ndarray:
        """The value ``horizon_s`` after the last observation."""
        position, velocity = self._line()
        return position + velocity * horizon_s

    def _line(self) -> tuple[np.ndarray, np.ndarray]:
        if self._fit is None:
            count, last = len(self._times), self._values[-1]
            span = self._times[-1] - self._times[0]
            sum_t, sum_tt, sum_v, sum_tv = self._sums
            spread = count * sum_tt - sum_t * sum_t
            if count < 3 or span < 0.4 * self.window_s or spread <= 1e-12:
                self._fit = last, np.zeros_like(last)
            else:
                velocity = (count * sum_tv - sum_t * sum_v) / spread
                position = sum_v / count + velocity * (
                    self._times[-1] - sum_t / count
                )  # the line at the last time
                if self.moving is not None:
                    velocity = np.where(self.moving, velocity, 0.0)
                self._fit = position, velocity
        return self._fit


@dataclass
class _Track:
    key: int
    box: LinearMotion  # centre x, centre y, width, height; only the centre is extrapolated
    keypoints: np.ndarray | None
    scores: np.ndarray | None
    root: LinearMotion | None  # metres; only x is extrapolated (depth from one camera is too noisy)
    last_seen_s: float
    hits: int = 1
    track_id: str = ""  # set when confirmed
    lost: bool = False
    at_edge: bool = False  # last seen touching the edge of the image: may come back where they left

    def elapsed(self, stamp_s: float) -> float:
        return max(stamp_s - self.last_seen_s, 0.0)


@dataclass
class PeopleTracker:
    """Stable ids for the people of consecutive frames (see the module docstring)."""

    config: TrackerConfig = field(default_factory=TrackerConfig)
    _tracks: list[_Track] = field(default_factory=list)
    _next_key: int = 0
    _next_id: int = 1
    _last_stamp_s: float = -np.inf

    def reset(self) -> None:
        self._tracks, self._next_key, self._next_id, self._last_stamp_s = [], 0, 1, -np.inf

    def track_keys(self) -> set[int]:
        """Internal keys of every live track, tentative and lost ones included."""
        return {t.key for t in self._tracks}

    def update(self, detection: Detection, stamp_s: float) -> TrackUpdate:
        """Match ``detection`` (the people of the frame at ``stamp_s`` seconds) to the tracks."""
        restarted: list[str] = []
        if stamp_s < self._last_stamp_s:  # time went back (a bag played again): every track ends
            restarted = [t.track_id for t in self._tracks if t.track_id]
            self._tracks = []
        self._last_stamp_s = stamp_s
        edges = _edge_mask(detection)
        detection = _without_cut_roots(detection, edges)
        count = len(detection)
        assigned: list[_Track | None] = [None] * count
        free = list(range(count))
        confirmed = [t for t in self._tracks if t.track_id]
        seen, lost = [t for t in confirmed if not t.lost], [t for t in confirmed if t.lost]
        tentative = [t for t in self._tracks if not t.track_id]
        # confirmed tracks first, seen and lost in one assignment; then tentative ones
        for groups in (((seen, self._seen_cost), (lost, self._lost_cost)), ((tentative, self._seen_cost),)):
            tracks = [t for group, _ in groups for t in group]
            if not free or not tracks:
                continue
            cost = np.concatenate(
                [cost_of(group, detection, free, stamp_s) for group, cost_of in groups if group]
            )
            rows, cols = _assignment(cost)
            for row, col in zip(rows, cols, strict=True):
                if cost[row, col] < _INFEASIBLE:
                    assigned[free[col]] = tracks[row]
            free = [d for d in free if assigned[d] is None]
        matched = {id(t) for t in assigned if t is not None}
        ended: list[str] = restarted
        survivors: list[_Track] = []
        for track in self._tracks:
            if id(track) in matched:
                survivors.append(track)
            elif track.track_id and track.elapsed(stamp_s) <= self.config.max_lost_s:
                track.lost = True
                survivors.append(track)
            elif track.track_id:
                ended.append(track.track_id)
        self._tracks = survivors
        for index, match in enumerate(assigned):
            if match is None:
                assigned[index] = self._start(detection, index, stamp_s, bool(edges[index]))
            else:
                self._correct(match, detection, index, stamp_s, bool(edges[index]))
        return TrackUpdate(
            ids=[t.track_id for t in assigned if t is not None],
            track_keys=[t.key for t in assigned if t is not None],
            ended=ended,
            active=[t.track_id for t in self._tracks if t.track_id],
        )

    # ---- costs -------------------------------------------------------------------------------
    def _seen_cost(
        self, tracks: list[_Track], detection: Detection, columns: list[int], stamp_s: float
    ) -> np.ndarray:
        """Tracks seen in the last frame: 1 - OKS of the keypoints moved with the predicted box (the
        boxes' IoU where there are no keypoints), averaged with the root distance in gates when both
        roots are metric; either alone where the other is unknown."""
        config = self.config
        states = np.array([t.box.predict(t.elapsed(stamp_s)) for t in tracks])
        similarity = self._oks(tracks, states, detection, columns)
        missing = np.isnan(similarity)
        if missing.any():  # no keypoints to compare: the boxes' overlap
            predicted, boxes = _box_corners(states), detection.boxes[columns, :4]
            known = np.isfinite(predicted).all(-1)[:, None] & np.isfinite(boxes).all(-1)[None]
            similarity = np.where(missing & known, box_iou(predicted, boxes), similarity)
        distance = self._root_distance(tracks, detection, columns, stamp_s, extrapolate=True)
        with np.errstate(invalid="ignore"):
            dissimilar, near = 1.0 - similarity, np.minimum(distance, 1.0)
            both = 0.5 * (dissimilar + near)
            cost = np.where(np.isnan(near), dissimilar, np.where(np.isnan(dissimilar), near, both))
            feasible = ~np.isnan(cost) & ~(similarity < config.min_similarity) & ~(distance > 1.0)
        return np.where(feasible, cost, _INFEASIBLE)

    def _lost_cost(
        self, tracks: list[_Track], detection: Detection, columns: list[int], stamp_s: float
    ) -> np.ndarray:
        """Lost tracks: distance from where their motion puts them now (people walk on behind an
        occluder) or, for people who left at the edge of the image, from where they left if nearer,
        in gates that grow with the time lost; plus how little the boxes overlap and
        ``lost_penalty``."""
        config = self.config
        elapsed = np.array([t.elapsed(stamp_s) for t in tracks])[:, None]
        at_edge = np.array([t.at_edge for t in tracks])[:, None]
        speed = np.where(at_edge, config.walking_speed_mps, config.drift_speed_mps)
        extrapolated = self._root_distance(tracks, detection, columns, stamp_s, True, speed[:, 0])
        held = self._root_distance(tracks, detection, columns, stamp_s, False, speed[:, 0])
        distance = np.where(at_edge, np.fmin(extrapolated, held), extrapolated)
        boxes = detection.boxes[columns, :4]
        detected = 0.5 * (boxes[:, :2] + boxes[:, 2:])
        horizons = [min(t.elapsed(stamp_s), config.predict_lost_s) for t in tracks]
        predicted = np.array([t.box.predict(h) for t, h in zip(tracks, horizons, strict=True)])
        heights = predicted[:, 3:4]
        pixels = np.linalg.norm(predicted[:, None, :2] - detected[None], axis=-1)
        last_seen = np.array([t.box.predict(0.0)[:2] for t in tracks])
        pixels = np.where(
            at_edge, np.fmin(pixels, np.linalg.norm(last_seen[:, None] - detected[None], axis=-1)), pixels
        ) / np.maximum(heights, 1.0)
        # a person's image speed in box heights per second is about their walking speed over their height
        gate_2d = config.lost_gate_heights + speed / 1.7 * elapsed
        known = np.isfinite(distance)
        normalised = np.where(known, distance, pixels / gate_2d)
        overlap = np.nan_to_num(box_iou(_box_corners(predicted), boxes))  # tells apart people close together
        # a gate grown with the time lost is a less certain prediction: the negative log-likelihood's
        # log of the gate's growth keeps a long-lost track from taking a person from a recent one
        spread = np.log1p(speed * elapsed / config.gate_m)
        cost = config.lost_penalty + normalised + 0.5 * (1.0 - overlap) + config.spread_weight * spread
        return np.where(normalised <= 1.0, cost, _INFEASIBLE)

    def _root_distance(
        self,
        tracks: list[_Track],
        detection: Detection,
        columns: list[int],
        stamp_s: float,
        extrapolate: bool,
        growth_mps: np.ndarray | None = None,
    ) -> np.ndarray:
        """Root distance from each track's prediction, in gates: sideways over ``gate_m``, up and
        down over ``height_gate_m`` (a person's pelvis stays at its height), in depth over ``gate_m``
        plus ``depth_gate_fraction`` of the distance (a monocular root's depth error grows with
        it). ``growth_mps`` (per track) widens the sideways and depth gates with the time lost."""
        config = self.config
        distance = np.full((len(tracks), len(columns)), np.nan)
        rows = [r for r, t in enumerate(tracks) if t.root is not None]
        if detection.roots is None or not rows:
            return distance
        elapsed = np.array([tracks[r].elapsed(stamp_s) for r in rows])
        horizons = np.minimum(elapsed, config.predict_lost_s) if extrapolate else np.zeros(len(rows))
        predicted = np.array([tracks[r].root.predict(h) for r, h in zip(rows, horizons, strict=True)])  # type: ignore[union-attr]
        widen = np.zeros(len(rows)) if growth_mps is None else np.asarray(growth_mps)[rows] * elapsed
        # the offset along the camera ray (where a monocular root's error lies) and across it
        offsets = _rows(detection.roots, columns)[None] - predicted[:, None]  # (T, N, 3)
        ranges = np.sqrt(np.einsum("tk,tk->t", predicted, predicted))
        rays = predicted / np.maximum(ranges, 1e-6)[:, None]
        along = np.einsum("tnk,tk->tn", offsets, rays)
        across = offsets - along[..., None] * rays[:, None]
        along_gate = config.gate_m + config.depth_gate_fraction * ranges + widen
        sideways_gate = config.gate_m + widen
        gates = np.array([sideways_gate, np.full(len(rows), config.height_gate_m), sideways_gate]).T
        across = across / gates[:, None]
        along = along / along_gate[:, None]
        distance[rows] = np.sqrt(np.einsum("tnk,tnk->tn", across, across) + along * along)
        return distance

    def _oks(
        self, tracks: list[_Track], states: np.ndarray, detection: Detection, columns: list[int]
    ) -> np.ndarray:
        """(T, N) object keypoint similarity of each track's keypoints, moved with its predicted
        box ``states`` (T, 4), to each detection's (NaN where fewer than ``min_keypoints`` joints
        are confident in both: a few stray joints must not outweigh the boxes)."""
        out = np.full((len(tracks), len(columns)), np.nan)
        rows = [r for r, t in enumerate(tracks) if t.keypoints is not None]
        if not rows or detection.keypoints is None or detection.scores is None:
            return out
        config = self.config
        every = len(rows) == len(tracks)
        states = states if every else states[rows]
        moved = states[:, :2] - np.array([tracks[r].box.last[:2] for r in rows])
        shifted = np.array([tracks[r].keypoints for r in rows]) + moved[:, None]
        track_ok = np.array([tracks[r].scores for r in rows]) >= config.min_keypoint_score
        scale_sq = np.maximum(states[:, 2] * states[:, 3], 1.0) * (2 * config.oks_sigma) ** 2
        keypoints, scores = _rows(detection.keypoints, columns), _rows(detection.scores, columns)
        detection_ok = scores >= config.min_keypoint_score
        offsets = keypoints[None] - shifted[:, None]  # (T, N, J, 2)
        squared = np.einsum("tnjk,tnjk->tnj", offsets, offsets)
        similarity = np.exp(squared * (-0.5 / scale_sq)[:, None, None])
        usable = track_ok[:, None] & detection_ok[None]
        counts = usable.sum(axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            oks = np.where(usable, similarity, 0.0).sum(axis=-1) / counts
        oks[counts < config.min_keypoints] = np.nan
        if every:
            return oks
        out[rows] = oks
        return out

    # ---- track states ------------------------------------------------------------------------
    def _start(self, detection: Detection, index: int, stamp_s: float, at_edge: bool) -> _Track:
        # the box's centre moves; its size is held (a gait's swinging legs would extrapolate it to nothing)
        box = LinearMotion(self.config.motion_window_s, moving=np.array([True, True, False, False]))
        track = _Track(
            key=self._next_key, box=box, keypoints=None, scores=None, root=None, last_seen_s=stamp_s
        )
        self._next_key += 1
        self._observe(track, detection, index, stamp_s, at_edge)
        self._tracks.append(track)
        return track

    def _correct(
        self, track: _Track, detection: Detection, index: int, stamp_s: float, at_edge: bool
    ) -> None:
        if track.lost and track.elapsed(stamp_s) > self.config.motion_window_s:
            track.box.restart()  # the old motion says little about where they went: start again from here
            track.root = None
        track.hits += 1
        self._observe(track, detection, index, stamp_s, at_edge)

    def _observe(
        self, track: _Track, detection: Detection, index: int, stamp_s: float, at_edge: bool
    ) -> None:
        track.box.add(stamp_s, _box_state(detection.boxes[index, :4]))
        root = _root_of(detection, index)
        if track.root is not None and stamp_s - track.root.last_stamp_s > self.config.motion_window_s:
            track.root = None  # cut by the edge of the image for a while: that root is out of date
        if root is not None:
            if track.root is None:
                track.root = LinearMotion(self.config.motion_window_s, moving=np.array([True, False, False]))
            track.root.add(stamp_s, root)
        if detection.keypoints is not None and detection.scores is not None:
            track.keypoints, track.scores = detection.keypoints[index].copy(), detection.scores[index].copy()
        track.last_seen_s, track.lost = stamp_s, False
        track.at_edge = at_edge
        self._confirm_if_ready(track)

    def _confirm_if_ready(self, track: _Track) -> None:
        if not track.track_id and track.hits >= self.config.min_hits:
            track.track_id = f"p{self._next_id}"
            self._next_id += 1


def _rows(values: np.ndarray, columns: list[int]) -> np.ndarray:
    """``values[columns]``, without the copy when ``columns`` are all of them (in order)."""
    return values if len(columns) == len(values) else values[columns]


def _assignment(cost: np.ndarray) -> tuple[Sequence[int], Sequence[int]]:
    """The least-cost assignment of rows to columns; one track or one person needs no solver."""
    if cost.shape[0] == 1:
        return [0], [int(cost[0].argmin())]
    if cost.shape[1] == 1:
        return [int(cost[:, 0].argmin())], [0]
    return linear_sum_assignment(cost)


def _edge_mask(detection: Detection, margin: float = 0.02) -> np.ndarray:
    """(N,) people whose box touches the edge of the image."""
    if detection.image_size is None:
        return np.zeros(len(detection), dtype=bool)
    width, height = detection.image_size
    inner_lo = np.array([margin * width, margin * height])
    inner_hi = np.array([(1 - margin) * width, (1 - margin) * height])
    boxes = np.asarray(detection.boxes[:, :4], dtype=float)
    with np.errstate(invalid="ignore"):
        return np.asarray((boxes[:, :2] <= inner_lo).any(-1) | (boxes[:, 2:] >= inner_hi).any(-1), dtype=bool)


def _without_cut_roots(detection: Detection, cut: np.ndarray) -> Detection:
    """The roots of people cut by the edge of the image are unreliable (the lifter and the size
    prior see part of a body): they take no part in matching and motion."""
    if detection.roots is None or not cut.any():
        return detection
    roots = np.where(cut[:, None], np.nan, detection.roots)
    return Detection(detection.boxes, detection.keypoints, detection.scores, roots, detection.image_size)


def _root_of(detection: Detection, index: int) -> np.ndarray | None:
    if detection.roots is None:
        return None
    root = np.asarray(detection.roots[index], dtype=float)
    return root.copy() if np.isfinite(root).all() else None


def _box_state(box: np.ndarray) -> np.ndarray:
    return np.array(
        [0.5 * (box[0] + box[2]), 0.5 * (box[1] + box[3]), box[2] - box[0], box[3] - box[1]], float
    )


def _box_corners(state: np.ndarray) -> np.ndarray:
    """Corners of one (4,) or several (T, 4) box states."""
    half = 0.5 * np.maximum(state[..., 2:], 0.0)
    return np.concatenate([state[..., :2] - half, state[..., :2] + half], axis=-1)
