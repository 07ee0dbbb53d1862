"""The ``coco_bottom_up`` protocol: result entries, the official decoding and a run on a reference image."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hpe_ros.evaluation.protocols import EvalInputs, get_protocol
from hpe_ros.evaluation.protocols.coco_bottom_up import MULTI, SINGLE, person_results, read_image_official

pytest.importorskip("munkres")
pytest.importorskip("pycocotools")


def test_people_become_coco_results_with_their_joint_values() -> None:
    keypoints = np.arange(2 * 17 * 3, dtype=np.float64).reshape(2, 17, 3)
    results = person_results(7, keypoints, np.array([0.5, 0.25]))
    assert [r["score"] for r in results] == [0.5, 0.25]
    assert results[1]["keypoints"] == keypoints[1].ravel().tolist() and results[0]["image_id"] == 7
    assert all(r["category_id"] == 1 for r in results)


def test_images_are_decoded_rgb_as_the_official_loader(tmp_path: Path) -> None:
    cv2 = pytest.importorskip("cv2")
    image = np.zeros((4, 6, 3), np.uint8)
    image[..., 0] = 200  # red
    cv2.imwrite(str(tmp_path / "red.png"), image[..., ::-1])
    np.testing.assert_array_equal(read_image_official(str(tmp_path / "red.png")), image)
    with pytest.raises(FileNotFoundError):
        read_image_official(str(tmp_path / "absent.jpg"))


@pytest.mark.slow  # a full-size HRNet-W32 pass on one 640 x 425 image
def test_the_protocol_runs_on_one_reference_image(shared_data: Path, published_tables) -> None:
    folder = shared_data / "coco"
    inputs = EvalInputs(paths={"coco_images": folder, "coco_annotations": folder / "test_coco.json"}, limit=1,
                        allow_random_weights=True, options={"flip_test": "false"})
    protocol = get_protocol("coco_bottom_up")
    result = protocol.run(inputs)
    (table,) = result.tables
    assert table.title == SINGLE and table.rows[0].label == "measured (1 images)"
    assert all(0.0 <= v <= 100.0 for v in table.rows[0].values.values())
    assert "swahr_w32 at 512" in result.notes[0] and "protocol official" in result.notes[0]
    published_tables(protocol, result)  # the single-scale rows beside it, the multi-scale table after


def test_without_a_checkpoint_it_refuses_and_models_are_checked(shared_data: Path) -> None:
    folder = shared_data / "coco"
    paths = {"coco_images": folder, "coco_annotations": folder / "test_coco.json"}
    with pytest.raises(ValueError, match="--bottom-up-checkpoint"):
        get_protocol("coco_bottom_up").run(EvalInputs(paths=paths))
    with pytest.raises(ValueError, match="bottom_up_model"):
        get_protocol("coco_bottom_up").run(EvalInputs(paths=paths, allow_random_weights=True,
                                                      options={"bottom_up_model": "hrnet_w32"}))


def test_published_rows_fill_both_tables() -> None:
    protocol = get_protocol("coco_bottom_up")
    assert {p.table for p in protocol.published} == {SINGLE, MULTI}
    swahr = [p for p in protocol.published if p.label == "HigherHRNet + SWAHR W32 512"]
    assert [p.values["AP"] for p in swahr] == [68.9, 71.4]
    assert json.dumps([p.values for p in protocol.published])  # plain numbers only
