"""The tracker alone: ids through reordering, misses, occlusions, exits; tentative and ended tracks."""

from __future__ import annotations

import numpy as np
import pytest

from hpe_ros.pipelines.tracking.tracker import Detection, LinearMotion, PeopleTracker, TrackerConfig

FPS = 30.0


def _boxes(*corners: tuple[float, float, float, float]) -> Detection:
    return Detection(np.array(corners, dtype=float).reshape(-1, 4), image_size=(640, 480))


def test_ids_follow_people_who_move_and_are_listed_in_another_order() -> None:
    tracker = PeopleTracker(TrackerConfig(min_hits=1))
    first = tracker.update(_boxes((100, 100, 150, 300), (300, 100, 350, 300)), 0.0)
    assert first.ids == ["p1", "p2"]
    moved = tracker.update(_boxes((305, 100, 355, 300), (105, 100, 155, 300)), 1 / FPS)
    assert moved.ids == ["p2", "p1"]
    third = tracker.update(_boxes((110, 100, 160, 300), (500, 150, 540, 300)), 2 / FPS)
    assert third.ids == ["p1", "p3"] and third.active == ["p1", "p2", "p3"]  # p2 unseen, still alive


def test_tracks_are_confirmed_after_min_hits_and_a_one_frame_false_person_gets_no_id() -> None:
    tracker = PeopleTracker(TrackerConfig(min_hits=3))
    person = (200, 100, 260, 300)
    assert tracker.update(_boxes(person, (500, 50, 520, 90)), 0.0).ids == ["", ""]
    assert tracker.update(_boxes(person), 1 / FPS).ids == [""]
    assert tracker.update(_boxes(person), 2 / FPS).ids == ["p1"]  # the false one is gone: no id spent on it
    assert tracker.update(_boxes(person, (500, 50, 520, 90)), 3 / FPS).ids == ["p1", ""]


def test_an_id_survives_max_lost_s_unseen_and_then_ends() -> None:
    tracker = PeopleTracker(TrackerConfig(min_hits=1, max_lost_s=0.5))
    person = (200, 100, 260, 300)
    tracker.update(_boxes(person), 0.0)
    assert tracker.update(_boxes(), 0.4).ended == []
    assert tracker.update(_boxes(person), 0.45).ids == ["p1"]  # back within the time
    gone = tracker.update(_boxes(), 1.0)
    assert gone.ended == ["p1"] and gone.active == []
    assert tracker.update(_boxes(person), 1.05).ids == ["p2"]  # ids are never reused


def test_a_person_walking_behind_an_occluder_keeps_their_id_from_their_motion() -> None:
    """Walks right at 60 px/s and is hidden for 1 s; meanwhile a newcomer appears far away."""
    tracker = PeopleTracker(TrackerConfig(min_hits=1))
    for t in np.arange(0, 1.0, 1 / FPS):
        x = 100 + 60 * t
        tracker.update(_boxes((x, 100, x + 50, 300)), float(t))
    for t in np.arange(1.0, 2.0, 1 / FPS):
        assert tracker.update(_boxes((450, 100, 500, 300)), float(t)).ids == ["p2"]
    x = 100 + 60 * 2.0  # where they come out: the box they were last seen in is 60 px to the left
    assert tracker.update(_boxes((450, 100, 500, 300), (x, 100, x + 50, 300)), 2.0).ids == ["p2", "p1"]


def test_people_who_leave_the_image_and_come_back_where_they_left_keep_their_id() -> None:
    tracker = PeopleTracker(TrackerConfig(min_hits=1))
    for t in np.arange(0, 0.5, 1 / FPS):
        x = 560 + 150 * t  # walking out on the right
        tracker.update(_boxes((x, 100, min(x + 60, 640), 300)), float(t))
    assert tracker.update(_boxes(), 1.0).ended == []
    assert tracker.update(_boxes((600, 100, 640, 300)), 2.0).ids == ["p1"]  # back after 1.5 s


def test_metric_roots_tell_apart_people_whose_boxes_overlap() -> None:
    """Two people one behind the other: same box, different pelvis height and depth."""
    tracker = PeopleTracker(TrackerConfig(min_hits=1))
    box = (200, 100, 260, 300)
    near, far = np.array([0.0, 0.45, 3.0]), np.array([0.05, 0.15, 4.5])
    detection = Detection(np.array([box, box], float), roots=np.stack([near, far]), image_size=(640, 480))
    assert tracker.update(detection, 0.0).ids == ["p1", "p2"]
    swapped = Detection(np.array([box, box], float), roots=np.stack([far, near]), image_size=(640, 480))
    assert tracker.update(swapped, 1 / FPS).ids == ["p2", "p1"]


def test_roots_of_people_cut_by_the_image_edge_are_not_trusted() -> None:
    tracker = PeopleTracker(TrackerConfig(min_hits=1))
    inside = Detection(
        np.array([[560, 100, 620, 300]], float), roots=np.array([[1.5, 0.3, 4.0]]), image_size=(640, 480)
    )
    tracker.update(inside, 0.0)
    # one frame later they reach the edge: the lifter sees part of a body and places them 2 m too far
    cut = Detection(
        np.array([[575, 100, 640, 300]], float), roots=np.array([[2.3, 0.9, 6.0]]), image_size=(640, 480)
    )
    assert tracker.update(cut, 1 / FPS).ids == ["p1"]
    uncut = Detection(cut.boxes, roots=cut.roots)  # without the image size the root is believed
    fresh = PeopleTracker(TrackerConfig(min_hits=1))
    fresh.update(Detection(inside.boxes, roots=inside.roots), 0.0)
    assert fresh.update(uncut, 1 / FPS).ids == ["p2"]


