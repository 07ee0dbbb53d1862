"""CMU motion capture in the exponential-map format of the motion-prediction literature.

File format (one frame per line, 117 comma-separated values; limaosen0/DMGNN's CMU release):
values 0-2 are the root position, values 3-116 are 38 exponential-map rotations, one per joint of
the 38-joint tree below (joint 0's rotation is the global orientation of the body). Lengths (root
position and bone offsets) are in Acclaim ASF units: CMU's skeletons declare ``length 0.45``,
i.e. one unit is 1/0.45 inch = 0.05644 m. The world is y-up (the floor at y = 0), +z is where a
person in the rest pose faces and +x is their left.

Forward kinematics uses the literature's row-vector convention: a joint's global rotation is
``G_j = R_j @ G_parent`` and its position ``p_j = offset_j @ G_parent + p_parent`` (``R_j`` the
Rodrigues matrix of the joint's exponential map).

The released skeleton has zero offsets for two CMU bones: ``thorax`` (the clavicles and the neck
hang straight from the top of ``upperback``) and ``lwrist``/``rwrist`` (CMU's forearm-twist
segment between the radius and the hand). Without the thorax the torso is short (mid-hips to
shoulders 0.38 m, to the top of the lowerneck 0.42 m; Human3.6M: ~0.43 m and 0.49 m to its
thorax). :data:`CMU_OFFSETS_ASF` restores the thorax along ``upperback``'s direction with half of
its length (CMU's thorax bone is ~2.06 units; the full length overshoots Human3.6M by 6 cm), which
puts the H36M thorax 0.48 m above the pelvis and 0.26 m above the spine joint (H36M: 0.49, 0.255).
The wrist is handled in the H36M mapping.

The mapping to Human3.6M's 17 joints (:func:`cmu_to_h36m`) and the BlazePose-like landmarks
(:func:`cmu_to_blazepose`) are approximations documented where they are defined.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hpe_ros.core.joints import BLAZEPOSE_33, H36M_17

ASF_UNIT_M = 0.0254 / 0.45  # one Acclaim length unit of the CMU skeletons, in metres
NUM_CMU_JOINTS = 38
VALUES_PER_FRAME = 3 + 3 * NUM_CMU_JOINTS  # root position + one exponential map per joint
UP_AXIS = 1  # y is up in the CMU world
FORWARD_AXIS = 2  # +z: the facing direction of the rest pose
LEFT_AXIS = 0  # +x: the person's left in the rest pose

# Joint positions of the 38-joint tree. A joint is named after the CMU bone that starts there
# ("*_start" where the literature's tree has a zero-length joint at its parent's position).
CMU_JOINT_NAMES: tuple[str, ...] = (
    "root",
    "left_hipjoint_start",  # at the root; CMU's lhipjoint bone (no rotation in the data)
    "left_hip",  # femur head (lfemur start)
    "left_knee",
    "left_ankle",
    "left_toe_base",  # end of lfoot (ball of the foot)
    "left_toe_tip",
    "right_hipjoint_start",
    "right_hip",
    "right_knee",
    "right_ankle",
    "right_toe_base",
    "right_toe_tip",
    "lowerback_start",  # at the root
    "upperback_start",  # top of lowerback
    "thorax_start",  # top of upperback
    "neck_base",  # top of thorax: lowerneck and clavicles start here
    "upperneck_start",
    "head_base",  # top of upperneck, where CMU's head bone starts
    "head_top",
    "left_clavicle_start",
    "left_shoulder",  # lhumerus start
    "left_elbow",
    "left_radius_end",  # the forearm's flexion segment ends here; the twist segment is zero length
    "left_hand_start",
    "left_hand_end",
    "left_fingers_end",
    "left_thumb_start",
    "left_thumb_end",
    "right_clavicle_start",
    "right_shoulder",
    "right_elbow",
    "right_radius_end",
    "right_hand_start",
    "right_hand_end",
    "right_fingers_end",
    "right_thumb_start",
    "right_thumb_end",
)

CMU_PARENTS: tuple[int, ...] = (
    -1, 0, 1, 2, 3, 4, 5, 0, 7, 8, 9, 10, 11, 0, 13, 14, 15, 16, 17, 18,
    15, 20, 21, 22, 23, 24, 25, 23, 27, 15, 29, 30, 31, 32, 33, 34, 32, 36,
)  # fmt: skip

_THORAX_ASF = (0.5 * 0.01021, 0.5 * 2.06436, 0.5 * -0.05921)  # half of upperback's vector

# Offset of every joint from its parent, in the parent's frame, in ASF units (the literature's
# CMU template, with the thorax restored on joints 16, 20 and 29 as explained above).
CMU_OFFSETS_ASF = np.array(
    [
        (0.0, 0.0, 0.0),
        (0.0, 0.0, 0.0),
        (1.65674, -1.80282, 0.62477),
        (2.59720, -7.13576, 0.0),
        (2.49236, -6.84770, 0.0),
        (0.19704, -0.54136, 2.14581),
        (0.0, 0.0, 1.11249),
        (0.0, 0.0, 0.0),
        (-1.61070, -1.80282, 0.62476),
        (-2.59502, -7.12977, 0.0),
        (-2.46780, -6.78024, 0.0),
        (-0.23024, -0.63258, 2.13368),
        (0.0, 0.0, 1.11569),
        (0.0, 0.0, 0.0),
        (0.01961, 2.05450, -0.14112),
        (0.01021, 2.06436, -0.05921),
        _THORAX_ASF,  # restored thorax (zero in the release)
        (0.00713, 1.56711, 0.14968),
        (0.03429, 1.56041, -0.10006),
        (0.01305, 1.62560, -0.05265),
        _THORAX_ASF,  # restored thorax
        (3.54205, 0.90436, -0.17364),
        (4.86513, 0.0, 0.0),
        (3.35554, 0.0, 0.0),
        (0.0, 0.0, 0.0),
        (0.66117, 0.0, 0.0),
        (0.53306, 0.0, 0.0),
        (0.0, 0.0, 0.0),
        (0.54120, 0.0, 0.54120),
        _THORAX_ASF,  # restored thorax
        (-3.49802, 0.75994, -0.32616),
        (-5.02649, 0.0, 0.0),
        (-3.36431, 0.0, 0.0),
        (0.0, 0.0, 0.0),
        (-0.73041, 0.0, 0.0),
        (-0.58887, 0.0, 0.0),
        (0.0, 0.0, 0.0),
        (-0.59786, 0.0, 0.59786),
    ]
)
CMU_OFFSETS_ASF.setflags(write=False)

# CMU's wrist bone (forearm twist, ~1.68 units) is zero length in the release; the anatomical
# wrist lies inside that segment. Half of it puts the H36M wrist 4.7 cm past the radius end,
# giving a 0.24 m forearm (Human3.6M subjects: 0.24-0.25 m).
WRIST_EXTENSION_M = 0.5 * 1.68 * ASF_UNIT_M


@dataclass(frozen=True)
class CmuSequence:
    """One motion file: root positions (metres) and per-joint exponential maps."""

    name: str  # "<action>_<n>"
    action: str
    root_position: np.ndarray  # (T, 3) metres, CMU world (y up)
    rotations: np.ndarray  # (T, 38, 3) exponential maps

    @property
    def num_frames(self) -> int:
        return int(self.root_position.shape[0])


@dataclass(frozen=True)
class CmuPose:
    """Forward kinematics result."""

    positions: np.ndarray  # (..., 38, 3) metres, CMU world
    rotations: np.ndarray  # (..., 38, 3, 3) global rotations (row-vector convention)


def read_cmu_sequence(path: str | os.PathLike[str]) -> CmuSequence:
    """Parse one ``<action>_<n>.txt`` file."""
    path = Path(path)
    values = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
    if values.shape[1] != VALUES_PER_FRAME:
        raise ValueError(f"{path}: expected {VALUES_PER_FRAME} values per frame, got {values.shape[1]}")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{path}: non-finite values")
    name = path.stem
    action = path.parent.name
    return CmuSequence(
        name=name,
        action=action,
        root_position=values[:, :3] * ASF_UNIT_M,
        rotations=values[:, 3:].reshape(-1, NUM_CMU_JOINTS, 3),
    )


def list_cmu_files(data_dir: str | os.PathLike[str], split: str) -> list[Path]:
    """Sorted ``<split>/<action>/<action>_<n>.txt`` files under ``data_dir`` (a cmu_mocap folder)."""
    files = sorted(Path(data_dir, split).glob("*/*.txt"))
    if not files:
        raise FileNotFoundError(f"no CMU motion files under {Path(data_dir, split)}")
    return files


def read_cmu_split(data_dir: str | os.PathLike[str], split: str) -> list[CmuSequence]:
    return [read_cmu_sequence(path) for path in list_cmu_files(data_dir, split)]


def expmap_to_matrix(expmap: np.ndarray) -> np.ndarray:
    """Rodrigues matrices (..., 3, 3) of (..., 3) exponential maps: I + sin(a) K + (1 - cos(a)) K^2."""
    expmap = np.asarray(expmap, dtype=np.float64)
    angle = np.linalg.norm(expmap, axis=-1)
    axis = expmap / np.maximum(angle, 1e-12)[..., None]
    x, y, z = axis[..., 0], axis[..., 1], axis[..., 2]
    zero = np.zeros_like(x)
    k = np.stack([zero, -z, y, z, zero, -x, -y, x, zero], axis=-1).reshape(*axis.shape[:-1], 3, 3)
    sin = np.sin(angle)[..., None, None]
    cos = np.cos(angle)[..., None, None]
    return np.eye(3) + sin * k + (1.0 - cos) * (k @ k)


def forward_kinematics(
    root_position: np.ndarray,
    rotations: np.ndarray,
    offsets_m: np.ndarray | None = None,
) -> CmuPose:
    """Joint positions of (..., 3) root positions and (..., 38, 3) exponential maps.

    ``offsets_m`` is (38, 3) or (..., 38, 3) per-sample offsets in metres (default: the template).
    """
    root_position = np.asarray(root_position, dtype=np.float64)
    local = expmap_to_matrix(rotations)
    if local.shape[-3:] != (NUM_CMU_JOINTS, 3, 3) or local.shape[:-3] != root_position.shape[:-1]:
        raise ValueError(
            f"expected (..., 3) root positions and (..., {NUM_CMU_JOINTS}, 3) rotations, got "
            f"{root_position.shape} and {np.shape(rotations)}"
        )
    offsets = CMU_OFFSETS_ASF * ASF_UNIT_M if offsets_m is None else np.asarray(offsets_m, dtype=np.float64)
    offsets = np.broadcast_to(offsets, (*root_position.shape[:-1], NUM_CMU_JOINTS, 3))
    positions = np.empty(offsets.shape)
    global_rot = np.empty(local.shape)
    positions[..., 0, :] = root_position + offsets[..., 0, :]
    global_rot[..., 0, :, :] = local[..., 0, :, :]
    for joint in range(1, NUM_CMU_JOINTS):  # parents precede children in the tree order
        parent = CMU_PARENTS[joint]
        parent_rot = global_rot[..., parent, :, :]
        positions[..., joint, :] = (
            np.einsum("...i,...ij->...j", offsets[..., joint, :], parent_rot) + positions[..., parent, :]
        )
        global_rot[..., joint, :, :] = local[..., joint, :, :] @ parent_rot
    return CmuPose(positions=positions, rotations=global_rot)


def sequence_poses(sequence: CmuSequence) -> CmuPose:
    return forward_kinematics(sequence.root_position, sequence.rotations)


def bone_lengths(positions: np.ndarray) -> np.ndarray:
    """(..., 38) distance of every joint from its parent (0 for the root)."""
    parents = np.array(CMU_PARENTS)
    parents[0] = 0
    return np.linalg.norm(positions - positions[..., parents, :], axis=-1)


# --- joint-set mappings ---------------------------------------------------------------------

_J = {name: index for index, name in enumerate(CMU_JOINT_NAMES)}

# Human3.6M's hip joints lie 0.13 m either side of its pelvis; CMU's femur heads only 0.093 m.
H36M_HIP_WIDENING_M = 0.04
# Human3.6M's shoulders are 0.26-0.33 m apart; CMU's humerus starts 0.40 m apart: the H36M
# shoulder is taken 3/4 of the way from the neck base to CMU's shoulder.
H36M_SHOULDER_FRACTION = 0.75
# Points in the head frame (x left, y up, z forward; metres from CMU's head base, which lies
# roughly level with the nose): H36M's neck/nose joint and head joint (forehead / crown).
H36M_NECK_IN_HEAD = (0.0, 0.0, 0.08)
H36M_HEAD_IN_HEAD = (0.0, 0.10, 0.03)
# BlazePose face landmarks in the same head frame (typical adult head dimensions).
BLAZEPOSE_FACE_IN_HEAD = {
    "nose": (0.0, 0.0, 0.10),
    "left_eye": (0.032, 0.035, 0.08),
    "right_eye": (-0.032, 0.035, 0.08),
    "left_ear": (0.075, 0.02, 0.0),
    "right_ear": (-0.075, 0.02, 0.0),
}
# BlazePose (like COCO) places hips on the surface over the greater trochanter: outside and
# a little above the joint centres; its shoulders sit near the acromion, above the joint centres.
BLAZEPOSE_HIP_OUTWARD_M = 0.05
BLAZEPOSE_HIP_UP_M = 0.03
BLAZEPOSE_SHOULDER_UP_M = 0.02


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)


def _in_frame(pose: CmuPose, joint: int, local: tuple[float, float, float]) -> np.ndarray:
    """Point given in the frame of ``joint``'s global rotation (row-vector convention)."""
    return pose.positions[..., joint, :] + np.asarray(local) @ pose.rotations[..., joint, :, :]


