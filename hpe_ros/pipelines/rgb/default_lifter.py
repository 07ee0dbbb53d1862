"""The offline default 2D-to-3D lifter at run time: input normalisation, virtual views, loading.

Input normalisation ``ray_box_v2`` (:func:`virtual_view` then :func:`normalise_keypoints`, the same
at training and inference): the pixels are undistorted and rotated into a virtual camera looking
straight along the person's pelvis ray, so that position in the image and lens do not matter; the
joints whose score is at least the threshold are valid; the pelvis (else the centre of the valid
joints' box) is the origin and half the longer side of that box the unit; the features are
(x, y, score) per joint with invalid joints at (0, 0, 0). The prediction is rotated back into the
real camera. Files of the first release (``pelvis_box_v1``: the same box normalisation on raw
pixels, no camera) still load. Training and its data: :mod:`hpe_ros.training.default_lifter`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import torch
from torch import nn

import hpe_ros.models.simple_lifter  # noqa: F401  (registers "simple_lifter")
from hpe_ros.core.camera import CameraModel
from hpe_ros.core.joints import H36M_17
from hpe_ros.models.checkpoints import load_strict, read_checkpoint
from hpe_ros.models.registry import create_model


class Normalisation(TypedDict):
    """How the lifter's inputs were normalised (stored in its checkpoint)."""

    name: str
    score_threshold: float


NORMALISATION: Normalisation = {"name": "ray_box_v2", "score_threshold": 0.2}
#: The first release's normalisation (pixels, no camera): still loadable.
PIXEL_NORMALISATION: Normalisation = {"name": "pelvis_box_v1", "score_threshold": 0.2}
_NORMALISATIONS = (NORMALISATION["name"], PIXEL_NORMALISATION["name"])
GUESSED_HFOV_DEG = 60.0  # field of view assumed for images without CameraInfo
DEFAULT_MODEL_NAME = "simple_lifter"
DEFAULT_WEIGHTS_RESOURCE = "data/default_lifter.pt"
_PELVIS = H36M_17.index("pelvis")


# --- normalisation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NormalisedKeypoints:
    features: np.ndarray  # (N, J, 3) float32: x, y in box units around the centre, score (0 = invalid)
    centre: np.ndarray  # (N, 2) pixels
    scale: np.ndarray  # (N,) pixels per unit


def normalise_keypoints(
    keypoints: np.ndarray,
    scores: np.ndarray | None = None,
    score_threshold: float = NORMALISATION["score_threshold"],
) -> NormalisedKeypoints:
    """Lifter input of (N, 17, 2) pixel keypoints and (N, 17) scores (None: all 1; NaN: invalid)."""
    keypoints = np.asarray(keypoints, dtype=np.float64)
    if keypoints.ndim != 3 or keypoints.shape[1:] != (len(H36M_17), 2):
        raise ValueError(f"expected (N, {len(H36M_17)}, 2) keypoints, got {keypoints.shape}")
    scores = np.ones(keypoints.shape[:2]) if scores is None else np.asarray(scores, dtype=np.float64)
    valid = np.isfinite(keypoints).all(axis=-1) & np.isfinite(scores) & (scores >= score_threshold)
    masked = np.where(valid[..., None], keypoints, np.nan)
    enough = valid.sum(axis=1) >= 2
    # np.nanmin / np.nanmax without their all-NaN warning: rows without a valid joint are handled below
    low, high = np.fmin.reduce(masked, axis=1), np.fmax.reduce(masked, axis=1)
    box_centre = np.where(enough[:, None], 0.5 * (low + high), 0.0)
    extent = np.where(enough, 0.5 * np.max(high - low, axis=1), 1.0)
    scale = np.where(extent > 1e-6, extent, 1.0)
    centre = np.where(valid[:, _PELVIS, None], keypoints[:, _PELVIS], box_centre)
    xy = np.where(valid[..., None], (keypoints - centre[:, None]) / scale[:, None, None], 0.0)
    features = np.concatenate([xy, np.where(valid, np.clip(scores, 0.0, 1.0), 0.0)[..., None]], axis=-1)
    return NormalisedKeypoints(features.astype(np.float32), centre, scale)


