"""EventHPE's pre-processed MMHPSD data (the authors' ``data_event`` folder) as its official test reads it.

Layout (JimmyZou/EventHPE README and ``event_pose_estimation/test.py``), one folder per action
``subjectNN_groupG_timeT``:

* ``events_256/<action>/eventFFFF.png``: the events between gray frames F and F+1 as 4 binary
  partition images (a 4-channel PNG);
* ``pose_events/<action>/poseFFFF.pkl``: ``[betas (1, 10), pose (1, 72), translation (1, 3),
  joints3d (24, 3), joints2d (24, 3)]``, metres, camera frame; ``pose_info.pkl``: the annotated frames;
* ``pred_flow_events_256/<action>/flowFFFF.pkl``: FlowNet flow (2, 256, 256) as int16 x 100;
* ``hmr_results/<action>/fullpicFFFF_hmr.pkl``: HMR's estimate, its 2048-d feature last;
* ``vibe_results_0802/<action>/fullpicFFFF_vibe08.pkl``: VIBE's estimate (the tracking start);
* ``test_track0802.pkl``: the test clips, ``(action, first frame)`` pairs.

The test subjects are 01, 02 and 07. The ``.pkl`` files are joblib dumps: reading them needs
joblib and runs their pickles with full trust (only for files from the authors); the clip list is
read with an unpickler that admits plain values only.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

TEST_SUBJECTS = ("subject01", "subject02", "subject07")
IMAGE_SIZE = 256
FLOW_SCALE = 100.0  # flows are stored as int16 of 100 x pixels


class _PlainUnpickler(pickle.Unpickler):
    """Lists, tuples, strings and numbers (numpy scalars included), nothing that runs code."""

    _ALLOWED = {("numpy._core.multiarray", "scalar"), ("numpy", "dtype")}

    def find_class(self, module: str, name: str) -> Any:
        canonical = "numpy._core" + module[len("numpy.core"):] if module.startswith("numpy.core") else module
        if (canonical, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name} in a clip list")
        return super().find_class(canonical, name)


def _joblib_load(path: Path) -> Any:
    try:
        import joblib
    except ImportError as error:  # not a dependency: only this data set needs it
        raise ImportError("reading EventHPE's .pkl files needs joblib (pip install joblib)") from error
    return joblib.load(path)


@dataclass(frozen=True)
class MMHPSDPose:
    """One annotated frame."""

    betas: np.ndarray  # (10,)
    pose: np.ndarray  # (72,) axis-angle
    translation: np.ndarray  # (3,) metres
    joints: np.ndarray  # (24, 3) camera frame, metres (translation included)


class MMHPSDFolder:
    """Read access to the authors' ``data_event`` folder (module docstring)."""

    def __init__(self, root: str | os.PathLike[str], size: int = IMAGE_SIZE) -> None:
        self.root = Path(root)
        self.size = size
        if not (self.root / f"events_{size}").is_dir():
            raise FileNotFoundError(f"{self.root}: no events_{size}/ folder (EventHPE's data_event layout)")

    def test_clips(self, steps: int = 8, skip: int = 2) -> list[tuple[str, int]]:
        """The official test clips ``(action, first frame)`` from ``test_track{steps:02}{skip:02}.pkl``."""
        path = self.root / f"test_track{steps:02d}{skip:02d}.pkl"
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing (the official clip list)")
        with open(path, "rb") as stream:
            clips = _PlainUnpickler(stream).load()
        return [(str(action), int(frame)) for action, frame in clips]

    def partitions(self, action: str, frame: int) -> np.ndarray:
        """(4, S, S) uint8 partition images of the interval after gray frame ``frame``."""
        path = self.root / f"events_{self.size}" / action / f"event{frame:04d}.png"
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise FileNotFoundError(f"cannot read {path}")
        return np.ascontiguousarray(np.moveaxis(image.reshape(*image.shape[:2], -1), -1, 0))

    def step_partitions(self, action: str, start: int, end: int) -> np.ndarray:
        """(4 (end - start), S, S): the partitions of gray frames ``start .. end - 1`` stacked."""
        return np.concatenate([self.partitions(action, f) for f in range(start, end)], axis=0)

    def step_flow(self, action: str, start: int, end: int, skip: int = 2) -> np.ndarray:
        """(2, S, S) float32 flow of one step: the stored flows of ``start, start + skip, ...`` summed."""
        folder = self.root / f"pred_flow_events_{self.size}" / action
        flows = [np.asarray(_joblib_load(folder / f"flow{f:04d}.pkl"), np.float32) / FLOW_SCALE
                 for f in range(start, end, skip)]
        return np.sum(flows, axis=0)

    def pose(self, action: str, frame: int) -> MMHPSDPose:
        path = self.root / "pose_events" / action / f"pose{frame:04d}.pkl"
        betas, pose, translation, joints, _ = _joblib_load(path)
        return MMHPSDPose(np.asarray(betas, np.float64).reshape(10), np.asarray(pose, np.float64).reshape(72),
                          np.asarray(translation, np.float64).reshape(3), np.asarray(joints, np.float64))

    def vibe_start(self, action: str, frame: int, steps: int = 8, skip: int = 2) -> np.ndarray:
        """(85,) ``[translation | pose | betas]`` of VIBE at the clip's first frame (the official start)."""
        folder = self.root / f"vibe_results_{steps:02d}{skip:02d}" / action
        path = folder / f"fullpic{frame:04d}_vibe{steps:02d}.pkl"
        _, _, params, translation = _joblib_load(path)
        params = np.asarray(params, np.float64)
        return np.concatenate([np.asarray(translation, np.float64)[0], params[0, 3:75], params[0, 75:85]])

    def hmr_feature(self, action: str, frame: int) -> np.ndarray:
        """(2048,) HMR's image feature of a gray frame (the GRU's initial state)."""
        result = _joblib_load(self.root / "hmr_results" / action / f"fullpic{frame:04d}_hmr.pkl")
        return np.asarray(result[4], np.float32).reshape(-1)
