"""Where BlazePose's networks are: the ``.tflite`` files inside the installed mediapipe wheel.

Found without importing mediapipe (its import is slow and prints protobuf errors with the
protobuf this project needs); LiteRT runs the files (:mod:`hpe_ros.pipelines.backends.tflite`).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

INSTALL_HINT = "BlazePose needs the mediapipe wheel's models and LiteRT: pip install hpe_ros[blazepose]"
DETECTION_MODEL = "modules/pose_detection/pose_detection.tflite"
LANDMARK_MODELS = {
    0: "modules/pose_landmark/pose_landmark_lite.tflite",
    1: "modules/pose_landmark/pose_landmark_full.tflite",
    2: "modules/pose_landmark/pose_landmark_heavy.tflite",
}


def blazepose_available() -> bool:
    """Whether the BlazePose models (mediapipe wheel) and LiteRT are installed; imports neither."""
    return all(importlib.util.find_spec(name) is not None for name in ("mediapipe", "ai_edge_litert", "cv2"))


def mediapipe_models_dir() -> Path:
    """The installed mediapipe package folder, found without importing it (its import is slow and noisy)."""
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(INSTALL_HINT)
    return Path(next(iter(spec.submodule_search_locations))).resolve()
