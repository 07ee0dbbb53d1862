"""Optional SMPL bodies for the RGB pipelines: lifted 3D joints -> HEMlets PoSh -> SMPL in the camera frame.

Used by the pipelines that output H36M-17 skeletons (``blazepose``, ``topdown``) through three
options: ``smpl_model_path`` (the user's licensed SMPL ``.pkl``/``.npz`` or a folder of them;
empty: no meshes, skeletons unchanged, one message at start naming the parameter to set),
``posh_checkpoint`` (weights of :class:`~hpe_ros.models.hemlets_posh.HEMletsPoSh`; empty: random
weights, said loudly: its zero-initialised heads then give the rest pose and the mean shape) and
``smpl_gender``.

Per person:

1. The lifted H36M-17 joints, relative to the pelvis in the camera optical frame, are turned
   into SMPL's y-up model axes (180 degrees about x, :data:`~hpe_ros.models.smpl.Y_UP_TO_OPTICAL`
   is its own inverse), the frame PoSh is trained in (:mod:`hpe_ros.training.posh`).
   A PoSh taking HEMlets' 18 joints gets the thorax (mean of the shoulders) appended.
2. PoSh regresses 24 local rotations (global orientation first) and 10 betas. Its image branch
   was designed for HEMlets' ResNet-50 feature; these pipelines have no such feature, so a
   checkpoint with an image branch receives zeros there (documented degradation; a joints-only
   PoSh, ``feature_channels=0``, is what fits these pipelines).
3. The global orientation is rotated into the optical frame (:func:`smpl_to_camera_frame`) and
   the translation chosen so that SMPL's pelvis lands on the person's metric root (the
   placement's root joint); people without a metric placement keep their pelvis at the origin,
   like their root-relative skeleton.
4. SMPL gives joints and, with ``publish_vertices``, the vertices, in metres in the camera frame.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from hpe_ros.core.joints import H36M_17
from hpe_ros.models.checkpoints import load_strict, read_checkpoint, unwrap_state_dict
from hpe_ros.models.hemlets_posh import HEMLETS_NUM_JOINTS, NUM_BETAS, HEMletsPoSh
from hpe_ros.models.rotations import matrix_to_axis_angle
from hpe_ros.models.smpl import Y_UP_TO_OPTICAL, SMPLModel, smpl_to_camera_frame
from hpe_ros.models.smpl_file import normalise_gender
from hpe_ros.pipelines.base import SMPLEstimate

LOGGER = logging.getLogger("hpe_ros.mesh")
_SHOULDERS = (H36M_17.index("left_shoulder"), H36M_17.index("right_shoulder"))


def mesh_off_message(pipeline: str) -> str:
    """What to set for meshes; said once at start and in ``describe()``."""
    return (f"no SMPL meshes: set {pipeline}.smpl_model_path to a SMPL .pkl/.npz to publish meshes "
            "(skeletons are published without it)")


def random_posh_message(pipeline: str) -> str:
    return (
        f"SMPL meshes come from a PoSh regressor with RANDOM weights ({pipeline}.posh_checkpoint not set): "
        "every body is the rest pose with the mean shape, placed at the person's root. Set "
        f"{pipeline}.posh_checkpoint to trained PoSh weights for posed bodies."
    )


def ignored_options_message(pipeline: str, options: list[str]) -> str:
    names = " and ".join(f"{pipeline}.{option}" for option in options)
    return (f"{names} {'is' if len(options) == 1 else 'are'} ignored: SMPL meshes are off because "
            f"{pipeline}.smpl_model_path is empty. Set {pipeline}.smpl_model_path to a SMPL .pkl/.npz to use "
            f"{'it' if len(options) == 1 else 'them'}, or leave {names} unset.")


@dataclass(frozen=True)
class PoshSizes:
    """Layer sizes of a PoSh network, read from its weights."""

    num_input_joints: int
    feature_channels: int
    hidden: int
    num_betas: int


def posh_sizes(state: Mapping[str, torch.Tensor]) -> PoshSizes:
    """Sizes of the PoSh network that ``state`` belongs to (ValueError if it is not one)."""
    try:
        joint_weight = state["joint_embedding.0.weight"]
        shape_weight = state["shape_head.weight"]
    except KeyError as error:
        raise ValueError(f"not HEMlets PoSh weights: no {error.args[0]}") from None
    hidden, joint_inputs = joint_weight.shape
    if joint_inputs % 3:
        raise ValueError(f"PoSh joint embedding takes {joint_inputs} inputs, not a multiple of 3")
    feature = state.get("feature_embedding.0.weight")
    return PoshSizes(joint_inputs // 3, 0 if feature is None else int(feature.shape[1]), int(hidden),
                     int(shape_weight.shape[0]))


def load_posh(path: str | os.PathLike[str]) -> HEMletsPoSh:
    """A PoSh network from a state dict file (bare, or under ``state_dict`` / ``model``), sized by
    its weights."""
    state = unwrap_state_dict(read_checkpoint(path), container_keys=("model", "state_dict"))
    sizes = posh_sizes(state)
    if sizes.num_input_joints not in (len(H36M_17), HEMLETS_NUM_JOINTS):
        raise ValueError(
            f"{os.fspath(path)}: PoSh takes {sizes.num_input_joints} joints; these pipelines give "
            f"H36M-17 (17, or 18 with the thorax appended)"
        )
    model = HEMletsPoSh(
        sizes.num_input_joints, sizes.feature_channels, sizes.hidden, num_betas=sizes.num_betas
    )
    load_strict(model, state)
    return model


def posh_input_joints(joints_camera: np.ndarray, num_input_joints: int) -> torch.Tensor:
    """(N, 17, 3) pelvis-relative optical-frame H36M joints -> PoSh's y-up input (N, 17 or 18, 3)."""
    joints = np.asarray(joints_camera, dtype=np.float64)
    joints = joints - joints[:, :1]
    joints = joints @ Y_UP_TO_OPTICAL.numpy().astype(np.float64).T  # self-inverse: optical -> y-up
    if num_input_joints == HEMLETS_NUM_JOINTS:
        thorax = joints[:, list(_SHOULDERS)].mean(axis=1, keepdims=True)
        joints = np.concatenate([joints, thorax], axis=1)
    return torch.from_numpy(np.nan_to_num(joints).astype(np.float32))


