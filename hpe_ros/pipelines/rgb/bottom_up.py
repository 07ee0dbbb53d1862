"""Bottom-up multi-person 2D pose: HigherHRNet / SWAHR inference and associative-embedding grouping.

Steps, as in the HigherHRNet and SWAHR test code (``core/inference.py``, ``core/group.py``,
``utils/transforms.py`` of github:greatlog/SWAHR-HumanPose), re-implemented here:

1. Resize the image, aspect kept, so its short side is ``input_size`` and the long side a multiple
   of 64, centred (:func:`compute_resize`, :func:`warp_image`); ImageNet normalisation.
2. Run the network (and on the mirrored image for flip test). Drop SWAHR's scale maps, upsample
   every output to the highest resolution (bilinear), average the heatmaps over resolutions,
   keep the tags of resolutions trained with the AE loss; for the flipped pass mirror back and
   swap left/right channels with ``flip_index`` (:func:`aggregate_outputs`).
3. Project heatmaps and tags to the network-input size, average plain and flipped heatmaps and
   stack the tag maps (one tag vector of length 2 per pixel with flip).
4. Peaks: max-pool NMS and the top ``max_num_people`` per joint (:func:`top_k_peaks`).
5. Grouping (:func:`group_by_tags`): joints in a fixed order; each joint's candidates are
   assigned to the people found so far with the Hungarian algorithm on
   ``round(tag distance) * 100 - heatmap value``; distances >= ``tag_threshold`` start a new person.
6. Quarter-pixel adjustment towards the higher neighbour (:func:`adjust_quarter_offsets`),
   person score = mean joint value, then refinement (:func:`refine_person`): joints a person
   lacks are taken at the maximum of ``heatmap - round(tag distance to the person's mean tag)``.
7. Map back to image pixels; a box per person around its confident joints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch.nn import functional

from hpe_ros.models.swahr import HigherHRNet

COCO_FLIP_INDEX: tuple[int, ...] = (0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15)
CROWDPOSE_FLIP_INDEX: tuple[int, ...] = (1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 12, 13)
# order in which joints are grouped: head first, then shoulders, hips, arms, legs
COCO_GROUPING_ORDER: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 11, 12, 7, 8, 9, 10, 13, 14, 15, 16)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class GroupingConfig:
    """Parameters of peak extraction and tag grouping (``TEST.*`` of the official configs)."""

    max_num_people: int = 30
    detection_threshold: float = 0.1  # 0.12 for the W32 COCO config, 0.1 for W48
    tag_threshold: float = 1.0
    use_detection_value: bool = True
    ignore_too_many: bool = False
    nms_kernel: int = 5
    nms_padding: int = 2
    joint_order: tuple[int, ...] = COCO_GROUPING_ORDER
    adjust: bool = True
    refine: bool = True


@dataclass(frozen=True)
class BottomUpConfig:
    """Inference settings; defaults are the SWAHR COCO W32 512 test configuration."""

    input_size: int = 512
    flip_test: bool = True
    flip_index: tuple[int, ...] = COCO_FLIP_INDEX
    scale_factors: tuple[float, ...] = (1.0,)
    with_heatmaps: tuple[bool, ...] = (True, True)  # per network output resolution
    with_tags: tuple[bool, ...] = (True, False)
    project_to_input: bool = True
    grouping: GroupingConfig = field(default_factory=lambda: GroupingConfig(detection_threshold=0.12))
    box_score_threshold: float = 0.1  # joints above this score span a person's box
    box_padding: float = 0.0  # fraction of the box size added on each side


def official_test_config(dataset: str = "coco", width: int = 32) -> BottomUpConfig:
    """Test settings of SWAHR's experiment files: COCO W32 512 / W48 640, CrowdPose W48 640."""
    input_size, threshold = (512, 0.12) if width == 32 else (640, 0.1)
    if dataset == "coco":
        return BottomUpConfig(input_size=input_size, grouping=GroupingConfig(detection_threshold=threshold))
    if dataset == "crowdpose":  # 14 joints, grouped in the first 14 entries of the COCO order
        grouping = GroupingConfig(detection_threshold=threshold, joint_order=COCO_GROUPING_ORDER[:14])
        return BottomUpConfig(input_size=input_size, flip_index=CROWDPOSE_FLIP_INDEX, grouping=grouping)
    raise ValueError(f"unknown dataset {dataset!r}; expected 'coco' or 'crowdpose'")


