"""Placement from an aligned depth image, on depth rendered from skeletons with a camera's holes and noise."""

from __future__ import annotations

import numpy as np
import pytest

from hpe_ros.core.joints import H36M_17
from hpe_ros.pipelines.output.depth_placement import TORSO_JOINTS, place_with_depth, sample_torso_depth
from hpe_ros.pipelines.output.people import DEPTH_ROOT_CONFIDENCE, place_people
from hpe_ros.pipelines.output.placement import place_skeletons
from hpe_ros.simulation.depth import DepthNoise, render_depth
from hpe_ros.simulation.people import default_camera, walking_skeleton


@pytest.fixture(scope="module")
def scene():
    """Two walkers at 3 m and 5.5 m, their exact 2D, and a noisy depth image of both."""
    camera = default_camera(640, 480)
    near = walking_skeleton(12, distance_m=3.0)[3]
    far = walking_skeleton(12, distance_m=5.5)[8] + np.array([0.9, 0.0, 0.0])
    people = np.stack([near, far])
    rng = np.random.default_rng(0)
    depth = DepthNoise().apply(render_depth(people, camera, rng), rng)
    keypoints = camera.project(people)
    scores = np.ones(keypoints.shape[:2])
    return camera, people, keypoints, scores, depth


def test_rendered_depth_sees_the_front_of_the_bodies(scene):
    camera, people, keypoints, scores, depth = scene
    assert depth.shape == (480, 640) and depth.dtype == np.float32
    assert 0.01 < np.isnan(depth).mean() < 0.5  # holes, edges and dropouts, but mostly valid
    sampled = sample_torso_depth(depth, keypoints, scores, (640, 480))
    in_front = people[:, TORSO_JOINTS, 2] - sampled  # the walkers are side on, their left towards the camera
    hips_and_shoulders = [TORSO_JOINTS.index(H36M_17.index(name)) for name in ("left_hip", "left_shoulder")]
    np.testing.assert_allclose(in_front[:, hips_and_shoulders], 0.085, atol=0.04)


def test_depth_fixes_the_distance_a_wrong_skeleton_size_gives(scene):
    camera, people, keypoints, scores, depth = scene
    relative = 0.88 * (people - people[:, :1])  # a lifter that thinks these people are 12 % smaller
    prior = place_skeletons(keypoints, relative, camera, scores)
    measured = place_with_depth(keypoints, scores, relative, camera, depth)
    assert measured.placed.all() and (measured.samples >= 3).all()
    prior_error = np.linalg.norm(prior.translation - people[:, 0], axis=-1)
    depth_error = np.linalg.norm(measured.translation - people[:, 0], axis=-1)
    assert (prior_error > 0.3).all()  # ~12 % of the distance
    assert (depth_error < 0.08).all()
    np.testing.assert_allclose(measured.scale, 1 / 0.88, rtol=0.05)  # and the size is corrected
    joint_error = np.linalg.norm(measured.joints_camera - people, axis=-1)
    assert np.median(joint_error) < 0.08


def test_occluders_and_missing_depth_fall_back_per_person(scene):
    camera, people, keypoints, scores, depth = scene
    relative = people - people[:, :1]
    occluded = depth.copy()
    occluded[depth < 4.0] = np.nan  # no depth on the near person (dark clothes absorb the projector's light)
    hand = keypoints[1, H36M_17.index("left_hip")].astype(int)
    occluded[hand[1] - 6 : hand[1] + 7, hand[0] - 6 : hand[0] + 7] = 1.0  # something held in front of the hip
    measured = place_with_depth(keypoints, scores, relative, camera, occluded)
    assert not measured.placed[0] and measured.placed[1]
    assert np.linalg.norm(measured.translation[1] - people[1, 0]) < 0.1

    board = occluded.copy()
    box = np.concatenate([keypoints[1].min(axis=0), keypoints[1].max(axis=0)]).astype(int)
    board[box[1] : box[3], box[0] : box[2]] = 1.5  # a board hides the whole far person
    prior = place_skeletons(keypoints, relative, camera, scores).translation[:, 2]
    assert place_with_depth(keypoints, scores, relative, camera, board).placed[1]  # fooled without the prior
    assert not place_with_depth(keypoints, scores, relative, camera, board, prior).placed[1]

    timings: dict[str, float] = {}
    boxes = np.zeros((2, 5))
    placed = place_people(keypoints, scores, relative, boxes, camera, timings, depth=occluded)
    assert all(p.metric for p in placed)
    assert placed[1].root_confidence == DEPTH_ROOT_CONFIDENCE != placed[0].root_confidence
    np.testing.assert_allclose(
        placed[0].joints_3d[0], people[0, 0], atol=0.05
    )  # the true size: prior is exact


def test_unconfident_or_outside_joints_are_not_sampled(scene):
    camera, _, keypoints, scores, depth = scene
    low = scores.copy()
    low[0] = 0.0
    outside = keypoints.copy()
    outside[1] += 5000.0
    assert np.isnan(sample_torso_depth(depth, keypoints, low, (640, 480))[0]).all()
    assert np.isnan(sample_torso_depth(depth, outside, scores, (640, 480))[1]).all()


def test_depth_at_another_resolution_is_sampled_at_the_scaled_pixels(scene):
    camera, people, keypoints, scores, depth = scene
    half = depth[::2, ::2]
    np.testing.assert_allclose(
        sample_torso_depth(half, keypoints, scores, (640, 480)),
        sample_torso_depth(depth, keypoints, scores, (640, 480)),
        atol=0.1,
    )