def _forearm_wrist(positions: np.ndarray, side: str) -> np.ndarray:
    elbow, radius_end = positions[..., _J[f"{side}_elbow"], :], positions[..., _J[f"{side}_radius_end"], :]
    return radius_end + WRIST_EXTENSION_M * _unit(radius_end - elbow)


def _pelvis_axes(pose: CmuPose) -> tuple[np.ndarray, np.ndarray]:
    """(..., 3) left and up unit vectors of the pelvis (the root's frame)."""
    root_rot = pose.rotations[..., _J["root"], :, :]
    return root_rot[..., LEFT_AXIS, :], root_rot[..., UP_AXIS, :]


def cmu_to_h36m(pose: CmuPose) -> np.ndarray:
    """(..., 17, 3) Human3.6M-17 joints approximated from CMU joints (metres, CMU world).

    pelvis = mid-hips (as in H36M, whose hips are purely lateral of the pelvis); hips = femur
    heads widened by :data:`H36M_HIP_WIDENING_M`; knees, ankles, elbows as in CMU; spine = top of
    lowerback; thorax = top of lowerneck (a few cm above the shoulder line, as in H36M); shoulders
    pulled in towards the neck base (:data:`H36M_SHOULDER_FRACTION`); wrists past CMU's radius end
    (:data:`WRIST_EXTENSION_M`); neck/nose and head placed in the head frame.
    """
    p = pose.positions
    left_axis, _ = _pelvis_axes(pose)
    left_hip = p[..., _J["left_hip"], :] + H36M_HIP_WIDENING_M * left_axis
    right_hip = p[..., _J["right_hip"], :] - H36M_HIP_WIDENING_M * left_axis
    neck_base = p[..., _J["neck_base"], :]
    joints = {
        "pelvis": 0.5 * (left_hip + right_hip),
        "right_hip": right_hip,
        "right_knee": p[..., _J["right_knee"], :],
        "right_ankle": p[..., _J["right_ankle"], :],
        "left_hip": left_hip,
        "left_knee": p[..., _J["left_knee"], :],
        "left_ankle": p[..., _J["left_ankle"], :],
        "spine": p[..., _J["upperback_start"], :],
        "thorax": p[..., _J["upperneck_start"], :],  # top of lowerneck
        "neck": _in_frame(pose, _J["head_base"], H36M_NECK_IN_HEAD),
        "head": _in_frame(pose, _J["head_base"], H36M_HEAD_IN_HEAD),
        "left_shoulder": neck_base + H36M_SHOULDER_FRACTION * (p[..., _J["left_shoulder"], :] - neck_base),
        "left_elbow": p[..., _J["left_elbow"], :],
        "left_wrist": _forearm_wrist(p, "left"),
        "right_shoulder": neck_base + H36M_SHOULDER_FRACTION * (p[..., _J["right_shoulder"], :] - neck_base),
        "right_elbow": p[..., _J["right_elbow"], :],
        "right_wrist": _forearm_wrist(p, "right"),
    }
    return np.stack([joints[name] for name in H36M_17.joint_names], axis=-2)


