"""The benchmark's inputs: a crowd of the requested size, boxed; event windows with events."""

from __future__ import annotations

import numpy as np
import pytest

from hpe_ros.evaluation.bench.scenes import MAX_PEOPLE, SENSOR_SIZE, crowd_frame, crowd_image, event_windows


@pytest.mark.parametrize("people", [1, 5, 10, MAX_PEOPLE])
def test_each_person_fills_their_box_and_nothing_else_is_drawn(people: int) -> None:
    image, boxes = crowd_image(people)
    assert boxes.shape == (people, 5)
    background = np.ones(image.shape[:2], bool)
    np.testing.assert_allclose(boxes[:, 4], 0.9)
    for x0, y0, x1, y1 in boxes[:, :4].astype(int):
        assert 0 <= x0 < x1 < image.shape[1] and 0 <= y0 < y1 < image.shape[0]
        background[y0 : y1 + 1, x0 : x1 + 1] = False
    assert background.sum() == image.shape[0] * image.shape[1] - people * (boxes[0, 2] - boxes[0, 0] + 1) ** 2
    assert (image[background] == (40, 40, 48)).all()
    frame = crowd_frame(people)
    assert frame.camera is not None and frame.camera.width == image.shape[1]


def test_crowd_sizes_outside_the_grid_are_refused() -> None:
    for people in (0, MAX_PEOPLE + 1):
        with pytest.raises(ValueError, match="people"):
            crowd_image(people)


def test_event_windows_cover_the_sensor_with_events() -> None:
    scene = event_windows(3)
    assert len(scene.windows) == 3 and scene.events_per_window > 1000
    stamps = [w.stamp_ns for w in scene.windows]
    assert stamps == sorted(stamps) and (np.diff(stamps) == 50_000_000).all()
    assert all((w.width, w.height) == SENSOR_SIZE for w in scene.windows)
