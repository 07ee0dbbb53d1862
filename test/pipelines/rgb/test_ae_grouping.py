"""Associative-embedding grouping: the solvers, the official people keys, refinement, scores."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from hpe_ros.pipelines.rgb import ae_grouping as ag

pytest.importorskip("munkres")


def _peaks(
    locations: list[list[tuple[int, int]]], values: list[list[float]], tags: list[list[float]]
) -> ag.Peaks:
    """Peaks of K joints with M candidates each (1-d tags)."""
    return ag.Peaks(
        np.array(tags, np.float32)[..., None],
        np.array(locations, np.int64),
        np.array(values, np.float32),
    )


def _total(cost: np.ndarray, pairs: list[tuple[int, int]]) -> float:
    return float(sum(cost[r, c] for r, c in pairs))


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 6),
    st.integers(0, 5),
    st.integers(0, 2**32 - 1),
    st.booleans(),
)
def test_both_solvers_find_a_minimum_cost_assignment(rows: int, extra: int, seed: int, integer: bool) -> None:
    rng = np.random.default_rng(seed)
    shape = (rows, rows + extra)
    cost = rng.integers(0, 3, shape).astype(float) if integer else rng.random(shape)
    best_rows, best_cols = linear_sum_assignment(cost)
    optimum = float(cost[best_rows, best_cols].sum())
    for solver in ag.SOLVERS:
        pairs = ag.assign(cost, solver)
        assert [r for r, _ in pairs] == list(range(rows))  # every row once, ascending
        assert len({c for _, c in pairs}) == rows
        assert _total(cost, pairs) == pytest.approx(optimum, abs=1e-9)


def test_munkres_stars_the_first_zero_of_each_row_among_equal_costs() -> None:
    # all assignments cost the same: Munkres stars zeros row by row, left to right, so row i keeps
    # column i; this choice is what the official grouping's people depend on
    cost = np.full((4, 6), 7.0)
    assert ag.assign(cost, "munkres") == [(0, 0), (1, 1), (2, 2), (3, 3)]
    with pytest.raises(ValueError, match="solver"):
        ag.assign(cost, "greedy")


def test_equal_cost_candidates_go_to_people_in_the_order_munkres_picks() -> None:
    # two people (joint 0, tags 0.0 and 0.4); joint 1's candidates (tags 0.3, 0.1) are within a rounded
    # distance 0 of both, so both assignments cost the same: Munkres keeps row i -> person i
    config = ag.GroupingConfig(detection_threshold=0.1, joint_order=(0, 1), adjust=False, refine=False)
    peaks = _peaks([[(1, 1), (9, 1)], [(2, 5), (8, 5)]], [[0.9, 0.8], [0.7, 0.6]], [[0.0, 0.4], [0.3, 0.1]])
    people = ag.group_by_tags(peaks, config, "munkres")
    assert len(people) == 2
    np.testing.assert_array_equal(people[:, 1, :2], [[2, 5], [8, 5]])
    # SciPy finds an assignment of the same cost; which one is its own business
    scipy_people = ag.group_by_tags(peaks, config, "scipy")
    assert sorted(map(tuple, scipy_people[:, 1, :2].tolist())) == [(2.0, 5.0), (8.0, 5.0)]


def test_people_are_keyed_by_their_first_tag_value_as_officially() -> None:
    # two head candidates with the same tag value start "one" person: the second writes over the first
    config = ag.GroupingConfig(detection_threshold=0.1, joint_order=(0, 1), adjust=False, refine=False)
    peaks = _peaks([[(1, 1), (9, 1)], [(0, 0), (0, 0)]], [[0.9, 0.8], [0.0, 0.0]], [[2.0, 2.0], [0.0, 0.0]])
    people = ag.group_by_tags(peaks, config)
    assert len(people) == 1
    np.testing.assert_array_equal(people[0, 0, :3], [9, 1, np.float32(0.8)])


def test_a_far_tag_or_a_left_over_candidate_starts_a_new_person() -> None:
    config = ag.GroupingConfig(detection_threshold=0.1, joint_order=(0, 1), adjust=False, refine=False)
    # joint 1: one candidate near person 0's tag, one 5 away, one more than there are people
    peaks = _peaks(
        [[(1, 1), (0, 0), (0, 0)], [(2, 2), (6, 6), (7, 7)]],
        [[0.9, 0.0, 0.0], [0.8, 0.7, 0.6]],
        [[0.0, 0.0, 0.0], [0.2, 5.0, 0.1]],
    )
    people = ag.group_by_tags(peaks, config)
    assert len(people) == 3
    np.testing.assert_array_equal(people[0, :, :2], [[1, 1], [2, 2]])
    assert people[1, 0, 2] == 0 and people[2, 0, 2] == 0  # the new people have joint 1 only
    assert {tuple(people[1, 1, :2]), tuple(people[2, 1, :2])} == {(6.0, 6.0), (7.0, 7.0)}


def test_refine_fills_only_absent_joints_and_scores_count_absent_as_zero() -> None:
    heatmaps = np.zeros((2, 8, 8), np.float32)
    heatmaps[0, 2, 2] = 0.9
    heatmaps[1, 5, 6] = 0.05  # below the detection threshold: only refinement finds it
    heatmaps[1, 5, 5] = 0.02  # left neighbour higher than the right one (0): x - 0.25
    tags = np.zeros((2, 8, 8, 1), np.float32)
    tags[1] = 3.0  # far from the person's tag, except at the weak peak
    tags[1, 5, 6] = 0.2
    config = ag.GroupingConfig(detection_threshold=0.1, joint_order=(0, 1))
    parsed = ag.parse_heatmaps(torch.from_numpy(heatmaps), torch.from_numpy(tags), config)
    assert len(parsed.joints) == 1
    np.testing.assert_allclose(parsed.scores, [0.9 / 2], rtol=1e-6)  # mean over both joints, before refining
    np.testing.assert_allclose(parsed.joints[0, 1, :3], [6 + 0.5 - 0.25, 5 + 0.5 - 0.25, 0.05], rtol=1e-6)
    assert parsed.joints[0, 1, 3] == 0  # refinement leaves the tag column alone


def test_no_candidate_above_the_threshold_gives_no_people() -> None:
    config = ag.GroupingConfig(detection_threshold=0.5, max_num_people=3)
    parsed = ag.parse_heatmaps(torch.full((17, 8, 8), 0.1), torch.zeros(17, 8, 8, 2), config)
    assert parsed.joints.shape == (0, 17, 5) and parsed.scores.shape == (0,)
