"""LiteRT models: batches, chosen outputs and refused inputs, on BlazePose's shipped networks."""

from __future__ import annotations

import numpy as np
import pytest

from hpe_ros.pipelines.backends.tflite import TfliteModel
from hpe_ros.pipelines.rgb.blazepose_models import LANDMARK_MODELS, blazepose_available, mediapipe_models_dir

pytestmark = pytest.mark.skipif(not blazepose_available(),
                                reason="the mediapipe wheel or ai-edge-litert is absent")


@pytest.fixture(scope="module")
def landmark_path():
    return mediapipe_models_dir() / LANDMARK_MODELS[1]


def _crops(count: int) -> np.ndarray:
    return np.random.default_rng(count).uniform(0, 1, (count, 256, 256, 3)).astype(np.float32)


def test_a_batch_is_its_items_one_after_the_other_in_file_order(landmark_path):
    model = TfliteModel(landmark_path, num_threads=1)
    crops = _crops(3)
    together = model(crops)
    alone = [model(crops[i : i + 1]) for i in range(3)]
    assert [o.shape for o in together] == [(3, 195), (3, 1), (3, 256, 256, 1), (3, 64, 64, 39), (3, 117)]
    for position, output in enumerate(together):
        np.testing.assert_array_equal(output, np.concatenate([a[position] for a in alone]))
    assert not np.array_equal(together[0][0], together[0][1])  # each item its own result


def test_chosen_outputs_are_the_same_arrays_without_the_others(landmark_path):
    crops = _crops(2)
    every = TfliteModel(landmark_path, num_threads=1)(crops)
    chosen = TfliteModel(landmark_path, num_threads=1, outputs=(3, 0))(crops)
    assert len(chosen) == 2
    np.testing.assert_array_equal(chosen[0], every[3])
    np.testing.assert_array_equal(chosen[1], every[0])


def test_bad_inputs_and_outputs_are_refused_with_the_model_named(landmark_path):
    with pytest.raises(ValueError, match="has 5 outputs"):
        TfliteModel(landmark_path, outputs=(5,))
    model = TfliteModel(landmark_path, num_threads=1)
    with pytest.raises(ValueError, match=r"pose_landmark_full.tflite: expected \(N, 256, 256, 3\)"):
        model(np.zeros((1, 224, 224, 3), np.float32))
    with pytest.raises(ValueError, match="empty batch"):
        model(np.zeros((0, 256, 256, 3), np.float32))
    with pytest.raises(FileNotFoundError):
        TfliteModel(landmark_path.with_name("missing.tflite"))
