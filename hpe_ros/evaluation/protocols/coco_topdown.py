"""``coco_topdown``: the HRNet / SimDR / SA-SimDR COCO val2017 test of the official code.

Person boxes (a detection file in COCO's results format, category 1, every score kept, as the
official ``TEST.IMAGE_THRE 0.0``; without one the annotated boxes with score 1), then the top-down
pipeline's ``"official"`` protocol (:mod:`~hpe_ros.pipelines.rgb.topdown_protocol`: aspect-corrected
x 1.25 ``cv2.warpAffine`` crops, flip test with the official shifts, the official decoding), the
official rescoring and OKS NMS per image, and ``pycocotools``' COCOeval with its default keypoint
parameters (at most 20 people per image), as the official ``_do_python_keypoint_eval``.

Settings (``--set``): ``coco_pose_model`` (default ``hrnet_w32_heatmap``; e.g.
``hrnet_w48_sa_simdr``), ``coco_input_size`` (``256x192``), ``simdr_split_ratio`` (2.0),
``flip_test`` (true).
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

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

COCO_IMAGES = declare_input("coco_images", "COCO val2017 image folder")
COCO_ANNOTATIONS = declare_input("coco_annotations", "person_keypoints_val2017.json")
COCO_DETECTIONS = declare_input(
    "coco_detections", "person boxes in COCO results format (COCO_val2017_detections_AP_H_56_person.json)"
)
POSE_CHECKPOINT = declare_input("pose_checkpoint", "the authors' HRNet / SimDR / SA-SimDR COCO checkpoint")

TABLE = "COCO val2017, detected boxes (person AP 56.4), flip test"
COLUMNS = ("AP", "AP50", "AP75", "APM", "APL", "AR")
_README = "SimCC README (COCO val2017)"
# the README's heatmap rows with "extra post." (the official shift refinement the protocol runs)
PUBLISHED = (
    Published(TABLE, "HRNet-W32 256x192 heatmap", {"AP": 74.4, "AR": 79.8}, _README,
              checkpoint="pose_hrnet_w32_256x192.pth"),
    Published(TABLE, "HRNet-W32 256x192 SimDR", {"AP": 75.3, "AR": 80.8}, _README,
              checkpoint="SimDR HRNet-W32 256x192"),
    Published(TABLE, "HRNet-W48 256x192 heatmap", {"AP": 75.1, "AR": 80.4}, _README,
              checkpoint="pose_hrnet_w48_256x192.pth"),
    Published(TABLE, "HRNet-W48 256x192 SimDR", {"AP": 75.9, "AR": 81.2}, _README,
              checkpoint="SimDR HRNet-W48 256x192"),
)
PUBLISHED_NOTES = ("SA-SimDR (the README's SimDR*): its 256x192 val2017 table has no such row; "
                   "AP50..APL: that table reports AP and AR only",)


def load_boxes(annotations: dict, detections: list | None) -> dict[int, np.ndarray]:
    """Image id -> (N, 5) ``x, y, w, h, score``: the detections of category 1, or the annotated people."""
    boxes: dict[int, list[list[float]]] = {int(image["id"]): [] for image in annotations["images"]}
    if detections is None:
        for person in annotations["annotations"]:
            if person.get("category_id", 1) == 1 and not person.get("iscrowd", 0):
                boxes.setdefault(int(person["image_id"]), []).append([*person["bbox"], 1.0])
    else:
        for det in detections:
            if det.get("category_id", 1) == 1:
                boxes.setdefault(int(det["image_id"]), []).append([*det["bbox"], float(det["score"])])
    return {k: np.asarray(v, np.float64).reshape(-1, 5) for k, v in boxes.items()}


def coco_stats(annotation_file: Path, results: list[dict], image_ids: list[int] | None = None
               ) -> dict[str, float]:
    """COCOeval (keypoints, default parameters) of ``results`` over ``image_ids`` (default: every image):
    AP, AP50, AP75, APM, APL and AR (its first six statistics) in percent."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO(str(annotation_file))
        if not results:
            return dict.fromkeys(COLUMNS, 0.0)
        evaluation = COCOeval(truth, truth.loadRes(results), "keypoints")
        if image_ids is not None:
            evaluation.params.imgIds = sorted(image_ids)
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    # COCOeval's -1 (no annotated person of that size among the images) is left blank
    return {name: 100 * float(value) for name, value in zip(COLUMNS, evaluation.stats[:6], strict=True)
            if value >= 0}


