"""Associative-embedding grouping of bottom-up heatmaps and tags into people.

The steps of HigherHRNet's / SWAHR's ``HeatmapParser`` (github:greatlog/SWAHR-HumanPose,
``lib/core/group.py``), re-implemented with its arithmetic (float32 tag means, float64 costs):

1. Peaks: max-pool NMS and the top ``max_num_people`` per joint (:func:`top_k_peaks`).
2. Grouping (:func:`group_by_tags`): joints in a fixed order; each joint's candidates above
   ``detection_threshold`` are assigned to the first ``max_num_people`` people found so far on
   ``round(tag distance) * 100 - heatmap value`` (dummy columns at 1e10 when there are more
   candidates than people); a pair at tag distance >= ``tag_threshold``, or a candidate left
   over, starts a new person. People are keyed by the first tag value of the joint that started
   them, as officially: a new person whose key equals an existing one's writes into that person.
3. Quarter-pixel adjustment towards the higher neighbour (:func:`adjust_quarter_offsets`), the
   person score (mean joint value, absent joints count 0), then refinement (:func:`refine_person`):
   each joint a person lacks is taken at the maximum of ``heatmap - round(tag distance to the
   person's mean tag)``.

The assignment solver is a parameter: ``"munkres"`` (the official one; it decides among the
many equal-cost assignments) or ``"scipy"`` (see :mod:`~hpe_ros.pipelines.rgb.bottom_up_protocol`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch.nn import functional

# order in which joints are grouped: head first, then shoulders, hips, arms, legs
COCO_GROUPING_ORDER: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 11, 12, 7, 8, 9, 10, 13, 14, 15, 16)
SOLVERS = ("munkres", "scipy")
DUMMY_COST = 1e10


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


@dataclass
class Peaks:
    """Top-k heatmap maxima per joint of one image."""

    tags: np.ndarray  # (K, M, L) float32
    locations: np.ndarray  # (K, M, 2) integer x, y on the heatmap grid
    values: np.ndarray  # (K, M) float32


@dataclass
class ParsedPeople:
    """Grouped people on the heatmap grid, before mapping to the image."""

    joints: np.ndarray  # (P, K, 3 + L) float32: x, y, value, tag (+0.5 centred after adjust)
    scores: np.ndarray  # (P,) float32


def assign(cost: np.ndarray, solver: str) -> list[tuple[int, int]]:
    """Minimum-cost (row, col) pairs of a cost matrix with rows <= cols, rows ascending."""
    if solver == "scipy":
        rows, cols = linear_sum_assignment(cost)
        return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True)]
    if solver != "munkres":
        raise ValueError(f"unknown assignment solver {solver!r}; expected one of {SOLVERS}")
    try:
        from munkres import Munkres
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError("the official grouping needs the munkres package (pip install munkres)") from error
    return [(int(r), int(c)) for r, c in Munkres().compute(np.array(cost, np.float64))]


def nms_heatmaps(heatmaps: torch.Tensor, kernel: int, padding: int) -> torch.Tensor:
    """Keep only values equal to their neighbourhood maximum (others set to 0)."""
    pooled = functional.max_pool2d(heatmaps, kernel, 1, padding)
    return heatmaps * (pooled == heatmaps).float()


def top_k_peaks(heatmaps: torch.Tensor, tags: torch.Tensor, config: GroupingConfig) -> Peaks:
    """The ``max_num_people`` highest NMS maxima of each joint of one image.

    ``heatmaps``: (K, H, W); ``tags``: (K or 1, H, W, L).
    """
    num_joints, height, width = heatmaps.shape
    suppressed = nms_heatmaps(heatmaps[None], config.nms_kernel, config.nms_padding)
    values, index = suppressed.reshape(1, num_joints, -1).topk(config.max_num_people, dim=2)
    values, index = values[0], index[0]
    flat_tags = tags.reshape(tags.shape[0], height * width, tags.shape[-1]).expand(num_joints, -1, -1)
    picked = torch.gather(flat_tags, 1, index[..., None].expand(-1, -1, tags.shape[-1]))
    locations = torch.stack((index % width, index // width), -1)
    return Peaks(picked.cpu().numpy(), locations.cpu().numpy(), values.cpu().numpy())


def group_by_tags(peaks: Peaks, config: GroupingConfig, solver: str = "munkres") -> np.ndarray:
    """Associative-embedding grouping of one image's peaks into people.

    Returns (P, K, 3 + L) float32: x, y, heatmap value, tag; people in order of creation,
    absent joints all zero.
    """
    num_joints, _, tag_dim = peaks.tags.shape
    empty = np.zeros((num_joints, 3 + tag_dim))
    people: dict[object, np.ndarray] = {}  # key: first tag value of the person's first joint
    person_tags: dict[object, list[np.ndarray]] = {}  # float32 tags of each person's joints
    for step, joint in enumerate(config.joint_order[:num_joints]):
        tags = peaks.tags[joint]
        candidates = np.concatenate((peaks.locations[joint], peaks.values[joint, :, None], tags), axis=1)
        keep = candidates[:, 2] > config.detection_threshold
        tags, candidates = tags[keep], candidates[keep]
        if len(candidates) == 0:
            continue
        if step == 0 or not people:
            for tag, candidate in zip(tags, candidates, strict=True):
                people.setdefault(tag[0], empty.copy())[joint] = candidate
                person_tags[tag[0]] = [tag]
            continue
        keys = list(people)[: config.max_num_people]
        if config.ignore_too_many and len(keys) == config.max_num_people:
            continue
        mean_tags = np.array([np.mean(person_tags[key], axis=0) for key in keys])
        distance = np.linalg.norm(candidates[:, None, 3:] - mean_tags[None], ord=2, axis=2)
        cost = distance.copy()
        if config.use_detection_value:
            cost = np.round(distance) * 100 - candidates[:, 2:3]
        if len(candidates) > len(keys):  # dummy people so that every candidate gets a column
            dummies = np.zeros((len(candidates), len(candidates) - len(keys))) + DUMMY_COST
            cost = np.concatenate((cost, dummies), axis=1)
        for row, col in assign(cost, solver):
            if col < len(keys) and distance[row, col] < config.tag_threshold:
                people[keys[col]][joint] = candidates[row]
                person_tags[keys[col]].append(tags[row])
            else:
                people.setdefault(tags[row][0], empty.copy())[joint] = candidates[row]
                person_tags[tags[row][0]] = [tags[row]]
    if not people:
        return np.zeros((0, num_joints, 3 + tag_dim), np.float32)
    return np.array(list(people.values())).astype(np.float32)


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
    """Fill the joints a person lacks (value exactly 0) with the best location near the person's
    mean tag. ``person``: (K, 3 + L) after :func:`adjust_quarter_offsets`; ``heatmaps``: (K, H, W);
    ``tags``: (K, H, W, L). Returns a copy."""
    out = person.copy()
    present = out[:, 2] > 0
    if not present.any():
        return out
    width = heatmaps.shape[2]
    joints = np.nonzero(present)[0]
    px = out[joints, 0].astype(np.int32)
    py = out[joints, 1].astype(np.int32)
    mean_tag = tags[joints, py, px].mean(axis=0)
    absent = np.nonzero(out[:, 2] == 0)[0]  # the official code scores every joint, keeps only these
    if len(absent) == 0:
        return out
    distance = ((tags[absent] - mean_tag) ** 2).sum(axis=3) ** 0.5  # (A, H, W)
    score = heatmaps[absent] - np.round(distance)
    best = score.reshape(len(absent), -1).argmax(axis=1)
    y, x = np.divmod(best, width)
    values = heatmaps[absent, y, x]
    dx, dy = _quarter_step(heatmaps, absent, x, y)
    fill = values > 0
    out[absent[fill], 0] = (x + 0.5 + dx)[fill]
    out[absent[fill], 1] = (y + 0.5 + dy)[fill]
    out[absent[fill], 2] = values[fill]
    return out


def parse_heatmaps(
    heatmaps: torch.Tensor, tags: torch.Tensor, config: GroupingConfig, solver: str = "munkres"
) -> ParsedPeople:
    """Peaks -> grouping -> adjust -> scores -> refine, for one image.

    ``heatmaps``: (K, H, W); ``tags``: (K or 1, H, W, L).
    """
    people = group_by_tags(top_k_peaks(heatmaps, tags, config), config, solver)
    heatmaps_np = heatmaps.detach().cpu().numpy()
    if config.adjust:
        people = adjust_quarter_offsets(people, heatmaps_np)
    scores = np.array([person[:, 2].mean() for person in people], np.float32)
    if config.refine and len(people):
        tags_np = tags.detach().cpu().numpy()
        if tags_np.shape[0] != heatmaps_np.shape[0]:
            tags_np = np.broadcast_to(tags_np, (heatmaps_np.shape[0], *tags_np.shape[1:]))
        people = np.stack([refine_person(p, heatmaps_np, tags_np) for p in people])
    return ParsedPeople(people, scores)


__all__ = [
    "COCO_GROUPING_ORDER",
    "SOLVERS",
    "GroupingConfig",
    "ParsedPeople",
    "Peaks",
    "adjust_quarter_offsets",
    "assign",
    "group_by_tags",
    "nms_heatmaps",
    "parse_heatmaps",
    "refine_person",
    "top_k_peaks",
]
