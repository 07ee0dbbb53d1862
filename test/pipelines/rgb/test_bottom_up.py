"""Bottom-up inference: grouping on synthetic maps, flip aggregation, image mapping, end to end."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hpe_ros.models.swahr import HigherHRNet, HigherHRNetConfig
from hpe_ros.pipelines.rgb import bottom_up as bu

K = 17


def _people_maps(people: list[dict], height: int = 64, width: int = 56, tag_dim: int = 1, seed: int = 0):
    """Heatmaps with one Gaussian per (person, joint) at sub-pixel centres, tags constant per person
    around the peaks and random elsewhere."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    heatmaps = np.zeros((K, height, width), np.float32)
    tags = rng.normal(0, 5, (K, height, width, tag_dim)).astype(np.float32)
    for person in people:
        for joint, (x, y) in person["joints"].items():
            blob = np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 1.5**2)) * person["value"]
            blob[blob < 1e-3 * person["value"]] = 0.0  # background exactly 0: refinement adds nothing there
            heatmaps[joint] = np.maximum(heatmaps[joint], blob)
            near = blob > 0
            tags[joint][near] = person["tag"] + rng.normal(0, 0.05, (near.sum(), tag_dim))
    return torch.from_numpy(heatmaps), torch.from_numpy(tags)


def _person(
    rng: np.random.Generator, origin: tuple[float, float], tag: float, missing: tuple[int, ...] = ()
) -> dict:
    joints = {
        k: (origin[0] + rng.uniform(0, 14) + 0.3, origin[1] + rng.uniform(0, 22) + 0.3)
        for k in range(K)
        if k not in missing
    }
    joints = {k: (float(np.floor(x)) + 0.3, float(np.floor(y)) + 0.3) for k, (x, y) in joints.items()}
    return {"joints": joints, "tag": tag, "value": 0.9}


@pytest.mark.parametrize("tag_dim", [1, 2])
def test_grouping_recovers_three_people_exactly(tag_dim: int) -> None:
    rng = np.random.default_rng(3)
    people = [
        _person(rng, (2, 2), -3.0),
        _person(rng, (20, 30), 0.0, missing=(3, 4)),
        _person(rng, (38, 6), 3.0, missing=(15,)),
    ]
    heatmaps, tags = _people_maps(people, tag_dim=tag_dim)
    parsed = bu.parse_heatmaps(heatmaps, tags, bu.GroupingConfig(detection_threshold=0.1))
    assert len(parsed.joints) == 3
    found_tags = parsed.joints[:, :, 3:].sum(axis=1)[:, 0] / np.maximum(
        (parsed.joints[:, :, 2] > 0).sum(axis=1), 1
    )
    order = np.argsort(found_tags)  # people sorted by tag: -3, 0, 3
    for person, found in zip(people, parsed.joints[order], strict=True):
        present = sorted(person["joints"])
        assert sorted(np.nonzero(found[:, 2] > 0)[0].tolist()) == present  # missing joints stay missing
        truth = np.array([person["joints"][k] for k in present])
        # peak at integer i + 0.3 -> i + 0.5 (pixel centre) + 0.25 (towards the higher neighbour)
        np.testing.assert_allclose(found[present, :2], truth + 0.45, atol=1e-6)
        assert np.all(found[present, 2] > 0.8)
    peak = 0.9 * np.exp(-(0.3**2 + 0.3**2) / (2 * 1.5**2))  # Gaussian sampled 0.3 px off its centre
    np.testing.assert_allclose(parsed.scores[order], [peak * len(p["joints"]) / K for p in people], rtol=1e-5)


def test_tag_threshold_splits_people_with_distant_tags() -> None:
    rng = np.random.default_rng(4)
    person = _person(rng, (10, 10), 0.0)
    heatmaps, tags = _people_maps([person])
    # move the tags of the arm joints (7-10) far away: they must form other people
    for joint in (7, 8, 9, 10):
        tags[joint] += 10.0
    parsed = bu.parse_heatmaps(heatmaps, tags, bu.GroupingConfig(detection_threshold=0.1, refine=False))
    assert len(parsed.joints) == 2
    assert sorted(np.nonzero(parsed.joints[1, :, 2])[0].tolist()) == [7, 8, 9, 10]


def test_refine_fills_a_joint_below_the_detection_threshold() -> None:
    rng = np.random.default_rng(5)
    person = _person(rng, (10, 10), 1.0)
    weak = _person(rng, (10, 10), 1.0)
    weak["joints"] = {16: person["joints"][16]}
    weak["value"] = 0.05
    del person["joints"][16]
    heatmaps, tags = _people_maps([person, weak])
    config = bu.GroupingConfig(detection_threshold=0.1)
    unrefined = bu.parse_heatmaps(heatmaps, tags, bu.GroupingConfig(detection_threshold=0.1, refine=False))
    refined = bu.parse_heatmaps(heatmaps, tags, config)
    assert unrefined.joints[0, 16, 2] == 0
    np.testing.assert_allclose(refined.joints[0, 16, :2], np.array(weak["joints"][16]) + 0.45, atol=1e-6)
    assert 0.04 < refined.joints[0, 16, 2] < 0.06


