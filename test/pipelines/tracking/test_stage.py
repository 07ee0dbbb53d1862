"""The stage after the pipelines: ids into results, smoothing per id, options, pass-through."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from hpe_ros.core.joints import H36M_17
from hpe_ros.pipelines.base import ImageFrame, PersonPose, PoseResult, SMPLEstimate
from hpe_ros.pipelines.tracking.stage import (
    PeopleTracking,
    SmoothingConfig,
    detection_of,
    tracking_from_options,
)
from hpe_ros.pipelines.tracking.tracker import PeopleTracker, TrackerConfig
from hpe_ros.simulation.crowd import observed_person
from hpe_ros.simulation.people import default_camera, walking_skeleton

FPS = 30.0


def _person(joints: np.ndarray, camera, track_id: str = "", smpl: SMPLEstimate | None = None) -> PersonPose:
    return observed_person(joints, camera, track_id=track_id, smpl=smpl)


def _result(index: int, people: list[PersonPose]) -> PoseResult:
    return PoseResult(int(index / FPS * 1e9), "camera", people, image_size=(640, 480))


def test_ids_are_written_once_confirmed_and_smoothing_removes_jitter_of_a_still_person() -> None:
    camera = default_camera()
    still = walking_skeleton(1, distance_m=3.0)[0]
    rng = np.random.default_rng(0)
    tracking = PeopleTracking(PeopleTracker(TrackerConfig(min_hits=3)))
    raw, smoothed, ids = [], [], []
    for index in range(90):
        noisy = still + rng.normal(0.0, 0.01, still.shape)
        out = tracking.apply(_result(index, [_person(noisy, camera)])).result
        raw.append(noisy)
        smoothed.append(out.people[0].joints_3d)
        ids.append(out.people[0].track_id)
    assert ids[:2] == ["", ""] and set(ids[2:]) == {"p1"}
    assert np.std(smoothed[30:], axis=0).mean() < np.std(raw[30:], axis=0).mean() / 2.5


def test_people_that_come_with_ids_pass_through_untouched() -> None:
    camera = default_camera()
    joints = walking_skeleton(1, distance_m=3.0)[0]
    known = _person(joints, camera, track_id="replay_0")
    tracking = PeopleTracking()
    for index in range(5):
        out = tracking.apply(_result(index, [known, _person(joints + [1.0, 0, 0], camera)])).result
    assert out.people[0] is known
    assert out.people[1].track_id == "p1"


def test_smpl_rotations_are_smoothed_on_the_manifold_and_the_mesh_follows_the_translation() -> None:
    camera = default_camera()
    joints = walking_skeleton(1, distance_m=3.0)[0]
    rng = np.random.default_rng(1)
    truth = Rotation.from_rotvec(np.tile([0.0, np.pi - 0.05, 0.0], (24, 1)))
    tracking = PeopleTracking(PeopleTracker(TrackerConfig(min_hits=1)))
    errors, raw_errors = [], []
    for index in range(60):
        noisy = truth * Rotation.from_rotvec(rng.normal(0.0, 0.05, (24, 3)))
        smpl = SMPLEstimate(
            np.zeros(10), noisy.as_rotvec(), np.array([0.0, 0.0, 3.0]), np.zeros((24, 3)), np.zeros((6890, 3))
        )
        out = tracking.apply(_result(index, [_person(joints, camera, smpl=smpl)])).result.people[0].smpl
        assert out is not None and out.body_pose.shape == (24, 3)
        np.testing.assert_allclose(
            out.vertices - out.translation, np.broadcast_to([0.0, 0.0, -3.0], (6890, 3)), atol=1e-9
        )
        if index >= 20:
            errors.append((truth.inv() * Rotation.from_rotvec(out.body_pose)).magnitude().mean())
            raw_errors.append((truth.inv() * noisy).magnitude().mean())
    assert (
        np.mean(errors) < np.mean(raw_errors) / 1.7 and max(errors) < 0.1
    )  # never flipped through the identity


def test_smoothing_off_leaves_joints_as_they_are() -> None:
    camera = default_camera()
    joints = walking_skeleton(1, distance_m=3.0)[0]
    tracking = PeopleTracking(PeopleTracker(TrackerConfig(min_hits=1)), SmoothingConfig(enabled=False))
    for index in range(3):
        moved = joints + [0.1 * index, 0.0, 0.0]
        out = tracking.apply(_result(index, [_person(moved, camera)])).result
        np.testing.assert_array_equal(out.people[0].joints_3d, moved)


def test_root_relative_people_are_tracked_in_2d_only() -> None:
    camera = default_camera()
    person = _person(walking_skeleton(1, distance_m=3.0)[0], camera)
    relative = PersonPose(
        H36M_17,
        person.joints_3d - person.joints_3d[0],
        person.confidence,
        metric=False,
        keypoints_2d=person.keypoints_2d,
        scores_2d=person.scores_2d,
        box=person.box,
    )
    detection = detection_of([relative], (640, 480))
    assert np.isnan(detection.roots).all() and detection.keypoints.shape == (1, 17, 2)


def test_options_build_the_stage_or_explain_what_is_wrong() -> None:
    assert tracking_from_options({"enabled": False}) is None
    stage = tracking_from_options({"min_hits": 1, "max_lost_s": 0.5, "smoothing": False})
    assert stage is not None and stage.tracker.config.min_hits == 1 and not stage.smoothing.enabled
    with pytest.raises(ValueError, match="unknown tracking options"):
        tracking_from_options({"min_hit": 2})
    with pytest.raises(ValueError, match="min_hits must be >= 1"):
        tracking_from_options({"min_hits": 0})


def test_real_crowds_keep_their_ids_while_the_camera_pans(shared_data) -> None:
    """BlazePose on each shared COCO crowd image seen through a window that pans 8 px per frame:
    every person found in two frames keeps one id (per-frame association on real detections)."""
    from PIL import Image

    from hpe_ros.pipelines.rgb.blazepose_lifting import BlazePoseLiftingPipeline
    from hpe_ros.pipelines.rgb.blazepose_models import blazepose_available

    if not blazepose_available():
        pytest.skip("BlazePose (mediapipe wheel + ai-edge-litert) is not installed")
    step, frames = 8, 5
    pipeline = BlazePoseLiftingPipeline(video_mode=False)
    try:
        for path in sorted((shared_data / "coco").glob("*.jpg")):
            picture = np.asarray(Image.open(path).convert("RGB"))
            width = picture.shape[1] - step * frames
            tracking = PeopleTracking(PeopleTracker(TrackerConfig(min_hits=1)))
            first_ids: dict[tuple[int, int], str] = {}
            for index in range(frames):
                window = np.ascontiguousarray(picture[:, step * index : step * index + width])
                result = pipeline.process(ImageFrame(window, int(index * 1e9 / FPS), "camera"))
                people = tracking.apply(result).result.people
                assert len({p.track_id for p in people}) == len(people)  # distinct ids within a frame
                for person in people:
                    # the person's place in the whole picture, to the nearest 40 px
                    centre = (person.box[:2] + person.box[2:4]) / 2 + [step * index, 0]
                    key = tuple(int(v) for v in np.round(centre / 40))
                    near = [k for k in first_ids if abs(k[0] - key[0]) <= 1 and abs(k[1] - key[1]) <= 1]
                    if index == 0:
                        first_ids[key] = person.track_id
                    elif near:
                        assert person.track_id in {first_ids[k] for k in near}, (path.name, index)
            assert len(first_ids) >= 1
    finally:
        pipeline.close()
