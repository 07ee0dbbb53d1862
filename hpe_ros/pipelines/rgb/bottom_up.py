"""Bottom-up multi-person 2D pose: HigherHRNet / SWAHR inference and associative-embedding grouping.

Steps, as in the HigherHRNet and SWAHR test code (``tools/dist_valid.py``, ``core/inference.py``,
``core/group.py``, ``utils/transforms.py`` of github:greatlog/SWAHR-HumanPose), re-implemented here:

1. Per test scale (``scale_factors``, largest first): resize the image, aspect kept, so its short
   side is ``input_size`` times the scale and the long side a multiple of 64, centred
   (:func:`compute_resize`; how the pixels are resampled is the protocol's,
   :mod:`~hpe_ros.pipelines.rgb.bottom_up_protocol`); ImageNet normalisation.
2. Run the network (and on the mirrored image for flip test). Drop SWAHR's scale maps, upsample
   every output to the highest resolution (bilinear), average the heatmaps over resolutions,
   keep the tags of resolutions trained with the AE loss; for the flipped pass mirror back and
   swap left/right channels with ``flip_index`` (:func:`aggregate_outputs`).
3. Project heatmaps and tags to the network-input size of scale 1, average plain and flipped
   heatmaps; sum the heatmaps over test scales and divide by their number; stack the tag maps
   of scale 1 (one tag vector of length 2 per pixel with flip).
4. Peaks, tag grouping, quarter-pixel adjustment, scores and refinement
   (:func:`~hpe_ros.pipelines.rgb.ae_grouping.parse_heatmaps`).
5. Map back to image pixels; a box per person around its confident joints.

``BottomUpConfig.protocol`` picks "official" (default: the official code's numbers, bit for bit)
or "float" (see :mod:`~hpe_ros.pipelines.rgb.bottom_up_protocol`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch.nn import functional

from hpe_ros.models.swahr import HigherHRNet
from hpe_ros.pipelines.rgb.ae_grouping import (
    COCO_GROUPING_ORDER,
    GroupingConfig,
    ParsedPeople,
    adjust_quarter_offsets,
    nms_heatmaps,
    parse_heatmaps,
)
from hpe_ros.pipelines.rgb.bottom_up_protocol import (
    PROTOCOLS,
    SOLVERS,
    official_center_scale,
    official_to_image,
    resize_official,
)

COCO_FLIP_INDEX: tuple[int, ...] = (0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15)
CROWDPOSE_FLIP_INDEX: tuple[int, ...] = (1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 12, 13)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class BottomUpConfig:
    """Inference settings; defaults are the SWAHR COCO W32 512 test configuration."""

    protocol: str = "official"  # "official" | "float" (bottom_up_protocol)
    input_size: int = 512
    flip_test: bool = True
    flip_index: tuple[int, ...] = COCO_FLIP_INDEX
    scale_factors: tuple[float, ...] = (1.0,)  # TEST.SCALE_FACTOR; multi-scale: (0.5, 1.0, 2.0)
    with_heatmaps: tuple[bool, ...] = (True, True)  # per network output resolution
    with_tags: tuple[bool, ...] = (True, False)
    project_to_input: bool = True
    grouping: GroupingConfig = field(default_factory=lambda: GroupingConfig(detection_threshold=0.12))
    box_score_threshold: float = 0.1  # joints above this score span a person's box
    box_padding: float = 0.0  # fraction of the box size added on each side


def official_test_config(
    dataset: str = "coco",
    width: int = 32,
    scale_factors: Sequence[float] = (1.0,),
    flip_test: bool = True,
    protocol: str = "official",
) -> BottomUpConfig:
    """Test settings of SWAHR's experiment files: COCO W32 512 / W48 640, CrowdPose W48 640.

    The published tables use one scale and flip; the README's multi-scale test is
    ``scale_factors=(0.5, 1.0, 2.0)``, no flip ``flip_test=False``.
    """
    input_size, threshold = (512, 0.12) if width == 32 else (640, 0.1)
    common = BottomUpConfig(protocol=protocol, input_size=input_size, flip_test=flip_test,
                            scale_factors=tuple(float(s) for s in scale_factors),
                            grouping=GroupingConfig(detection_threshold=threshold))
    if dataset == "coco":
        return common
    if dataset == "crowdpose":  # 14 joints, grouped in the first 14 entries of the COCO order
        grouping = replace(common.grouping, joint_order=COCO_GROUPING_ORDER[:14])
        return replace(common, flip_index=CROWDPOSE_FLIP_INDEX, grouping=grouping)
    raise ValueError(f"unknown dataset {dataset!r}; expected 'coco' or 'crowdpose'")


@dataclass(frozen=True)
class ResizeTransform:
    """Similarity transform image -> network input: ``input = scale * (image - center) + size / 2``."""

    center: tuple[float, float]  # image pixels
    scale: float  # input pixels per image pixel
    size: tuple[int, int]  # network input (width, height)
    # the official code's scale (200-pixel units) for mapping back: that of the smallest test scale
    official_scale: tuple[float, float] = (0.0, 0.0)

    def to_image(self, points: np.ndarray, grid_size: tuple[int, int] | None = None) -> np.ndarray:
        """Map (..., 2) points given on a ``grid_size`` (w, h) map covering the input back to the image."""
        width = self.size[0] if grid_size is None else grid_size[0]
        height = self.size[1] if grid_size is None else grid_size[1]
        factor = width / self.size[0]  # the official code scales both axes by the width ratio
        out = np.array(points, dtype=np.float64, copy=True)
        out[..., 0] = (out[..., 0] - width / 2) / (self.scale * factor) + self.center[0]
        out[..., 1] = (out[..., 1] - height / 2) / (self.scale * factor) + self.center[1]
        return out

    def to_image_official(self, points: np.ndarray, grid_size: tuple[int, int]) -> np.ndarray:
        """:meth:`to_image` as ``get_final_preds`` computes it: the official inverse matrix of the
        grid size, float32 results (returned as float64)."""
        center = np.array(self.center, np.float64)
        return official_to_image(points, center, np.array(self.official_scale), grid_size).astype(np.float64)


@dataclass
class BottomUpPoses:
    """People found in one image; coordinates in input-image pixels."""

    keypoints: np.ndarray  # (P, K, 3): x, y, score
    scores: np.ndarray  # (P,) mean joint heatmap value after grouping
    boxes: np.ndarray  # (P, 5): x_min, y_min, x_max, y_max, score

    def __len__(self) -> int:
        return len(self.scores)


def compute_resize(
    image_height: int, image_width: int, input_size: int, current_scale: float = 1.0, min_scale: float = 1.0
) -> ResizeTransform:
    """Resize keeping the aspect ratio: short side -> ``input_size`` (times the test scale),
    long side rounded up to a multiple of 64 (``get_multi_scale_size`` of the official code)."""
    min_input = int((min_scale * input_size + 63) // 64 * 64)
    if image_width < image_height:
        out_w = int(min_input * current_scale / min_scale)
        out_h = int(int((min_input / image_width * image_height + 63) // 64 * 64) * current_scale / min_scale)
        scale = out_w / image_width
    else:
        out_h = int(min_input * current_scale / min_scale)
        out_w = int(int((min_input / image_height * image_width + 63) // 64 * 64) * current_scale / min_scale)
        scale = out_h / image_height
    center, official_scale = official_center_scale(image_height, image_width, (out_w, out_h))
    return ResizeTransform((float(center[0]), float(center[1])), scale, (out_w, out_h),
                           (float(official_scale[0]), float(official_scale[1])))


def warp_image(
    image: np.ndarray, transform: ResizeTransform, device: str | torch.device = "cpu"
) -> torch.Tensor:
    """Bilinear resample of an (H, W, 3) uint8 RGB image to the network input, normalised (3, h, w),
    on ``device`` (the uint8 frame is uploaded, not the larger input).

    Pixels outside the image are black before normalisation (like ``cv2.warpAffine``'s default).
    """
    height, width = image.shape[:2]
    out_w, out_h = transform.size
    xs = torch.arange(out_w, dtype=torch.float64, device=device)
    ys = torch.arange(out_h, dtype=torch.float64, device=device)
    xs = (xs - out_w / 2) / transform.scale + transform.center[0]
    ys = (ys - out_h / 2) / transform.scale + transform.center[1]
    grid_x = (2 * xs / max(width - 1, 1) - 1).view(1, out_w).expand(out_h, out_w)
    grid_y = (2 * ys / max(height - 1, 1) - 1).view(out_h, 1).expand(out_h, out_w)
    grid = torch.stack((grid_x, grid_y), -1).float()[None]
    pixels = torch.from_numpy(np.ascontiguousarray(image)).to(device).permute(2, 0, 1)[None].float() / 255.0
    warped = functional.grid_sample(pixels, grid, mode="bilinear", padding_mode="zeros", align_corners=True)[
        0
    ]
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(3, 1, 1)
    return (warped - mean) / std


@dataclass
class AggregatedMaps:
    """Heatmaps and tag maps of one network pass (plain or flipped), at the highest resolution."""

    heatmaps: torch.Tensor  # (B, K, H, W) averaged over resolutions
    tags: list[torch.Tensor]  # each (B, K, H, W)


def aggregate_outputs(
    outputs: Sequence[torch.Tensor],
    num_joints: int,
    scale_aware: bool,
    with_heatmaps: Sequence[bool],
    with_tags: Sequence[bool],
    flip_index: Sequence[int] | None = None,
) -> AggregatedMaps:
    """Combine the per-resolution outputs of one pass; ``flip_index`` given = the pass saw a
    mirrored image, so maps are mirrored back and left/right joints swapped."""
    target = outputs[-1].shape[-2:]
    heatmap_sum: torch.Tensor | None = None
    count = 0
    tags: list[torch.Tensor] = []
    for i, output in enumerate(outputs):
        if scale_aware:
            output = output[:, num_joints:]  # SWAHR scale maps only matter for training
        if output.shape[-2:] != target:
            output = functional.interpolate(output, size=tuple(target), mode="bilinear", align_corners=False)
        if flip_index is not None:
            output = torch.flip(output, [3])
        if with_heatmaps[i]:
            heatmaps = output[:, :num_joints]
            if flip_index is not None:
                heatmaps = heatmaps[:, list(flip_index)]
            heatmap_sum = heatmaps if heatmap_sum is None else heatmap_sum + heatmaps
            count += 1
        if with_tags[i]:
            tag = output[:, num_joints:]
            if flip_index is not None and tag.shape[1] == num_joints:  # tag per joint
                tag = tag[:, list(flip_index)]
            tags.append(tag)
    if heatmap_sum is None:
        raise ValueError("with_heatmaps selects no output resolution")
    return AggregatedMaps(heatmap_sum / count, tags)


def boxes_from_keypoints(
    keypoints: np.ndarray, scores: np.ndarray, threshold: float, padding: float = 0.0
) -> np.ndarray:
    """(P, 5) boxes spanning each person's joints scoring above ``threshold`` (all joints if
    none does), enlarged by ``padding`` x size on each side; the 5th column is the person score."""
    if len(keypoints) == 0:
        return np.zeros((0, 5))
    confident = keypoints[:, :, 2] > threshold
    confident[~confident.any(axis=1)] = True
    xy = keypoints[:, :, :2]
    lo = np.where(confident[..., None], xy, np.inf).min(axis=1)
    hi = np.where(confident[..., None], xy, -np.inf).max(axis=1)
    margin = (hi - lo) * padding
    return np.concatenate((lo - margin, hi + margin, scores[:, None]), axis=1)


class BottomUpEstimator:
    """Multi-person 2D pose with a HigherHRNet / SWAHR network: image in, people out."""

    def __init__(
        self, model: HigherHRNet, config: BottomUpConfig | None = None, device: str | torch.device = "cpu"
    ):
        self.model = model.eval().to(device)
        self.config = config or BottomUpConfig()
        self.device = torch.device(device)
        if self.config.protocol not in PROTOCOLS:
            raise ValueError(f"bottom_up.protocol must be one of {PROTOCOLS}, got {self.config.protocol!r}")
        scales = self.config.scale_factors
        if not scales or (len(scales) > 1 and 1.0 not in scales):
            raise ValueError(f"several scale_factors must include 1.0 (its tags group people), got {scales}")
        num_outputs = model.config.num_deconvs + 1
        if len(self.config.with_heatmaps) != num_outputs or len(self.config.with_tags) != num_outputs:
            raise ValueError(f"with_heatmaps / with_tags need {num_outputs} entries for this network")
        if self.config.flip_test and len(self.config.flip_index) != model.config.num_joints:
            raise ValueError("flip_index length differs from the number of joints")

    @torch.no_grad()
    def predict_maps(self, image: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, ResizeTransform]:
        """Final heatmaps (K, H, W) and tag maps (K, H, W, L) on the input grid at scale 1, and
        the resize of scale 1 (with the official scale of the smallest test scale)."""
        cfg = self.config
        height, width = image.shape[:2]
        scales = sorted(cfg.scale_factors, reverse=True)
        base = compute_resize(height, width, cfg.input_size, 1.0, min(scales))
        heatmap_sum: torch.Tensor | None = None
        tag_maps: list[torch.Tensor] = []
        for scale in scales:
            transform = compute_resize(height, width, cfg.input_size, scale, min(scales))
            batch = self.resize(image, transform)[None].to(self.device)
            heatmaps, tags = self.network_maps(batch, (base.size[1], base.size[0]))
            if heatmap_sum is None:
                heatmap_sum = heatmaps
            else:
                heatmap_sum = heatmap_sum + self._resize(heatmaps, tuple(heatmap_sum.shape[-2:]))
            if scale == 1.0 or len(scales) == 1:
                tag_maps += [self._resize(t, tuple(heatmap_sum.shape[-2:])) for t in tags]
        assert heatmap_sum is not None
        if not tag_maps:
            raise ValueError("no tag maps: test scales must include 1.0 and with_tags one resolution")
        final = heatmap_sum / float(len(scales))
        smallest = compute_resize(height, width, cfg.input_size, scales[-1], scales[-1])
        base = replace(base, official_scale=smallest.official_scale)
        return final[0], torch.stack(tag_maps, dim=-1)[0], base

    def resize(self, image: np.ndarray, transform: ResizeTransform) -> torch.Tensor:
        """The normalised network input (3, h, w) of one test scale, as the protocol resamples it."""
        if self.config.protocol == "official":
            center = np.array(transform.center, np.float64)
            return resize_official(image, center, np.array(transform.official_scale), transform.size)
        return warp_image(image, transform, self.device)

    @torch.no_grad()
    def network_maps(
        self, batch: torch.Tensor, base_size: tuple[int, int]
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """One test scale: heatmaps averaged over resolutions and flip, and the tag maps
        (plain pass first, then flipped), resized to ``base_size`` (h, w) when projecting."""
        cfg = self.config
        passes = [self._aggregate(self.model(batch), None)]
        if cfg.flip_test:
            passes.append(self._aggregate(self.model(torch.flip(batch, [3])), cfg.flip_index))
        size = base_size if cfg.project_to_input else None
        resized = [self._resize(p.heatmaps, size) for p in passes]
        heatmaps = (resized[0] + resized[1]) / 2.0 if cfg.flip_test else resized[0]
        tags = [self._resize(t, size) for p in passes for t in p.tags]
        return heatmaps, tags

    def _aggregate(self, outputs: Sequence[torch.Tensor], flip_index: Sequence[int] | None) -> AggregatedMaps:
        cfg = self.model.config
        return aggregate_outputs(
            outputs,
            cfg.num_joints,
            cfg.scale_aware,
            self.config.with_heatmaps,
            self.config.with_tags,
            flip_index,
        )

    @staticmethod
    def _resize(maps: torch.Tensor, size: tuple[int, ...] | None) -> torch.Tensor:
        if size is None or tuple(maps.shape[-2:]) == tuple(size):
            return maps
        return functional.interpolate(maps, size=tuple(size), mode="bilinear", align_corners=False)

    def __call__(self, image: np.ndarray) -> BottomUpPoses:
        """``image``: (H, W, 3) uint8 RGB."""
        heatmaps, tags, transform = self.predict_maps(image)
        parsed = parse_heatmaps(heatmaps, tags, self.config.grouping, SOLVERS[self.config.protocol])
        grid = (heatmaps.shape[-1], heatmaps.shape[-2])
        keypoints = parsed.joints[:, :, :3].astype(np.float64)
        if self.config.protocol == "official":
            keypoints[:, :, :2] = transform.to_image_official(parsed.joints[:, :, :2], grid)
        else:
            keypoints[:, :, :2] = transform.to_image(keypoints[:, :, :2], grid)
        scores = parsed.scores.astype(np.float64)
        boxes = boxes_from_keypoints(
            keypoints, scores, self.config.box_score_threshold, self.config.box_padding
        )
        return BottomUpPoses(keypoints, scores, boxes)


__all__ = [
    "COCO_FLIP_INDEX",
    "COCO_GROUPING_ORDER",
    "CROWDPOSE_FLIP_INDEX",
    "AggregatedMaps",
    "BottomUpConfig",
    "BottomUpEstimator",
    "BottomUpPoses",
    "GroupingConfig",
    "ParsedPeople",
    "ResizeTransform",
    "adjust_quarter_offsets",
    "aggregate_outputs",
    "boxes_from_keypoints",
    "compute_resize",
    "nms_heatmaps",
    "official_test_config",
    "parse_heatmaps",
    "warp_image",
]