def test_quarter_offsets_follow_the_higher_neighbour() -> None:
    heatmaps = np.zeros((1, 5, 5), np.float32)
    heatmaps[0, 2, 2] = 1.0
    heatmaps[0, 2, 1] = 0.5  # left higher than right -> x - 0.25
    heatmaps[0, 3, 2] = 0.5  # below higher than above -> y + 0.25
    people = np.array([[[2, 2, 1.0, 0.0]]])
    adjusted = bu.adjust_quarter_offsets(people, heatmaps)
    np.testing.assert_allclose(adjusted[0, 0, :2], [2.25, 2.75])
    np.testing.assert_allclose(people[0, 0, :2], [2, 2])  # input untouched


def test_nms_keeps_only_local_maxima() -> None:
    heatmaps = torch.zeros(1, 1, 9, 9)
    heatmaps[0, 0, 4, 4] = 1.0
    heatmaps[0, 0, 4, 5] = 0.9
    heatmaps[0, 0, 0, 8] = 0.3
    kept = bu.nms_heatmaps(heatmaps, 5, 2)
    assert torch.nonzero(kept[0, 0]).tolist() == [[0, 8], [4, 4]]


def test_flip_aggregation_mirrors_back_and_swaps_sides() -> None:
    torch.manual_seed(0)
    flip_index = list(bu.COCO_FLIP_INDEX)
    plain = [torch.randn(1, 3 * K, 8, 6), torch.randn(1, 2 * K, 16, 12)]  # SWAHR layout

    # what the network would give for the mirrored image if it were perfectly equivariant
    def mirror(out: torch.Tensor) -> torch.Tensor:
        blocks = out.split(K, dim=1)
        return torch.cat([torch.flip(b[:, flip_index], [3]) for b in blocks], dim=1)

    flipped = [mirror(o) for o in plain]
    a = bu.aggregate_outputs(plain, K, True, (True, True), (True, False))
    b = bu.aggregate_outputs(flipped, K, True, (True, True), (True, False), flip_index)
    torch.testing.assert_close(a.heatmaps, b.heatmaps)
    assert len(a.tags) == len(b.tags) == 1
    torch.testing.assert_close(a.tags[0], b.tags[0])
    upsampled = torch.nn.functional.interpolate(
        plain[0][:, K : 2 * K], size=(16, 12), mode="bilinear", align_corners=False
    )
    torch.testing.assert_close(a.heatmaps, (upsampled + plain[1][:, K:]) / 2)


@pytest.mark.parametrize("height, width", [(480, 640), (640, 427), (300, 300)])
def test_resize_and_mapping_back(height: int, width: int) -> None:
    transform = bu.compute_resize(height, width, 512)
    assert min(transform.size) == 512 and all(s % 64 == 0 for s in transform.size)
    image = np.zeros((height, width, 3), np.uint8)
    x, y = width // 3, height // 4
    image[y, x] = 255
    warped = bu.warp_image(image, transform)
    brightest = np.unravel_index(int(warped[0].argmax()), warped.shape[1:])
    predicted = (np.array([x, y]) - transform.center) * transform.scale + np.array(transform.size) / 2
    assert np.abs(np.array(brightest[::-1]) - predicted).max() <= 1.0
    back = transform.to_image(np.array([[brightest[1], brightest[0]]], float))
    assert np.abs(back[0] - [x, y]).max() <= 1.0 / transform.scale + 1e-6
    # a half-resolution grid maps to the same place
    half = transform.to_image(
        np.array([[brightest[1] / 2, brightest[0] / 2]]), (transform.size[0] // 2, transform.size[1] // 2)
    )
    np.testing.assert_allclose(half, back, atol=1e-9)


def test_estimator_end_to_end_on_a_tiny_network() -> None:
    torch.manual_seed(0)
    config = HigherHRNetConfig(width=8, blocks=1, stage_modules=(1, 1, 1), stem_blocks=1, num_basic_blocks=1)
    estimator = bu.BottomUpEstimator(
        HigherHRNet(config),
        bu.BottomUpConfig(
            input_size=64, grouping=bu.GroupingConfig(detection_threshold=-1.0, max_num_people=4)
        ),
    )
    image = np.random.default_rng(0).integers(0, 255, (100, 150, 3), dtype=np.uint8)
    poses = estimator(image)
    assert len(poses) >= 1
    assert poses.keypoints.shape == (len(poses), K, 3) and poses.boxes.shape == (len(poses), 5)
    xy = poses.keypoints[..., :2]
    confident = poses.keypoints[..., 2] > estimator.config.box_score_threshold
    for p in range(len(poses)):
        pts = xy[p][confident[p]] if confident[p].any() else xy[p]
        assert np.all(pts >= poses.boxes[p, :2] - 1e-9) and np.all(pts <= poses.boxes[p, 2:4] + 1e-9)
    heatmaps, tags, transform = estimator.predict_maps(image)
    # keypoints lie inside the region the network input covers (the image plus centred padding)
    half_extent = np.array(transform.size) / 2 / transform.scale
    assert np.all(np.abs(xy - np.array(transform.center)) <= half_extent + 1e-6)
    assert heatmaps.shape == (K, 64, 128) and tags.shape == (K, 64, 128, 2)  # 150 px -> 96 -> 128