def denormalise_keypoints(features: np.ndarray, centre: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Pixels (N, J, 2) of normalised features (inverse of :func:`normalise_keypoints` for valid joints)."""
    features = np.asarray(features, dtype=np.float64)
    return features[..., :2] * np.asarray(scale)[:, None, None] + np.asarray(centre)[:, None, :]


def rotations_to_rays(directions: np.ndarray) -> np.ndarray:
    """(N, 3, 3) rotations R with R @ z = each (N, 3) direction (the smallest such rotation)."""
    d = directions / np.linalg.norm(directions, axis=-1, keepdims=True)
    axis = np.stack([-d[:, 1], d[:, 0], np.zeros(len(d))], axis=-1)  # z x d
    sin = np.linalg.norm(axis, axis=-1)
    cos = d[:, 2]
    k = axis / np.maximum(sin, 1e-12)[:, None]
    kx, ky, kz = k[:, 0], k[:, 1], k[:, 2]
    zero = np.zeros_like(kx)
    cross = np.stack([zero, -kz, ky, kz, zero, -kx, -ky, kx, zero], axis=-1).reshape(-1, 3, 3)
    return np.eye(3) + sin[:, None, None] * cross + (1 - cos)[:, None, None] * (cross @ cross)


@dataclass(frozen=True)
class VirtualView:
    """Keypoints as a virtual camera aimed at each person sees them (perspective undone)."""

    points: np.ndarray  # (N, J, 2) normalised coordinates of the virtual camera, NaN where invalid
    rotation: np.ndarray  # (N, 3, 3) virtual camera -> real camera


def virtual_view(keypoints: np.ndarray, scores: np.ndarray, camera: CameraModel,
                 score_threshold: float = NORMALISATION["score_threshold"]) -> VirtualView:
    """Turn (N, J, 2) pixels into the view of a camera rotated to look straight at the person.

    The virtual camera shares the real one's centre and looks along the pelvis's ray (else the
    mean ray of the valid joints): a person at the edge of a wide-angle image then looks as they
    would in the middle, so the lifter needs no notion of where in the image, or through which
    lens, a person was seen. Lens distortion is removed on the way.
    """
    normalised = camera.undistort_normalised(camera.pixels_to_normalised(np.asarray(keypoints, np.float64)))
    valid = np.isfinite(normalised).all(-1) & (np.asarray(scores) >= score_threshold)
    rays = np.concatenate([normalised, np.ones(normalised.shape[:-1] + (1,))], axis=-1)
    rays = np.where(valid[..., None], rays, np.nan)
    known = ~np.isnan(rays)
    with np.errstate(invalid="ignore"):  # np.nanmean's arithmetic; no valid joint: NaN, replaced below
        mean = np.where(known, rays, 0.0).sum(axis=1) / known.sum(axis=1)
    centre = np.where(valid[:, _PELVIS, None], rays[:, _PELVIS], mean)
    centre = np.where(np.isfinite(centre).all(-1, keepdims=True), centre, [0.0, 0.0, 1.0])
    rotation = rotations_to_rays(centre)
    virtual = np.einsum("nji,nkj->nki", rotation, rays)  # R^T applied to every ray
    with np.errstate(invalid="ignore", divide="ignore"):
        points = virtual[..., :2] / virtual[..., 2:]
    points = np.where((virtual[..., 2:] > 1e-6) & valid[..., None], points, np.nan)
    return VirtualView(points, rotation)


def guessed_camera(width: int, height: int) -> CameraModel:
    """A pinhole of :data:`GUESSED_HFOV_DEG` centred on the image, for images without intrinsics."""
    focal = 0.5 * width / math.tan(math.radians(GUESSED_HFOV_DEG) / 2)
    return CameraModel.from_intrinsics(focal, focal, (width - 1) / 2, (height - 1) / 2, width, height)


# --- model, training, evaluation --------------------------------------------------------------


class DefaultLifter:
    """A lifter network with its input normalisation: pixels in, pelvis-relative metres out."""

    def __init__(self, model: nn.Module, normalisation: dict[str, Any] | None = None) -> None:
        self.model = model.eval()
        self.normalisation = dict(NORMALISATION if normalisation is None else normalisation)
        if self.normalisation.get("name") not in _NORMALISATIONS:
            raise ValueError(f"unknown lifter normalisation {self.normalisation.get('name')!r}")

    @property
    def uses_camera(self) -> bool:
        return self.normalisation["name"] == NORMALISATION["name"]

    def lift_features(self, features: np.ndarray | torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            output = self.model(torch.as_tensor(np.asarray(features), dtype=torch.float32))
        output = output - output[:, _PELVIS : _PELVIS + 1]
        return output.numpy().astype(np.float64)

    def lift(self, keypoints: np.ndarray, scores: np.ndarray | None = None, camera: CameraModel | None = None,
             image_size: tuple[int, int] | None = None) -> np.ndarray:
        """(N, 17, 3) pelvis-relative camera-frame metres of (N, 17, 2) H36M-17 pixels and scores.

        ``camera`` (its intrinsics and lens) turns each person into their virtual view; without
        it a pinhole of :data:`GUESSED_HFOV_DEG` centred on ``image_size`` (width, height) stands
        in. Lifters of the first release (``pelvis_box_v1``) need neither.
        """
        threshold = self.normalisation["score_threshold"]
        keypoints = np.asarray(keypoints, dtype=np.float64)
        scores = np.ones(keypoints.shape[:2]) if scores is None else np.asarray(scores, dtype=np.float64)
        if not self.uses_camera:
            return self.lift_features(normalise_keypoints(keypoints, scores, threshold).features)
        if camera is None:
            if image_size is None:
                raise ValueError("this lifter needs the camera (CameraInfo) or at least the image size")
            camera = guessed_camera(*image_size)
        view = virtual_view(keypoints, scores, camera, threshold)
        relative = self.lift_features(normalise_keypoints(view.points, scores, threshold).features)
        return np.einsum("nij,nkj->nki", view.rotation, relative)


def lift_with_cameras(lifter: DefaultLifter, keypoints: np.ndarray, scores: np.ndarray,
                      cameras: Sequence[CameraModel]) -> np.ndarray:
    """:meth:`DefaultLifter.lift` of (N, 17, 2) samples seen by ``cameras`` (one each), a batch per camera."""
    out = np.empty(keypoints.shape[:2] + (3,))
    groups: dict[int, list[int]] = {}
    for index, camera in enumerate(cameras):
        groups.setdefault(id(camera), []).append(index)
    for members in groups.values():
        chosen = np.array(members)
        out[chosen] = lifter.lift(keypoints[chosen], scores[chosen], cameras[members[0]])
    return out


def default_lifter_path() -> Path:
    """The package's committed weights file (hpe_ros/data/default_lifter.pt)."""
    return Path(str(resources.files("hpe_ros").joinpath(DEFAULT_WEIGHTS_RESOURCE)))


def load_default_lifter(path: str | os.PathLike[str] | None = None) -> DefaultLifter:
    """The default lifter from ``path`` (default: the package's weights), read with weights_only."""
    path = default_lifter_path() if path is None else Path(path)
    payload = read_checkpoint(path)
    if not isinstance(payload, dict) or "state_dict" not in payload:
        raise ValueError(f"{path} is not a default-lifter file (no 'state_dict')")
    if payload.get("joint_set") != H36M_17.name:
        raise ValueError(f"{path}: expected joint set {H36M_17.name}, got {payload.get('joint_set')!r}")
    model = create_model(payload["model_name"], **payload["model_kwargs"])
    load_strict(model, payload["state_dict"])
    return DefaultLifter(model, payload["normalisation"])
