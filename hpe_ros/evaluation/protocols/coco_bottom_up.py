"""``coco_bottom_up``: the SWAHR / HigherHRNet COCO val2017 test of the official code.

Every image of the annotation file, decoded as the official loader does (``cv2.imread`` with
``IMREAD_COLOR | IMREAD_IGNORE_ORIENTATION``, BGR -> RGB), through the bottom-up estimator's
``"official"`` protocol (:mod:`~hpe_ros.pipelines.rgb.bottom_up_protocol`: resize per test scale,
flip, aggregation, Munkres grouping, adjust, refine, the official back-projection) with the
experiment file's test settings (:func:`~hpe_ros.pipelines.rgb.bottom_up.official_test_config`);
each person is a result with its joints' heatmap values as keypoint scores and the grouping's mean
as its score, no rescoring and no NMS (as ``tools/dist_valid.py``), scored by ``pycocotools``'
COCOeval with its default keypoint parameters.

Settings (``--set``): ``bottom_up_model`` (default ``swahr_w32``; ``swahr_w48``, ``higher_hrnet_w32``,
``higher_hrnet_w48``: W32 tests at 512, W48 at 640), ``scale_factors`` (``1``; the README's
multi-scale test ``0.5,1,2``), ``flip_test`` (true), ``bottom_up_protocol`` (``official``).
"""

from __future__ import annotations

import json

import numpy as np

from hpe_ros.evaluation.protocols import (
    EvalInputs,
    ProtocolResult,
    Published,
    Row,
    Table,
    declare_input,
    register_protocol,
)
from hpe_ros.evaluation.protocols.coco_topdown import COCO_ANNOTATIONS, COCO_IMAGES, COLUMNS, coco_stats

BOTTOM_UP_CHECKPOINT = declare_input(
    "bottom_up_checkpoint", "the authors' SWAHR / HigherHRNet COCO checkpoint (pose_higher_hrnet_w32_512.pth)"
)
SINGLE = "COCO val2017, single-scale test, flip"
MULTI = "COCO val2017, multi-scale test (0.5, 1, 2), flip"
_README = "SWAHR README (COCO val2017)"
_NAMES = ("AP", "AP50", "AP75", "APM", "APL")


def _published(table: str, label: str, values: tuple[float, ...], checkpoint: str) -> Published:
    return Published(table, label, dict(zip(_NAMES, values, strict=True)), _README, checkpoint=checkpoint)


PUBLISHED = (
    _published(SINGLE, "HigherHRNet W32 512", (67.1, 86.2, 73.0, 61.5, 76.1), "HigherHRNet W32 512"),
    _published(SINGLE, "HigherHRNet + SWAHR W32 512", (68.9, 87.8, 74.9, 63.0, 77.4), "SWAHR W32 512"),
    _published(SINGLE, "HigherHRNet W48 640", (69.9, 87.2, 76.1, 65.4, 76.4), "HigherHRNet W48 640"),
    _published(SINGLE, "HigherHRNet + SWAHR W48 640", (70.8, 88.5, 76.8, 66.3, 77.4), "SWAHR W48 640"),
    _published(MULTI, "HigherHRNet W32 512", (69.9, 87.1, 76.0, 65.3, 77.0), "HigherHRNet W32 512"),
    _published(MULTI, "HigherHRNet + SWAHR W32 512", (71.4, 88.9, 77.8, 66.3, 78.9), "SWAHR W32 512"),
    _published(MULTI, "HigherHRNet W48 640", (72.1, 88.4, 78.2, 67.8, 78.3), "HigherHRNet W48 640"),
    _published(MULTI, "HigherHRNet + SWAHR W48 640", (73.2, 89.8, 79.1, 69.1, 79.3), "SWAHR W48 640"),
)
MODELS = ("swahr_w32", "swahr_w48", "higher_hrnet_w32", "higher_hrnet_w48")


def read_image_official(path: str) -> np.ndarray:
    """(H, W, 3) uint8 RGB as the official COCO loader decodes it (OpenCV, EXIF orientation ignored)."""
    import cv2

    image = cv2.imread(path, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if image is None:
        raise FileNotFoundError(f"cannot read image {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def person_results(image_id: int, keypoints: np.ndarray, scores: np.ndarray) -> list[dict]:
    """COCO result entries of one image's people: (P, K, 3) x, y, joint value and (P,) scores."""
    return [{"image_id": image_id, "category_id": 1, "score": float(score),
             "keypoints": person.reshape(-1).astype(np.float64).tolist()}
            for person, score in zip(keypoints, scores, strict=True)]


@register_protocol("coco_bottom_up", paper="SWAHR (CVPR 2021) / HigherHRNet (CVPR 2020)",
                   dataset="COCO val2017", inputs=(COCO_IMAGES, COCO_ANNOTATIONS), published=PUBLISHED,
                   layouts=(Table(SINGLE, COLUMNS), Table(MULTI, COLUMNS)),
                   published_notes=("AR: the README's val2017 tables report AP..APL only",))
def coco_bottom_up(inputs: EvalInputs) -> ProtocolResult:
    """Bottom-up COCO test: official resize, flip, multi-scale, grouping and refinement, COCOeval AP."""
    from hpe_ros.models.convert_swahr import load_swahr_checkpoint
    from hpe_ros.models.registry import create_model
    from hpe_ros.pipelines.rgb.bottom_up import BottomUpEstimator, official_test_config

    options = inputs.options
    name = options.get("bottom_up_model", "swahr_w32")
    if name not in MODELS:
        raise ValueError(f"bottom_up_model must be one of {MODELS}, got {name!r}")
    checkpoint = inputs.get(BOTTOM_UP_CHECKPOINT)
    if checkpoint is None and not inputs.allow_random_weights:
        spec = BOTTOM_UP_CHECKPOINT
        raise ValueError(f"needs {spec.option} ({spec.help}), or --random-weights")
    model = create_model(name)
    if checkpoint is not None:
        load_swahr_checkpoint(model, checkpoint)  # type: ignore[arg-type]
    scales = tuple(float(s) for s in options.get("scale_factors", "1").split(","))
    config = official_test_config("coco", 32 if name.endswith("w32") else 48, scales,
                                  options.get("flip_test", "true").lower() not in ("0", "false", "no"),
                                  options.get("bottom_up_protocol", "official"))
    estimator = BottomUpEstimator(model, config, device=inputs.device)  # type: ignore[arg-type]
    annotation_file = inputs.path(COCO_ANNOTATIONS)
    images = json.loads(annotation_file.read_text())["images"][: inputs.limit]
    results: list[dict] = []
    for image in images:
        poses = estimator(read_image_official(str(inputs.path(COCO_IMAGES) / image["file_name"])))
        results += person_results(int(image["id"]), poses.keypoints, poses.scores)
    used = [int(image["id"]) for image in images]
    stats = coco_stats(annotation_file, results, used if inputs.limit else None)
    table = SINGLE if scales == (1.0,) else MULTI
    notes: tuple[str, ...] = (
        f"{len(images)} images, {len(results)} people; {name} at {config.input_size}, scales {scales}, "
        f"flip {config.flip_test}, protocol {config.protocol}",)
    if table == MULTI and sorted(scales) != [0.5, 1.0, 2.0]:
        notes += (f"the published multi-scale rows use scales 0.5, 1, 2, not {scales}",)
    return ProtocolResult((Table(table, COLUMNS, (Row(f"measured ({len(images)} images)", stats),)),), notes)


__all__ = ["BOTTOM_UP_CHECKPOINT", "MODELS", "PUBLISHED", "coco_bottom_up", "person_results",
           "read_image_official"]
