"""Tracking and smoothing measured on simulated scenes through the real lifter and placement.

The goals of the tracking issue, at 30 Hz: IDF1 and id switches (CLEAR-MOT, py-motmetrics) on
people crossing, walking behind someone, leaving and coming back; jitter of a person standing
still cut at least 3x with at most one frame of lag on a step. The bounds hold with a margin
from what ``scripts/eval_tracking.py`` measures (docs/models.md).
"""

from __future__ import annotations

import numpy as np
import pytest

from hpe_ros.core.camera import CameraModel
from hpe_ros.evaluation.tracking import measure_smoothing, track_scene
from hpe_ros.pipelines.rgb.default_lifter import load_default_lifter
from hpe_ros.pipelines.tracking.stage import PeopleTracking, SmoothingConfig
from hpe_ros.pipelines.tracking.tracker import PeopleTracker, TrackerConfig
from hpe_ros.simulation.crowd import KeypointNoise, crossing_scenes, simulate

pytest.importorskip("motmetrics", reason="py-motmetrics (requirements.txt) is not installed")

CAMERA = CameraModel.from_intrinsics(615.0, 615.0, 319.5, 239.5, 640, 480)  # a 640x480 RGB-D colour stream


@pytest.fixture(scope="module")
def lifter():
    return load_default_lifter()


@pytest.mark.parametrize(
    ("scene", "min_idf1", "max_switches"),
    [
        ("crossing", 0.95, 1),  # the goal is IDF1 >= 0.95 and < 1 switch per 1000 person-frames (~600 here)
        ("behind_a_standing_person", 0.95, 1),
        ("leaving_and_returning", 0.95, 1),
        # one of the six stands 8 m away hidden for 3.4 s, longer than max_lost_s: a new id by design
        ("group_of_six", 0.9, 2),
    ],
)
def test_ids_hold_through_crossings_occlusions_and_exits(
    lifter, scene: str, min_idf1: float, max_switches: int
) -> None:
    duration = 12.0 if scene == "group_of_six" else 10.0
    frames = simulate(
        crossing_scenes()[scene], CAMERA, duration, 30.0, KeypointNoise(), np.random.default_rng(0)
    )
    scores = track_scene(frames, CAMERA, lifter, PeopleTracking(smoothing=SmoothingConfig(enabled=False)))
    assert scores.person_frames > 400
    assert scores.idf1 >= min_idf1 and scores.mota >= 0.9
    assert scores.id_switches <= max_switches and scores.false_tracks == 0  # one-frame false people get no id


def test_without_the_second_round_a_person_hidden_for_a_second_gets_a_new_id(lifter) -> None:
    """The same scene with ids that cannot survive being unseen: the tracker's memory is what
    keeps the ids (a check that the scene really hides people)."""
    frames = simulate(
        crossing_scenes()["behind_a_standing_person"],
        CAMERA,
        10.0,
        30.0,
        KeypointNoise(),
        np.random.default_rng(0),
    )
    forgetful = PeopleTracking(PeopleTracker(TrackerConfig(max_lost_s=0.1)), SmoothingConfig(enabled=False))
    remembering = PeopleTracking(smoothing=SmoothingConfig(enabled=False))
    forgot, remembered = (track_scene(frames, CAMERA, lifter, t).idf1 for t in (forgetful, remembering))
    assert forgot < remembered - 0.1


def test_smoothing_cuts_the_jitter_of_a_still_person_without_lagging_a_step(lifter) -> None:
    # 2D jitter of 0.5 % of the person's height per frame: BlazePose's worst on the four shared
    # Human3.6M frames with camera noise (0.1-0.5 %, scripts/eval_tracking.py)
    scores = measure_smoothing(CAMERA, lifter, KeypointNoise(sigma_heights=0.005, outlier_rate=0.0))
    assert scores.jitter_raw_m > 0.01  # the placed skeletons do jitter (mostly in depth)
    assert scores.jitter_reduction >= 3.0
    assert scores.lag_frames <= 1.0


def test_people_placed_from_rendered_depth_are_tracked(lifter) -> None:
    """A short stretch of the crossing with an RGB-D camera: people placed from depth keep ids."""
    scene = crossing_scenes()["crossing"]
    frames = simulate(scene, CAMERA, 10.0, 30.0, KeypointNoise(), np.random.default_rng(0))
    stretch = frames[150:210]  # 2 s in the middle, as the people cross
    stage = PeopleTracking(smoothing=SmoothingConfig(enabled=False))
    scores = track_scene(stretch, CAMERA, lifter, stage, depth_rng=np.random.default_rng(0))
    assert scores.person_frames > 100 and scores.id_switches == 0 and scores.idf1 >= 0.93