def coco_results(image_ids: list[int], keypoints: np.ndarray, joint_scores: np.ndarray,
                 box_scores: np.ndarray, scales: np.ndarray) -> list[dict]:
    """Every crop's keypoints (N, 17, 2), joint scores, box score and crop scale -> the result file's
    entries after the official rescoring and OKS NMS (keypoints with their scores, the new score)."""
    from hpe_ros.pipelines.rgb.topdown_protocol import rescore_and_oks_nms

    kept = rescore_and_oks_nms(image_ids, keypoints, joint_scores, box_scores, scales)
    return [{"image_id": p.image_id, "category_id": 1, "score": p.score,
             "keypoints": np.concatenate([p.keypoints, p.joint_scores[:, None]], 1).ravel().tolist()}
            for p in kept]


@register_protocol("coco_topdown", paper="HRNet (CVPR 2019) / SimDR, SA-SimDR (ECCV 2022)",
                   dataset="COCO val2017", inputs=(COCO_IMAGES, COCO_ANNOTATIONS), published=PUBLISHED,
                   layouts=(Table(TABLE, COLUMNS),), published_notes=PUBLISHED_NOTES)
def coco_topdown(inputs: EvalInputs) -> ProtocolResult:
    """Top-down COCO test: official crops, flip test, decoding, rescoring and OKS NMS, COCOeval AP."""
    from hpe_ros.datasets.h36m_frames import read_rgb
    from hpe_ros.pipelines.rgb.crops import boxes_to_center_scale
    from hpe_ros.pipelines.rgb.topdown import INPUT_SIZES, TopDownPipeline

    annotation_file = inputs.path(COCO_ANNOTATIONS)
    annotations = json.loads(annotation_file.read_text())
    detection_file = inputs.get(COCO_DETECTIONS)
    detections = json.loads(detection_file.read_text()) if detection_file else None
    boxes = load_boxes(annotations, detections)
    options = inputs.options
    checkpoint = inputs.get(POSE_CHECKPOINT)
    if checkpoint is None and not inputs.allow_random_weights:
        raise ValueError(f"needs {POSE_CHECKPOINT.option} ({POSE_CHECKPOINT.help}), or --random-weights")
    size = options.get("coco_input_size", "256x192")
    pipeline = TopDownPipeline(
        pose_model=options.get("coco_pose_model", "hrnet_w32_heatmap"), pose_checkpoint=str(checkpoint or ""),
        input_size=size, protocol="official", lifter="default", device=inputs.device,
        flip_test=options.get("flip_test", "true").lower() not in ("0", "false", "no"),
        simdr_split_ratio=float(options.get("simdr_split_ratio", 2.0)), allow_random_weights=True,
    )
    files = {int(image["id"]): image["file_name"] for image in annotations["images"]}
    ids, points, joint_scores, box_scores, scales = [], [], [], [], []
    used = [i for i in files if len(boxes.get(i, ()))][: inputs.limit]
    for image_id in used:
        image = read_rgb(inputs.path(COCO_IMAGES) / files[image_id])
        people = boxes[image_id]
        xyxy = np.concatenate([people[:, :2], people[:, :2] + people[:, 2:4]], axis=1)
        for start in range(0, len(people), inputs.batch_size):
            part = slice(start, start + inputs.batch_size)
            found = pipeline.estimate_2d(image, xyxy[part])
            ids += [image_id] * len(found.image)
            points.append(found.image)
            joint_scores.append(found.scores)
        box_scores.append(people[:, 4])
        scales.append(boxes_to_center_scale(people[:, :4], INPUT_SIZES[size], box_format="xywh",
                                            official=True).scale)
    results = []
    if ids:
        results = coco_results(ids, np.concatenate(points), np.concatenate(joint_scores),
                               np.concatenate(box_scores), np.concatenate(scales))
    stats = coco_stats(annotation_file, results, used if inputs.limit else None)
    boxes_note = (f"boxes from {detection_file.name}" if detection_file
                  else "the annotated boxes (score 1): the published numbers use detected boxes")
    notes = (f"{len(used)} images, {len(ids)} boxes, {len(results)} people after OKS NMS; {boxes_note}",
             f"pose model {options.get('coco_pose_model', 'hrnet_w32_heatmap')} {size}")
    return ProtocolResult((Table(TABLE, COLUMNS, (Row(f"measured ({len(used)} images)", stats),)),), notes)


__all__ = ["COCO_ANNOTATIONS", "COCO_DETECTIONS", "COCO_IMAGES", "POSE_CHECKPOINT", "PUBLISHED",
           "coco_results", "coco_stats", "coco_topdown", "load_boxes"]
