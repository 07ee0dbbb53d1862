"""Inputs of the benchmark: crowds in RGB images, and event windows of a DAVIS-sized sensor.

The RGB crowd is scikit-image's astronaut (NASA, public domain; the one photo of a person that
ships with a package we install) repeated on a grid, one copy per person, with a box around
each for pipelines that take upstream boxes. The events are simulated from a textured block
moving over the sensor, so every window has events wherever the pipeline looks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hpe_ros.core.camera import CameraModel
from hpe_ros.pipelines.base import EventWindow, ImageFrame
from hpe_ros.pipelines.events.representations import EventWindower
from hpe_ros.pipelines.events.simulator import EventSimulatorConfig, simulate_events

IMAGE_SIZE = (1280, 720)  # (width, height) of every crowd image
CELL_PX = 240  # side of one person's square on the grid
COLUMNS, ROWS = IMAGE_SIZE[0] // CELL_PX, IMAGE_SIZE[1] // CELL_PX
MAX_PEOPLE = COLUMNS * ROWS
SENSOR_SIZE = (346, 260)  # (width, height), DAVIS346
WINDOW_MS = 50.0
_FRAME_STEP_NS = 5_000_000  # the simulated video runs at 200 frames/s


def bench_camera(width: int, height: int, horizontal_fov_deg: float = 60.0) -> CameraModel:
    focal = (width / 2) / math.tan(math.radians(horizontal_fov_deg) / 2)
    return CameraModel.from_intrinsics(focal, focal, (width - 1) / 2, (height - 1) / 2, width, height,
                                       frame_id="camera_optical_frame")


def _person_picture() -> np.ndarray:
    from PIL import Image
    from skimage import data

    picture = Image.fromarray(data.astronaut()).resize((CELL_PX, CELL_PX), Image.Resampling.BILINEAR)
    return np.asarray(picture)


def crowd_image(people: int) -> tuple[np.ndarray, np.ndarray]:
    """A (720, 1280, 3) RGB image of ``people`` (1 to :data:`MAX_PEOPLE`) on a grid, with their (N, 5)
    boxes (x_min, y_min, x_max, y_max, score); rows are filled left to right, centred."""
    if not 1 <= people <= MAX_PEOPLE:
        raise ValueError(f"a crowd image holds 1 to {MAX_PEOPLE} people, got {people}")
    width, height = IMAGE_SIZE
    image = np.full((height, width, 3), (40, 40, 48), np.uint8)
    person = _person_picture()
    rows = math.ceil(people / COLUMNS)
    boxes = []
    for index in range(people):
        row, column = divmod(index, COLUMNS)
        in_row = min(COLUMNS, people - row * COLUMNS)
        left = (width - in_row * CELL_PX) // 2 + column * CELL_PX
        top = (height - rows * CELL_PX) // 2 + row * CELL_PX
        image[top : top + CELL_PX, left : left + CELL_PX] = person
        boxes.append((left, top, left + CELL_PX - 1, top + CELL_PX - 1, 0.9))
    return image, np.array(boxes, np.float32)


def crowd_frame(people: int, stamp_ns: int = 0) -> ImageFrame:
    """:func:`crowd_image` as a pipeline input, with its boxes and a 60 degree pinhole camera."""
    image, boxes = crowd_image(people)
    camera = bench_camera(image.shape[1], image.shape[0])
    return ImageFrame(image, stamp_ns, camera.frame_id, camera, boxes=boxes)


def moving_block_frames(count: int, width: int = SENSOR_SIZE[0], height: int = SENSOR_SIZE[1]) -> np.ndarray:
    """(count, H, W) uint8 gray frames of a textured block sliding right, 2 pixels a frame."""
    ys, xs = np.mgrid[0:height, 0:width]
    texture = 180 + 60 * np.sin(ys / 4.0) * np.cos(xs / 5.0)
    frames = np.empty((count, height, width), np.uint8)
    for index in range(count):
        left = 40 + (2 * index) % max(width - 120, 1)
        inside = (xs >= left) & (xs < left + 80) & (ys >= height // 4) & (ys < height - height // 4)
        frames[index] = np.where(inside, texture, 40).astype(np.uint8)
    return frames


def frame_stamps(count: int) -> np.ndarray:
    return np.arange(count, dtype=np.int64) * _FRAME_STEP_NS


@dataclass(frozen=True)
class EventScene:
    windows: list[EventWindow]
    events_per_window: float


def event_windows(count: int) -> EventScene:
    """``count`` windows of :data:`WINDOW_MS` of the moving block on a DAVIS346-sized sensor."""
    frames_per_window = round(WINDOW_MS * 1e6 / _FRAME_STEP_NS)
    frames = moving_block_frames((count + 1) * frames_per_window + 2)
    events = simulate_events(frames, frame_stamps(len(frames)), EventSimulatorConfig(noise_rate_hz=2.0))
    width, height = SENSOR_SIZE
    camera = bench_camera(width, height)
    windower = EventWindower(width, height, duration_ns=int(WINDOW_MS * 1e6), frame_id="event_camera",
                             camera=camera)
    windows = windower.add(events)[:count]
    if len(windows) < count:
        raise RuntimeError(f"simulated {len(windows)} event windows, wanted {count}")
    return EventScene(windows, float(np.mean([w.events.size for w in windows])))
