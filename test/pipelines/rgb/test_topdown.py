"""The composed top-down pipeline with random weights: boxes -> HRNet -> CA-PF -> placement (-> mesh)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from hpe_ros.core.camera import CameraModel
from hpe_ros.core.joints import COCO_17, H36M_17, flip_joints
from hpe_ros.models.registry import create_model
from hpe_ros.models.smpl_synthetic import save_synthetic_smpl
from hpe_ros.pipelines.base import ImageFrame
from hpe_ros.pipelines.registry import create_pipeline
from hpe_ros.pipelines.rgb.crops import boxes_to_center_scale, crop_people
from hpe_ros.pipelines.rgb.topdown import Keypoints2D, TopDownPipeline
from hpe_ros.pipelines.tracking.stage import PeopleTracking
from hpe_ros.pipelines.tracking.tracker import PeopleTracker, TrackerConfig

WIDTH, HEIGHT = 320, 240
BOXES = np.array([[20.0, 30.0, 120.0, 220.0, 0.9], [180.0, 20.0, 300.0, 230.0, 0.8]])


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> TopDownPipeline:
    torch.manual_seed(0)
    smpl = save_synthetic_smpl(tmp_path_factory.mktemp("smpl") / "smpl.pkl")
    options = {"allow_random_weights": True, "flip_test": False, "lifter_flip_test": False,
               "smpl_model_path": str(smpl)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        built = create_pipeline("topdown", options)
    assert isinstance(built, TopDownPipeline)
    return built


def _frame(stamp: int, boxes: np.ndarray | None, image: np.ndarray | None = None) -> ImageFrame:
    if image is None:
        image = np.random.default_rng(stamp).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    camera = CameraModel.from_intrinsics(300.0, 300.0, WIDTH / 2, HEIGHT / 2, WIDTH, HEIGHT)
    return ImageFrame(image, stamp, "camera", camera, boxes=boxes)


def test_two_upstream_boxes_give_two_tracked_people(pipeline: TopDownPipeline) -> None:
    tracking = PeopleTracking(PeopleTracker(TrackerConfig(min_hits=1)))
    first_frame = _frame(1, BOXES)
    first = tracking.apply(pipeline.process(first_frame)).result
    # the scene moves 4 px right and 2 px down (the keypoints follow it); the detector lists the
    # people the other way round
    moved = BOXES + np.array([4.0, 2.0, 4.0, 2.0, 0.0])
    shifted = np.roll(first_frame.image, (2, 4), axis=(0, 1))
    second = tracking.apply(pipeline.process(_frame(2, moved[::-1].copy(), shifted))).result
    assert [len(first.people), len(second.people)] == [2, 2]
    assert {"boxes", "crop", "2d", "lift", "place", "mesh"} <= set(first.timings_s)
    regions = boxes_to_center_scale(BOXES, pipeline.input_size)
    half_extent = regions.scale * 200.0 / 2  # the crop covers the box enlarged by 1.25 to the input's aspect
    for person, box, centre, half in zip(first.people, BOXES, regions.center, half_extent, strict=True):
        assert person.joint_set is H36M_17
        assert person.joints_3d.shape == (17, 3) and person.keypoints_2d.shape == (17, 2)
        np.testing.assert_allclose(person.box, box, rtol=1e-6)
        assert np.all(np.abs(person.keypoints_2d - centre) <= half + 1.0)
        assert person.smpl is not None and person.smpl.vertices.shape == (6890, 3)
    by_box = {tuple(np.round(p.box[:2])): p.track_id for p in second.people}
    assert by_box[(24.0, 32.0)] == first.people[0].track_id
    assert by_box[(184.0, 22.0)] == first.people[1].track_id
    assert first.people[0].track_id != first.people[1].track_id and all(p.track_id for p in first.people)
    faces = pipeline.mesh_faces()
    assert faces is not None and faces.shape[1] == 3


def test_no_boxes_no_people(pipeline: TopDownPipeline) -> None:
    result = pipeline.process(_frame(3, np.zeros((0, 5))))
    assert result.people == [] and result.stamp_ns == 3


def test_capf_gets_hrnet_maps_of_the_crops(pipeline: TopDownPipeline) -> None:
    frame = _frame(4, BOXES)
    people = pipeline.estimate_2d(frame.image, BOXES)
    shapes = [tuple(m.shape) for m in people.maps]
    assert shapes == [(2, 32, 64, 48), (2, 64, 32, 24), (2, 128, 16, 12), (2, 256, 8, 6)]
    assert people.crop.shape == (2, 17, 2) and people.image.shape == (2, 17, 2)
    keypoints, scores, relative = pipeline.lift(people, (WIDTH, HEIGHT))
    assert keypoints.shape == (2, 17, 2) and scores.shape == (2, 17) and relative.shape == (2, 17, 3)
    np.testing.assert_allclose(relative[:, 0], 0.0, atol=1e-9)  # pelvis-relative
    blank_maps = tuple(torch.zeros_like(m) for m in people.maps)
    blank = Keypoints2D(people.image, people.crop, people.scores, blank_maps, ())
    assert not np.allclose(pipeline.lift(blank, (WIDTH, HEIGHT))[2], relative)  # the maps are used


def test_lifter_flip_test_is_mirror_equivariant(pipeline: TopDownPipeline) -> None:
    rng = np.random.default_rng(5)
    crop_w, crop_h = pipeline.input_size
    image_points = rng.uniform(20, 200, (2, 17, 2))
    crop_points = rng.uniform(5, 180, (2, 17, 2))
    levels = zip((32, 64, 128, 256), (4, 8, 16, 32), strict=True)
    maps = tuple(torch.randn(2, c, crop_h // s, crop_w // s) for c, s in levels)
    flipped_maps = tuple(torch.randn_like(m) for m in maps)
    scores = np.ones((2, 17), np.float32)
    people = Keypoints2D(image_points, crop_points, scores, maps, flipped_maps)
    mirrored_image = flip_joints(image_points, COCO_17)
    mirrored_image[..., 0] += WIDTH  # x -> W - x: the screen normalisation's mirror
    mirrored = Keypoints2D(mirrored_image, flip_joints(crop_points, COCO_17, image_width=crop_w), scores,
                           flipped_maps, maps)
    pipeline.lifter_flip_test = True
    try:
        lifted = pipeline.lift(people, (WIDTH, HEIGHT))[2]
        lifted_mirrored = pipeline.lift(mirrored, (WIDTH, HEIGHT))[2]
    finally:
        pipeline.lifter_flip_test = False
    np.testing.assert_allclose(flip_joints(lifted_mirrored, H36M_17), lifted, atol=1e-5)


def test_missing_checkpoints_name_the_option(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"topdown\.pose_checkpoint"):
        create_pipeline("topdown", {})
    checkpoint = tmp_path / "pose_hrnet_w32_256x192.pth"
    torch.save(create_model("hrnet_w32_heatmap").state_dict(), checkpoint)
    with pytest.raises(ValueError, match=r"topdown\.lifter_checkpoint"):
        create_pipeline("topdown", {"pose_checkpoint": str(checkpoint)})
    with pytest.raises(ValueError, match=r"topdown\.pose_model"):
        create_pipeline("topdown", {"pose_model": "hrnet_w32_heatmap", "lifter": "capf_hrnet48",
                                    "allow_random_weights": True})


def test_protocol_option_is_checked_and_described(pipeline: TopDownPipeline) -> None:
    assert pipeline.describe()["protocol"] == "official"
    with pytest.raises(ValueError, match=r"topdown\.protocol"):
        create_pipeline("topdown", {"protocol": "dark", "allow_random_weights": True})


def test_official_protocol_runs_the_network_on_the_opencv_crops(pipeline: TopDownPipeline) -> None:
    frame = _frame(6, BOXES)
    people = pipeline.estimate_2d(frame.image, BOXES)
    peaks = {}
    for method in ("official", "float"):
        crops = crop_people(frame.image, BOXES, pipeline.input_size, method=method)
        heatmaps = pipeline.pose_backend(crops.images)[0]
        peaks[method] = heatmaps.flatten(2).amax(-1).numpy()
    np.testing.assert_array_equal(people.scores, peaks["official"])
    assert not np.array_equal(people.scores, peaks["float"])  # the uint8 crops differ from the float ones
    # image keypoints as the official float32 predictions, inside the crops' reach
    np.testing.assert_array_equal(people.image, people.image.astype(np.float32).astype(np.float64))
    regions = boxes_to_center_scale(BOXES, pipeline.input_size)
    assert np.all(np.abs(people.image - regions.center[:, None]) <= regions.scale[:, None] * 100.0 + 1.0)