def cmu_to_blazepose(pose: CmuPose) -> np.ndarray:
    """(..., 33, 3) BlazePose-like landmarks; NaN for the ones not synthesised.

    Made: nose, eyes, ears (head frame), shoulders (CMU's, raised by
    :data:`BLAZEPOSE_SHOULDER_UP_M`), elbows, wrists, hips (outside and above the femur heads),
    knees, ankles. These are the landmarks hpe_ros.core.joints uses to make H36M-17 joints, so
    ``convert_joints(cmu_to_blazepose(pose), BLAZEPOSE_33, H36M_17)`` gives what a BlazePose
    detector's output would become.
    """
    p = pose.positions
    left_axis, up_axis = _pelvis_axes(pose)
    thorax_up = pose.rotations[..., _J["thorax_start"], UP_AXIS, :]
    hip_outward, hip_up = BLAZEPOSE_HIP_OUTWARD_M * left_axis, BLAZEPOSE_HIP_UP_M * up_axis
    points = {
        **{name: _in_frame(pose, _J["head_base"], local) for name, local in BLAZEPOSE_FACE_IN_HEAD.items()},
        "left_hip": p[..., _J["left_hip"], :] + hip_outward + hip_up,
        "right_hip": p[..., _J["right_hip"], :] - hip_outward + hip_up,
        "left_shoulder": p[..., _J["left_shoulder"], :] + BLAZEPOSE_SHOULDER_UP_M * thorax_up,
        "right_shoulder": p[..., _J["right_shoulder"], :] + BLAZEPOSE_SHOULDER_UP_M * thorax_up,
        "left_wrist": _forearm_wrist(p, "left"),
        "right_wrist": _forearm_wrist(p, "right"),
    }
    for name in ("left_elbow", "right_elbow", "left_knee", "right_knee", "left_ankle", "right_ankle"):
        points[name] = p[..., _J[name], :]
    landmarks = np.full((*p.shape[:-2], len(BLAZEPOSE_33), 3), np.nan)
    for name, point in points.items():
        landmarks[..., BLAZEPOSE_33.index(name), :] = point
    return landmarks


# Anthropometric ranges (metres) of adult joint-centre distances, for sanity checks.
PLAUSIBLE_SEGMENTS_M: dict[str, tuple[str, str, float, float]] = {
    "thigh": ("left_hip", "left_knee", 0.35, 0.50),
    "shin": ("left_knee", "left_ankle", 0.33, 0.48),
    "upper_arm": ("left_shoulder", "left_elbow", 0.24, 0.34),
    "forearm": ("left_elbow", "left_wrist", 0.20, 0.30),
    "hip_width": ("left_hip", "right_hip", 0.18, 0.36),
    "shoulder_width": ("left_shoulder", "right_shoulder", 0.24, 0.42),
    "pelvis_to_thorax": ("pelvis", "thorax", 0.40, 0.60),
}


def h36m_segment_lengths(h36m_joints: np.ndarray) -> dict[str, np.ndarray]:
    """(...) lengths of the segments in :data:`PLAUSIBLE_SEGMENTS_M` for (..., 17, 3) joints."""
    return {
        name: np.linalg.norm(
            h36m_joints[..., H36M_17.index(a), :] - h36m_joints[..., H36M_17.index(b), :], axis=-1
        )
        for name, (a, b, _, _) in PLAUSIBLE_SEGMENTS_M.items()
    }