@dataclass(frozen=True)
class ResizeTransform:
    """Similarity transform image -> network input: ``input = scale * (image - center) + size / 2``."""

    center: tuple[float, float]  # image pixels
    scale: float  # input pixels per image pixel
    size: tuple[int, int]  # network input (width, height)

    def to_image(self, points: np.ndarray, grid_size: tuple[int, int] | None = None) -> np.ndarray:
        """Map (..., 2) points given on a ``grid_size`` (w, h) map covering the input back to the image."""
        width = self.size[0] if grid_size is None else grid_size[0]
        height = self.size[1] if grid_size is None else grid_size[1]
        factor = width / self.size[0]  # the official code scales both axes by the width ratio
        out = np.array(points, dtype=np.float64, copy=True)
        out[..., 0] = (out[..., 0] - width / 2) / (self.scale * factor) + self.center[0]
        out[..., 1] = (out[..., 1] - height / 2) / (self.scale * factor) + self.center[1]
        return out


@dataclass
class BottomUpPoses:
    """People found in one image; coordinates in input-image pixels."""

    keypoints: np.ndarray  # (P, K, 3): x, y, score
    scores: np.ndarray  # (P,) mean joint heatmap value after grouping
    boxes: np.ndarray  # (P, 5): x_min, y_min, x_max, y_max, score

    def __len__(self) -> int:
        return len(self.scores)


@dataclass
class Peaks:
    """Top-k heatmap maxima per joint of one image."""

    tags: np.ndarray  # (K, M, L)
    locations: np.ndarray  # (K, M, 2) integer x, y on the heatmap grid
    values: np.ndarray  # (K, M)


