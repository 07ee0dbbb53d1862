"""Context-Aware PoseFormer's pre-processed Human3.6M labels (``h36m_validation.pkl``, ``h36m_train.pkl``).

The official label script writes one dict per frame: ``image`` (``s_09_act_02_subact_01_ca_01/
s_09_act_02_subact_01_ca_01_000001.jpg`` under the H36M-Toolbox ``images/`` folder), ``center``
and ``scale`` of the 2 m root box, ``joints_3d`` (17, 3) camera frame in metres, ``joints_2d_cpn`` /
``joints_2d_gt`` screen-normalised, ``joints_2d_cpn_crop`` / ``joints_2d_gt_crop`` in crop pixels,
``subject``, ``action`` (2..16), ``subaction``, ``camera_id``, ``image_id``. The pickle is read with an
unpickler that builds only numpy arrays and plain values (no other code runs).
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Human3.6M action ids 2..16, in the official evaluation's order
H36M_ACTION_NAMES = ("Directions", "Discussion", "Eating", "Greeting", "Phoning", "Posing", "Purchases",
                     "Sitting", "SittingDown", "Smoking", "TakingPhoto", "Waiting", "Walking", "WalkingDog",
                     "WalkingTogether")


class _ArraysOnly(pickle.Unpickler):
    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
                ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a label file")
        return super().find_class(module, name)


@dataclass(frozen=True)
class CapfLabel:
    """One frame of the official labels."""

    image: str
    center: np.ndarray  # (2,)
    scale: np.ndarray  # (2,)
    joints_3d: np.ndarray  # (17, 3) metres
    screen_2d: np.ndarray  # (17, 2) screen-normalised
    crop_2d: np.ndarray  # (17, 2) crop pixels
    action: str
    subject: int


def load_capf_labels(path: str | os.PathLike[str], keypoints: str = "cpn") -> list[CapfLabel]:
    """The frames of a label file with the ``keypoints`` 2D (``cpn`` or ``gt``)."""
    if keypoints not in ("cpn", "gt"):
        raise ValueError(f"keypoints must be 'cpn' or 'gt', got {keypoints!r}")
    with open(path, "rb") as stream:
        entries = _ArraysOnly(stream).load()
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a list of frame dicts, got {type(entries).__name__}")
    out = []
    for entry in entries:
        try:
            out.append(CapfLabel(
                _image_name(entry),  # the path the official loader builds
                np.asarray(entry["center"], np.float64), np.asarray(entry["scale"], np.float64),
                np.asarray(entry["joints_3d"], np.float64),
                np.asarray(entry[f"joints_2d_{keypoints}"], np.float64)[:, :2],
                np.asarray(entry[f"joints_2d_{keypoints}_crop"], np.float32)[:, :2],
                H36M_ACTION_NAMES[int(entry["action"]) - 2], int(entry["subject"]),
            ))
        except KeyError as error:
            raise ValueError(f"{path}: a frame has no {error.args[0]!r}") from None
    return out


def _image_name(entry: dict) -> str:
    folder = (f"s_{int(entry['subject']):02d}_act_{int(entry['action']):02d}_subact_"
              f"{int(entry['subaction']):02d}_ca_{int(entry['camera_id']) + 1:02d}")
    return f"{folder}/{folder}_{int(entry['image_id']):06d}.jpg"


__all__ = ["H36M_ACTION_NAMES", "CapfLabel", "load_capf_labels"]
