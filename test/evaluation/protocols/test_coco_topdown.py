"""The ``coco_topdown`` protocol: boxes, COCOeval's numbers and a run on the reference COCO images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hpe_ros.evaluation.protocols import EvalInputs, get_protocol
from hpe_ros.evaluation.protocols.coco_topdown import TABLE, coco_stats, load_boxes


def test_boxes_come_from_person_detections_or_the_annotations():
    annotations = {"images": [{"id": 1}, {"id": 2}],
                   "annotations": [{"image_id": 1, "bbox": [1, 2, 3, 4], "category_id": 1},
                                   {"image_id": 1, "bbox": [0, 0, 9, 9], "category_id": 1, "iscrowd": 1}]}
    from_truth = load_boxes(annotations, None)
    assert from_truth[1].tolist() == [[1, 2, 3, 4, 1.0]] and from_truth[2].shape == (0, 5)
    detections = [{"image_id": 2, "bbox": [5, 6, 7, 8], "score": 0.25, "category_id": 1},
                  {"image_id": 2, "bbox": [5, 6, 7, 8], "score": 0.9, "category_id": 3}]
    assert load_boxes(annotations, detections)[2].tolist() == [[5, 6, 7, 8, 0.25]]


def test_the_annotations_as_results_score_full_marks_and_a_shift_scores_less(shared_data: Path):
    path = shared_data / "coco" / "test_coco.json"
    truth = json.loads(path.read_text())
    people = [a for a in truth["annotations"] if a["num_keypoints"] > 0 and not a.get("iscrowd", 0)]
    exact = [{"image_id": a["image_id"], "category_id": 1, "score": 1.0, "keypoints": a["keypoints"]}
             for a in people]
    assert coco_stats(path, exact)["AP"] == pytest.approx(100.0)
    shifted = []
    for result in exact:
        points = np.asarray(result["keypoints"], np.float64).reshape(17, 3)
        points[:, 0] += 8.0
        shifted.append({**result, "keypoints": points.ravel().tolist()})
    assert coco_stats(path, shifted)["AP"] < 100.0


def test_the_protocol_runs_on_one_reference_image(shared_data: Path, published_tables):
    folder = shared_data / "coco"
    protocol = get_protocol("coco_topdown")
    result = protocol.run(EvalInputs(
        paths={"coco_images": folder, "coco_annotations": folder / "test_coco.json"}, limit=1,
        allow_random_weights=True, options={"flip_test": "false"}))
    (table,) = result.tables
    assert table.title == TABLE and table.rows[0].label == "measured (1 images)"
    assert all(0.0 <= v <= 100.0 for v in table.rows[0].values.values())
    assert "annotated boxes" in result.notes[0]
    published_tables(protocol, result)


def test_without_a_checkpoint_it_refuses(shared_data: Path):
    folder = shared_data / "coco"
    with pytest.raises(ValueError, match="--pose-checkpoint"):
        get_protocol("coco_topdown").run(EvalInputs(
            paths={"coco_images": folder, "coco_annotations": folder / "test_coco.json"}))