def compute_resize(
    image_height: int, image_width: int, input_size: int, current_scale: float = 1.0, min_scale: float = 1.0
) -> ResizeTransform:
    """Resize keeping the aspect ratio: short side -> ``input_size`` (times the test scale),
    long side rounded up to a multiple of 64 (``get_multi_scale_size`` of the official code)."""
    min_input = int((min_scale * input_size + 63) // 64 * 64)
    ratio = current_scale / min_scale
    if image_width < image_height:
        out_w = int(min_input * ratio)
        out_h = int(int((min_input / image_width * image_height + 63) // 64 * 64) * ratio)
        scale = out_w / image_width
    else:
        out_h = int(min_input * ratio)
        out_w = int(int((min_input / image_height * image_width + 63) // 64 * 64) * ratio)
        scale = out_h / image_height
    center = (float(int(image_width / 2.0 + 0.5)), float(int(image_height / 2.0 + 0.5)))
    return ResizeTransform(center, scale, (out_w, out_h))


def warp_image(image: np.ndarray, transform: ResizeTransform) -> torch.Tensor:
    """Bilinear resample of an (H, W, 3) uint8 RGB image to the network input, normalised (3, h, w).

    Pixels outside the image are black before normalisation (like ``cv2.warpAffine``'s default).
    """
    height, width = image.shape[:2]
    out_w, out_h = transform.size
    xs = (torch.arange(out_w, dtype=torch.float64) - out_w / 2) / transform.scale + transform.center[0]
    ys = (torch.arange(out_h, dtype=torch.float64) - out_h / 2) / transform.scale + transform.center[1]
    grid_x = (2 * xs / max(width - 1, 1) - 1).view(1, out_w).expand(out_h, out_w)
    grid_y = (2 * ys / max(height - 1, 1) - 1).view(out_h, 1).expand(out_h, out_w)
    grid = torch.stack((grid_x, grid_y), -1).float()[None]
    pixels = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 255.0
    warped = functional.grid_sample(pixels, grid, mode="bilinear", padding_mode="zeros", align_corners=True)[
        0
    ]
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
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


def nms_heatmaps(heatmaps: torch.Tensor, kernel: int, padding: int) -> torch.Tensor:
    """Keep only values equal to their neighbourhood maximum (others set to 0)."""
    pooled = functional.max_pool2d(heatmaps, kernel, 1, padding)
    return heatmaps * (pooled == heatmaps).float()


def top_k_peaks(heatmaps: torch.Tensor, tags: torch.Tensor, config: GroupingConfig) -> Peaks:
    """The ``max_num_people`` highest NMS maxima of each joint of one image.

    ``heatmaps``: (K, H, W); ``tags``: (K or 1, H, W, L).
    """
    num_joints, height, width = heatmaps.shape
    suppressed = nms_heatmaps(heatmaps[None], config.nms_kernel, config.nms_padding)[0]
    values, index = suppressed.reshape(num_joints, -1).topk(config.max_num_people, dim=1)
    flat_tags = tags.reshape(tags.shape[0], height * width, tags.shape[-1]).expand(num_joints, -1, -1)
    picked = torch.gather(flat_tags, 1, index[..., None].expand(-1, -1, tags.shape[-1]))
    locations = torch.stack((index % width, index // width), -1)
    return Peaks(picked.cpu().numpy(), locations.cpu().numpy(), values.cpu().numpy())


def group_by_tags(peaks: Peaks, config: GroupingConfig) -> np.ndarray:
    """Associative-embedding grouping of one image's peaks into people.

    Returns (P, K, 3 + L) float32: x, y, heatmap value, tag; people in order of creation,
    absent joints all zero.
    """
    num_joints, _, tag_dim = peaks.tags.shape
    people: list[np.ndarray] = []  # (K, 3 + L) each
    person_tags: list[list[np.ndarray]] = []  # tags of each person's joints so far
    for step, joint in enumerate(config.joint_order[:num_joints]):  # as the official Params
        candidates = np.concatenate(
            (peaks.locations[joint], peaks.values[joint, :, None], peaks.tags[joint]), axis=1
        )
        candidates = candidates[candidates[:, 2] > config.detection_threshold]
        if len(candidates) == 0:
            continue
        if step == 0 or not people:
            for candidate in candidates:
                _start_person(people, person_tags, num_joints, joint, candidate, tag_dim)
            continue
        num_grouped = min(len(people), config.max_num_people)
        if config.ignore_too_many and num_grouped == config.max_num_people:
            continue
        mean_tags = np.stack([np.mean(t, axis=0) for t in person_tags[:num_grouped]])
        distance = np.linalg.norm(candidates[:, None, 3:] - mean_tags[None], axis=2)
        cost = (
            np.round(distance) * 100 - candidates[:, 2:3] if config.use_detection_value else distance.copy()
        )
        num_added = len(candidates)
        if num_added > num_grouped:  # dummy people so that every candidate gets a column
            cost = np.concatenate((cost, np.full((num_added, num_added - num_grouped), 1e10)), axis=1)
        rows, cols = linear_sum_assignment(cost)
        for row, col in zip(rows, cols, strict=True):
            candidate = candidates[row]
            if col < num_grouped and distance[row, col] < config.tag_threshold:
                people[col][joint] = candidate
                person_tags[col].append(candidate[3:])
            else:
                _start_person(people, person_tags, num_joints, joint, candidate, tag_dim)
    if not people:
        return np.zeros((0, num_joints, 3 + tag_dim), np.float32)
    return np.stack(people).astype(np.float32)


def _start_person(
    people: list[np.ndarray],
    person_tags: list[list[np.ndarray]],
    num_joints: int,
    joint: int,
    candidate: np.ndarray,
    tag_dim: int,
) -> None:
    person = np.zeros((num_joints, 3 + tag_dim))
    person[joint] = candidate
    people.append(person)
    person_tags.append([candidate[3:]])


def _quarter_step(
    heatmaps: np.ndarray, joint: np.ndarray, x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """+-0.25 towards the higher horizontal / vertical neighbour (ties step down)."""
    height, width = heatmaps.shape[1:]
    right = heatmaps[joint, y, np.minimum(x + 1, width - 1)]
    left = heatmaps[joint, y, np.maximum(x - 1, 0)]
    down = heatmaps[joint, np.minimum(y + 1, height - 1), x]
    up = heatmaps[joint, np.maximum(y - 1, 0), x]
    return np.where(right > left, 0.25, -0.25), np.where(down > up, 0.25, -0.25)


def adjust_quarter_offsets(people: np.ndarray, heatmaps: np.ndarray) -> np.ndarray:
    """Move each detected joint to its pixel centre (+0.5) plus a quarter pixel towards the
    higher neighbour. ``people``: (P, K, 3 + L); ``heatmaps``: (K, H, W). Returns a copy."""
    out = people.copy()
    person, joint = np.nonzero(out[:, :, 2] > 0)
    if len(person) == 0:
        return out
    x = out[person, joint, 0].astype(np.int64)
    y = out[person, joint, 1].astype(np.int64)
    dx, dy = _quarter_step(heatmaps, joint, x, y)
    out[person, joint, 0] = x + 0.5 + dx
    out[person, joint, 1] = y + 0.5 + dy
    return out


def refine_person(person: np.ndarray, heatmaps: np.ndarray, tags: np.ndarray) -> np.ndarray:
    """Fill the joints a person lacks with the best location near the person's mean tag.

    ``person``: (K, 3 + L) after :func:`adjust_quarter_offsets`; ``heatmaps``: (K, H, W);
    ``tags``: (K, H, W, L). Returns a copy.
    """
    out = person.copy()
    present = out[:, 2] > 0
    if not present.any():
        return out
    num_joints, height, width = heatmaps.shape
    joints = np.nonzero(present)[0]
    px = out[joints, 0].astype(np.int64)
    py = out[joints, 1].astype(np.int64)
    mean_tag = tags[joints, py, px].mean(axis=0)
    distance = np.sqrt(((tags - mean_tag) ** 2).sum(axis=3))  # (K, H, W)
    score = heatmaps - np.round(distance)
    best = score.reshape(num_joints, -1).argmax(axis=1)
    y, x = np.divmod(best, width)
    all_joints = np.arange(num_joints)
    values = heatmaps[all_joints, y, x]
    dx, dy = _quarter_step(heatmaps, all_joints, x, y)
    fill = (values > 0) & ~present
    out[fill, 0] = (x + 0.5 + dx)[fill]
    out[fill, 1] = (y + 0.5 + dy)[fill]
    out[fill, 2] = values[fill]
    return out


@dataclass
class ParsedPeople:
    """Grouped people on the heatmap grid, before mapping to the image."""

    joints: np.ndarray  # (P, K, 3 + L): x, y, value, tag (grid pixels, +0.5 centred after adjust)
    scores: np.ndarray  # (P,)


def parse_heatmaps(heatmaps: torch.Tensor, tags: torch.Tensor, config: GroupingConfig) -> ParsedPeople:
    """Peaks -> grouping -> adjust -> scores -> refine, for one image.

    ``heatmaps``: (K, H, W); ``tags``: (K or 1, H, W, L).
    """
    people = group_by_tags(top_k_peaks(heatmaps, tags, config), config)
    heatmaps_np = heatmaps.detach().cpu().numpy()
    if config.adjust:
        people = adjust_quarter_offsets(people, heatmaps_np)
    scores = people[:, :, 2].mean(axis=1) if len(people) else np.zeros(0, np.float32)
    if config.refine and len(people):
        tags_np = tags.detach().cpu().numpy()
        if tags_np.shape[0] != heatmaps_np.shape[0]:
            tags_np = np.broadcast_to(tags_np, (heatmaps_np.shape[0], *tags_np.shape[1:]))
        people = np.stack([refine_person(p, heatmaps_np, tags_np) for p in people])
    return ParsedPeople(people, scores)


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
        num_outputs = model.config.num_deconvs + 1
        if len(self.config.with_heatmaps) != num_outputs or len(self.config.with_tags) != num_outputs:
            raise ValueError(f"with_heatmaps / with_tags need {num_outputs} entries for this network")
        if self.config.flip_test and len(self.config.flip_index) != model.config.num_joints:
            raise ValueError("flip_index length differs from the number of joints")

    @torch.no_grad()
    def predict_maps(self, image: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, ResizeTransform]:
        """Final heatmaps (K, H, W) and tag maps (K, H, W, L) on the input grid at scale 1."""
        cfg = self.config
        height, width = image.shape[:2]
        scales = sorted(cfg.scale_factors, reverse=True)
        base = compute_resize(height, width, cfg.input_size, 1.0, min(scales))
        heatmap_sum: torch.Tensor | None = None
        tag_maps: list[torch.Tensor] = []
        for scale in scales:
            transform = compute_resize(height, width, cfg.input_size, scale, min(scales))
            batch = warp_image(image, transform)[None].to(self.device)
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
        final = heatmap_sum / len(scales)
        return final[0], torch.stack(tag_maps, dim=-1)[0], base

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
        heatmaps = torch.stack([self._resize(p.heatmaps, size) for p in passes]).mean(0)
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
        parsed = parse_heatmaps(heatmaps, tags, self.config.grouping)
        grid = (heatmaps.shape[-1], heatmaps.shape[-2])
        keypoints = parsed.joints[:, :, :3].astype(np.float64)
        keypoints[:, :, :2] = transform.to_image(keypoints[:, :, :2], grid)
        scores = parsed.scores.astype(np.float64)
        boxes = boxes_from_keypoints(
            keypoints, scores, self.config.box_score_threshold, self.config.box_padding
        )
        return BottomUpPoses(keypoints, scores, boxes)