def _rooted(box: tuple[float, float, float, float], *roots: np.ndarray) -> Detection:
    """People in the same box (the roots decide) with these metric roots."""
    return Detection(np.array([box] * len(roots), float), roots=np.array(roots), image_size=(640, 480))


def test_a_monocular_depth_error_along_the_camera_ray_is_tolerated_and_a_step_across_it_is_not() -> None:
    """Off the optical axis a wrong depth moves the root sideways too (along the ray): a person
    placed 25 % too far keeps their id; a root as far away across the ray is someone else."""
    box = (500, 100, 560, 300)
    root = np.array([2.0, 0.2, 3.0])
    tracker = PeopleTracker(TrackerConfig(min_hits=1))
    tracker.update(_rooted(box, root), 0.0)
    assert tracker.update(_rooted(box, 1.25 * root), 1 / FPS).ids == ["p1"]
    across = np.cross(root, [0.0, 1.0, 0.0])
    across *= 0.25 * np.linalg.norm(root) / np.linalg.norm(across)  # as far, at right angles to the ray
    other = PeopleTracker(TrackerConfig(min_hits=1))
    other.update(_rooted(box, root), 0.0)
    assert other.update(_rooted(box, root + across), 1 / FPS).ids == ["p2"]


def test_a_root_from_before_the_edge_of_the_image_cut_the_person_is_forgotten() -> None:
    """Seen whole, then cut by the bottom edge for a second (their root untrusted) while they walk
    away: when they are whole again, their new root is not compared with the old one."""
    tracker = PeopleTracker(TrackerConfig(min_hits=1))
    whole, cut = (200, 100, 260, 460), (200, 100, 260, 479)
    tracker.update(_rooted(whole, np.array([0.0, 0.3, 3.0])), 0.0)
    for t in np.arange(1, 31) / FPS:
        assert tracker.update(_rooted(cut, np.array([0.0, 0.3, 3.0 + t])), float(t)).ids == ["p1"]
    assert tracker.update(_rooted(whole, np.array([0.0, 0.3, 4.8])), 31 / FPS).ids == ["p1"]


def test_a_person_reappearing_between_two_lost_tracks_goes_to_the_one_lost_last() -> None:
    """Two people standing side by side, one hidden for 1.5 s, the other for 0.2 s: the gate of
    the first has grown more, which makes its prediction less likely, not a better match."""
    tracker = PeopleTracker(TrackerConfig(min_hits=1))
    left, right = np.array([0.0, 0.3, 4.0]), np.array([0.06, 0.3, 4.0])
    left_box, right_box, middle_box = (300, 100, 360, 300), (310, 100, 370, 300), (305, 100, 365, 300)
    boxes = np.array([left_box, right_box], float)
    both = Detection(boxes, roots=np.stack([left, right]), image_size=(640, 480))
    for t in np.arange(0, 31) / FPS:
        assert tracker.update(both, float(t)).ids == ["p1", "p2"]
    for t in np.arange(31, 70) / FPS:  # the left one is hidden from 1 s, the right one seen until 2.3 s
        assert tracker.update(_rooted(right_box, right), float(t)).ids == ["p2"]
    assert tracker.update(_boxes(), 2.4).active == ["p1", "p2"]  # both lost now
    assert tracker.update(_rooted(middle_box, 0.5 * (left + right)), 2.5).ids == ["p2"]


def test_linear_motion_fits_a_line_through_noise_and_holds_components_it_must_not_extrapolate() -> None:
    rng = np.random.default_rng(0)
    motion = LinearMotion(window_s=0.5, moving=np.array([True, False]))
    for t in np.arange(0, 0.5, 1 / FPS):
        motion.add(float(t), np.array([2.0 * t, 1.0]) + rng.normal(0, 0.01, 2))
    predicted = motion.predict(1.0)
    assert predicted[0] == pytest.approx(2.0 * (0.5 - 1 / FPS) + 2.0, abs=0.1)
    assert predicted[1] == pytest.approx(1.0, abs=0.02)


def test_detections_without_boxes_or_roots_are_matched_on_what_they_have() -> None:
    tracker = PeopleTracker(TrackerConfig(min_hits=1))
    unknown_box = np.full((1, 4), np.nan)
    first = tracker.update(Detection(unknown_box, roots=np.array([[0.0, 0.3, 3.0]])), 0.0)
    second = tracker.update(Detection(unknown_box, roots=np.array([[0.02, 0.3, 3.05]])), 0.1)
    assert first.ids == second.ids == ["p1"]
    nothing = tracker.update(Detection(unknown_box), 0.2)  # neither box nor root: a new person
    assert nothing.ids == ["p2"]


def test_time_going_back_ends_every_track_and_new_ids_follow() -> None:
    tracker = PeopleTracker(TrackerConfig(min_hits=1))
    person = (200, 100, 260, 300)
    for t in (10.0, 10.1, 10.2):
        assert tracker.update(_boxes(person), t).ids == ["p1"]
    replayed = tracker.update(_boxes(person), 0.0)  # the bag starts again
    assert replayed.ended == ["p1"] and replayed.ids == ["p2"] and replayed.active == ["p2"]
