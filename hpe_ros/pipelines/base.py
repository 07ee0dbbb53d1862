"""The contract every pipeline implements: one input frame in, one typed result out.

Pipelines know nothing of ROS: ``io`` turns messages into the frames below and results into
messages, ``nodes`` and ``cli`` move them. A pipeline is built once (models loaded), then
``process`` is called per frame from a single thread.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np

from hpe_ros.core.camera import CameraModel
from hpe_ros.core.joints import JointSet


@dataclass(frozen=True)
class ImageFrame:
    """One camera image, decoded to RGB."""

    image: np.ndarray  # (H, W, 3) uint8, RGB
    stamp_ns: int
    frame_id: str
    camera: CameraModel | None = None
    #: (N, 5) person boxes from an upstream detector for this image (x_min, y_min, x_max, y_max,
    #: score in pixels), or None when there is no detector input
    boxes: np.ndarray | None = None
    #: (H', W') float32 metres (NaN unknown) of a depth image aligned to this one (same optical
    #: centre and orientation, any resolution), or None without an RGB-D camera
    depth: np.ndarray | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return int(self.image.shape[1]), int(self.image.shape[0])


@dataclass(frozen=True)
class EventWindow:
    """Events of one time window of an event camera."""

    events: np.ndarray  # structured array with fields x, y (uint16), t (int64 ns), p (int8, 0/1)
    width: int
    height: int
    stamp_ns: int  # end of the window
    frame_id: str
    camera: CameraModel | None = None
    gray: np.ndarray | None = None  # (H, W) uint8 intensity frame, when the sensor gives one

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the sensor in pixels."""
        return self.width, self.height


@dataclass(frozen=True)
class SMPLEstimate:
    """SMPL parameters of one person, in the camera optical frame."""

    betas: np.ndarray  # (10,)
    body_pose: np.ndarray  # (24, 3) axis-angle, global orientation first
    translation: np.ndarray  # (3,) metres
    joints: np.ndarray  # (24, 3) metres
    vertices: np.ndarray | None = None  # (6890, 3) metres, or None when the mesh is off
    gender: str = "neutral"


@dataclass(frozen=True)
class PersonPose:
    """Everything a pipeline estimated for one person."""

    joint_set: JointSet
    joints_3d: np.ndarray  # (J, 3) metres; absolute in the camera frame if metric else root-relative
    confidence: np.ndarray  # (J,) in [0, 1]
    metric: bool
    root_confidence: float = 0.0
    keypoints_2d: np.ndarray | None = None  # (J, 2) pixels in the input image
    scores_2d: np.ndarray | None = None  # (J,) in [0, 1]
    box: np.ndarray | None = None  # (5,) x_min, y_min, x_max, y_max, score in pixels
    track_id: str = ""
    smpl: SMPLEstimate | None = None

    def __post_init__(self) -> None:
        n = len(self.joint_set.joint_names)
        if self.joints_3d.shape != (n, 3):
            raise ValueError(
                f"joints_3d must be ({n}, 3) for {self.joint_set.name}, got {self.joints_3d.shape}"
            )
        if self.confidence.shape != (n,):
            raise ValueError(f"confidence must be ({n},), got {self.confidence.shape}")
        if self.keypoints_2d is not None and self.keypoints_2d.shape != (n, 2):
            raise ValueError(f"keypoints_2d must be ({n}, 2), got {self.keypoints_2d.shape}")


@dataclass
class PoseResult:
    """The output for one input frame: stamped like the input, possibly with nobody in it."""

    stamp_ns: int
    frame_id: str
    people: list[PersonPose] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)  # stage name -> seconds
    flow: np.ndarray | None = None  # (H, W, 2) optical flow in pixels, event pipelines only
    image_size: tuple[int, int] | None = None  # (width, height) of the input image, when there is one


FrameT = TypeVar("FrameT", ImageFrame, EventWindow)


class Pipeline(abc.ABC, Generic[FrameT]):
    """Turns frames into :class:`PoseResult`. Subclasses load their models in ``__init__``."""

    #: short name used in configuration files and on the command line
    name: str = ""
    #: "image" or "events": the kind of frame ``process`` accepts
    input_kind: str = "image"

    @abc.abstractmethod
    def process(self, frame: FrameT) -> PoseResult:
        """Estimate the people in ``frame``; must not keep references to ``frame`` buffers."""

    def describe(self) -> dict[str, str]:
        """Key facts for diagnostics and ``hpe-ros info`` (models, backend, limitations)."""
        return {"pipeline": self.name}

    def mesh_faces(self) -> np.ndarray | None:
        """(F, 3) triangles of the body mesh this pipeline outputs vertices for, if any."""
        return None

    def close(self) -> None:
        """Release models and devices; the pipeline is unusable afterwards."""