class MeshOutput:
    """SMPL bodies from lifted H36M-17 joints (see the module docstring)."""

    def __init__(self, smpl_model_path: str, posh_checkpoint: str = "", gender: str = "neutral",
                 pipeline: str = "", publish_vertices: bool = True) -> None:
        self.gender = normalise_gender(gender)
        self.smpl = SMPLModel.from_file(smpl_model_path, gender=self.gender).eval()
        self.smpl_model_path = smpl_model_path
        if posh_checkpoint:
            self.posh = load_posh(posh_checkpoint)
            self.posh_source = posh_checkpoint
        else:
            LOGGER.warning(random_posh_message(pipeline or "<pipeline>"))
            self.posh = HEMletsPoSh(num_input_joints=len(H36M_17), feature_channels=0)
            self.posh_source = "RANDOM weights (posh_checkpoint not set)"
        self.posh.eval().requires_grad_(False)
        self.publish_vertices = publish_vertices
        self._faces = self.smpl.faces.cpu().numpy().astype(np.int64)

    @classmethod
    def from_options(cls, pipeline: str, smpl_model_path: str, posh_checkpoint: str = "",
                     gender: str = "neutral", publish_vertices: bool = True) -> MeshOutput | None:
        """None (and the one start-up message naming ``<pipeline>.smpl_model_path``) without a model path."""
        if not smpl_model_path:
            ignored = (["posh_checkpoint"] if posh_checkpoint else []) + (
                ["smpl_gender"] if normalise_gender(gender) != "neutral" else [])
            LOGGER.warning(
                ignored_options_message(pipeline, ignored) if ignored else mesh_off_message(pipeline)
            )
            return None
        return cls(smpl_model_path, posh_checkpoint, gender, pipeline, publish_vertices)

    @property
    def faces(self) -> np.ndarray:
        """(F, 3) triangles of the SMPL mesh."""
        return self._faces

    @torch.inference_mode()
    def estimate(self, joints_camera: np.ndarray, roots: np.ndarray | None = None) -> list[SMPLEstimate]:
        """One body per person.

        ``joints_camera`` (N, 17, 3) H36M joints in the optical frame (absolute or pelvis-relative);
        ``roots`` (N, 3) where each SMPL pelvis goes (metres, optical frame), NaN rows or None: the origin.
        """
        joints_camera = np.asarray(joints_camera, dtype=np.float64)
        count = len(joints_camera)
        if count == 0:
            return []
        dtype = self.smpl.v_template.dtype
        posh = self.posh(posh_input_joints(joints_camera, self.posh.num_input_joints),
                         self._zero_features(count))
        rotations, betas = posh.rotation_matrices.to(dtype), posh.betas.to(dtype)[:, : self.smpl.num_betas]
        rest_root = self.smpl.rest_joints(betas, count)[:, 0]
        camera = smpl_to_camera_frame(rotations, torch.zeros_like(rest_root), rest_root)
        given = (
            np.zeros((count, 3)) if roots is None else np.asarray(roots, dtype=np.float64).reshape(count, 3)
        )
        root = torch.from_numpy(np.where(np.isfinite(given), given, 0.0)).to(dtype)
        translation = root - rest_root
        body = self.smpl(camera.rotation_matrices, betas, translation)
        axis_angle = matrix_to_axis_angle(camera.rotation_matrices).cpu().numpy().astype(np.float64)
        betas_out = np.zeros((count, NUM_BETAS))
        width = min(NUM_BETAS, betas.shape[1])
        betas_out[:, :width] = betas[:, :width].cpu().numpy()
        joints = body.joints.cpu().numpy().astype(np.float64)
        vertices = body.vertices.cpu().numpy().astype(np.float32) if self.publish_vertices else None
        translation_np = translation.cpu().numpy().astype(np.float64)
        return [
            SMPLEstimate(
                betas=betas_out[i],
                body_pose=axis_angle[i],
                translation=translation_np[i],
                joints=joints[i],
                vertices=None if vertices is None else vertices[i],
                gender=self.gender,
            )
            for i in range(count)
        ]

    def _zero_features(self, count: int) -> torch.Tensor | None:
        channels = self.posh.feature_channels
        return torch.zeros(count, channels) if channels > 0 else None

    def describe(self) -> str:
        return f"SMPL {self.smpl_model_path} ({self.gender}) via HEMlets PoSh {self.posh_source}"
