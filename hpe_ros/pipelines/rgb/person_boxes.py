"""Where the people of a frame are: person box sources for top-down pipelines, and stable track ids.

Every source answers one question, :meth:`BoxSource.boxes`: the (N, 5) boxes ``x_min, y_min,
x_max, y_max, score`` (image pixels) of the people in a frame. After the 2D stage a pipeline
tells the source what it found (:meth:`BoxSource.observe`), which is what lets
:class:`KeypointTrackedBoxes` follow people from frame to frame without running a detector.

* :class:`WholeImageBoxes`: one box covering the image (a single person filling the view).
* :class:`UpstreamBoxes`: the boxes an external detector sent with the image
  (:attr:`ImageFrame.boxes`), with a fallback source for frames that come without.
* :class:`BottomUpBoxes`: the people of a bottom-up estimator (SWAHR / HigherHRNet).
* :class:`BlazePoseBoxes`: the boxes of the people BlazePose finds.
* :class:`KeypointTrackedBoxes`: each person's previous-frame keypoints, boxed and enlarged;
  a detector source runs when nobody is tracked and every ``redetect_every`` frames.

Ids that hold over time come later, from :mod:`~hpe_ros.pipelines.tracking.tracker`.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Protocol

import numpy as np

from hpe_ros.core.boxes import as_boxes, box_iou, boxes_from_keypoints, clip_boxes, select_boxes
from hpe_ros.pipelines.base import ImageFrame

BOX_SOURCES = ("upstream", "whole_image", "bottom_up", "blazepose", "tracked")


# ---- box sources ----------------------------------------------------------------------------


class BoxSource(abc.ABC):
    """Person boxes of a frame (see the module docstring)."""

    name: str = ""

    @abc.abstractmethod
    def boxes(self, frame: ImageFrame) -> np.ndarray:
        """(N, 5) boxes ``x_min, y_min, x_max, y_max, score`` in image pixels."""

    def observe(self, keypoints: np.ndarray, scores: np.ndarray) -> None:  # noqa: B027 - optional hook
        """The people the pipeline found in the frame last passed to :meth:`boxes`:
        ``keypoints`` (N, J, 2) image pixels and ``scores`` (N, J)."""

    def describe(self) -> str:
        return self.name

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release models (sources that own one)."""


class WholeImageBoxes(BoxSource):
    """One box covering the whole image, score 1."""

    name = "whole_image"

    def boxes(self, frame: ImageFrame) -> np.ndarray:
        height, width = frame.image.shape[:2]
        return np.array([[0.0, 0.0, float(width), float(height), 1.0]])


class UpstreamBoxes(BoxSource):
    """The boxes that came with the frame (:attr:`ImageFrame.boxes`); ``fallback`` for frames without.

    A frame whose detector message said "nobody" (an empty array) has nobody; only a frame with
    no detector message at all (``boxes is None``) goes to the fallback (None: nobody).
    """

    name = "upstream"

    def __init__(self, fallback: BoxSource | None = None) -> None:
        self.fallback = fallback

    def boxes(self, frame: ImageFrame) -> np.ndarray:
        if frame.boxes is None:
            return self.fallback.boxes(frame) if self.fallback is not None else np.zeros((0, 5))
        height, width = frame.image.shape[:2]
        return clip_boxes(frame.boxes, width, height)

    def observe(self, keypoints: np.ndarray, scores: np.ndarray) -> None:
        if self.fallback is not None:
            self.fallback.observe(keypoints, scores)

    def describe(self) -> str:
        return f"upstream (fallback: {self.fallback.describe() if self.fallback else 'nobody'})"

    def close(self) -> None:
        if self.fallback is not None:
            self.fallback.close()


class _People(Protocol):
    """What a bottom-up estimator returns, as far as boxes go."""

    @property
    def boxes(self) -> np.ndarray: ...


class BottomUpBoxes(BoxSource):
    """Boxes of the people a bottom-up estimator finds (e.g.
    :class:`~hpe_ros.pipelines.rgb.bottom_up.BottomUpEstimator`).

    ``estimator(image)`` returns an object with ``boxes`` (P, 5); each box is enlarged by
    ``expand`` of its size on every side (bottom-up boxes span the joints only).
    """

    name = "bottom_up"

    def __init__(self, estimator: Callable[[np.ndarray], _People], expand: float = 0.1) -> None:
        self.estimator = estimator
        self.expand = expand

    def boxes(self, frame: ImageFrame) -> np.ndarray:
        found = as_boxes(self.estimator(frame.image).boxes)
        size = found[:, 2:4] - found[:, :2]
        found[:, :2] -= size * self.expand
        found[:, 2:4] += size * self.expand
        height, width = frame.image.shape[:2]
        return clip_boxes(found, width, height)


class BlazePoseBoxes(BoxSource):
    """Boxes around the people BlazePose finds; ``detector.detect(image)`` gives poses with ``box``."""

    name = "blazepose"

    def __init__(self, detector: object, expand: float = 0.1) -> None:
        self.detector = detector
        self.expand = expand

    def boxes(self, frame: ImageFrame) -> np.ndarray:
        poses = self.detector.detect(frame.image)  # type: ignore[attr-defined]
        found = as_boxes(np.stack([p.box for p in poses]) if poses else None)
        size = found[:, 2:4] - found[:, :2]
        found[:, :2] -= size * self.expand
        found[:, 2:4] += size * self.expand
        height, width = frame.image.shape[:2]
        return clip_boxes(found, width, height)

    def close(self) -> None:
        close = getattr(self.detector, "close", None)
        if close is not None:
            close()


class KeypointTrackedBoxes(BoxSource):
    """Boxes from the previous frame's keypoints, enlarged by ``expand``; ``detector`` to (re)acquire.

    The detector source runs on the first frame, whenever nobody is tracked, and every
    ``redetect_every`` frames (0: only when nobody is tracked). People whose keypoints are no
    longer confident (fewer than two joints scoring ``min_score``) are dropped.
    """

    name = "tracked"

    def __init__(self, detector: BoxSource, expand: float = 0.15, min_score: float = 0.3,
                 redetect_every: int = 0) -> None:
        self.detector = detector
        self.expand = expand
        self.min_score = min_score
        self.redetect_every = redetect_every
        self._tracked = np.zeros((0, 5))
        self._frames_since_detection = 0

    def boxes(self, frame: ImageFrame) -> np.ndarray:
        due = self.redetect_every > 0 and self._frames_since_detection >= self.redetect_every
        if len(self._tracked) == 0 or due:
            self._frames_since_detection = 1
            return self.detector.boxes(frame)
        self._frames_since_detection += 1
        height, width = frame.image.shape[:2]
        return clip_boxes(self._tracked, width, height)

    def observe(self, keypoints: np.ndarray, scores: np.ndarray) -> None:
        boxes = boxes_from_keypoints(keypoints, scores, self.min_score, self.expand)
        self._tracked = boxes[np.isfinite(boxes).all(axis=1)]
        self.detector.observe(keypoints, scores)

    def describe(self) -> str:
        return f"tracked from keypoints (detector: {self.detector.describe()})"

    def close(self) -> None:
        self.detector.close()


__all__ = [
    "BOX_SOURCES",
    "BlazePoseBoxes",
    "BottomUpBoxes",
    "BoxSource",
    "KeypointTrackedBoxes",
    "UpstreamBoxes",
    "WholeImageBoxes",
    "box_iou",
    "boxes_from_keypoints",
    "clip_boxes",
    "select_boxes",
]
