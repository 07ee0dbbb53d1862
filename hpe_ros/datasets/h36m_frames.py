"""Human3.6M frames with annotations in mmpose's layout (``test_h36m_body3d.npz`` + ``cameras.json``).

The npz holds, per frame: ``imgname`` ("S1/S1_Directions_1.54138969/S1_Directions_1.54138969_000001.jpg"),
``S`` (17, 4) camera-frame joints in metres plus visibility, ``part`` (17, 3) pixels plus
visibility, ``center`` (2,) and ``scale`` (box size / 200 px).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hpe_ros.core.h36m_cameras import H36MCamera, h36m_camera_key, load_h36m_cameras
from hpe_ros.core.joints import H36M_17
from hpe_ros.datasets.samples import LiftingSamples

ANNOTATION_FILE = "test_h36m_body3d.npz"
CAMERA_FILE = "cameras.json"
_FRAME_NAME = re.compile(r"(S\d+)_(.+)\.(\d+)_(\d+)\.\w+$")


@dataclass(frozen=True, eq=False)
class H36MFrames:
    """Annotated frames: samples (with image paths), the camera and the box of each frame."""

    samples: LiftingSamples
    cameras: tuple[H36MCamera, ...]  # per sample
    centers: np.ndarray  # (N, 2) box centres, pixels
    scales: np.ndarray  # (N,) box size / 200 px
    visibility: np.ndarray  # (N, 17) from the 2D annotation

    def __len__(self) -> int:
        return len(self.samples)

    def read_image(self, index: int) -> np.ndarray:
        """(H, W, 3) uint8 RGB image of sample ``index``."""
        paths = self.samples.image_paths
        if paths is None:
            raise ValueError("these samples carry no image paths")
        return read_rgb(str(paths[index]))


def read_rgb(path: str | os.PathLike[str]) -> np.ndarray:
    """Decode an image file to (H, W, 3) uint8 RGB (needs Pillow)."""
    try:
        from PIL import Image
    except ImportError as error:  # pragma: no cover - Pillow is in the venv
        raise ImportError("reading image files needs Pillow (pip install pillow)") from error
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def parse_h36m_frame_name(name: str) -> tuple[str, str, str, int]:
    """(subject, action, camera id, frame number) of a name like ``S1_Directions_1.54138969_000001.jpg``."""
    match = _FRAME_NAME.search(os.path.basename(name))
    if match is None:
        raise ValueError(f"not a Human3.6M frame name: {name!r}")
    subject, action, camera_id, frame = match.groups()
    return subject, action, camera_id, int(frame)


def load_h36m_frames(
    folder: str | os.PathLike[str],
    annotation_file: str = ANNOTATION_FILE,
    camera_file: str = CAMERA_FILE,
) -> H36MFrames:
    """The frames of ``folder`` (images either at their ``imgname`` path or directly in it)."""
    folder = Path(folder)
    with np.load(folder / annotation_file, allow_pickle=False) as data:
        names = [str(n) for n in data["imgname"]]
        joints = np.asarray(data["S"], dtype=np.float64)
        part = np.asarray(data["part"], dtype=np.float64)
        centers = np.asarray(data["center"], dtype=np.float64)
        scales = np.asarray(data["scale"], dtype=np.float64).reshape(-1)
    n = len(names)
    if joints.shape != (n, 17, 4) or part.shape != (n, 17, 3):
        raise ValueError(
            f"{annotation_file}: expected S (N, 17, 4) and part (N, 17, 3), got {joints.shape}, {part.shape}"
        )
    all_cameras = load_h36m_cameras(folder / camera_file)
    cameras = tuple(all_cameras[h36m_camera_key(name)] for name in names)
    parsed = [parse_h36m_frame_name(name) for name in names]
    paths = [
        folder / name if (folder / name).is_file() else folder / os.path.basename(name) for name in names
    ]
    visibility = part[..., 2]
    samples = LiftingSamples(
        keypoints_2d=part[..., :2],
        scores_2d=(visibility > 0).astype(np.float64),
        joints_3d=joints[..., :3],
        image_size=np.array([[c.camera.width, c.camera.height] for c in cameras], dtype=np.float64).reshape(
            n, 2
        ),
        subjects=np.array([p[0] for p in parsed]),
        actions=np.array([p[1] for p in parsed]),
        camera_ids=np.array([p[2] for p in parsed]),
        frame_indices=np.array([p[3] for p in parsed], dtype=np.int64),
        joint_set=H36M_17,
        image_paths=np.array([str(p) for p in paths]),
    )
    return H36MFrames(samples, cameras, centers, scales, visibility)
