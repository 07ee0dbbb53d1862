"""New poses from mocap frames, within joint limits: sitting, crouching, bending, reaching.

The CMU sequences the default lifter learns from are mostly upright (walking, running, sports);
people sitting on chairs, crouching, bending over or reaching are missing. This module bends a
frame's joints further, each by an angle drawn within the human range of motion, on top of the
frame's own rotations (so the person keeps the frame's style and asymmetry):

* hips flexed forward (sitting 70-105 deg, crouching 80-130 deg), with a little abduction;
* knees flexed (sitting 70-110 deg, crouching 100-150 deg);
* the lower back bent forward (up to 50 deg when crouching or bending over) or back a little;
* the upper arms raised or swung (reaching), up to 110 deg about a random horizontal axis.

:data:`SEATED_FAMILIES` adds what Human3.6M's sitting actions show and the first set lacks:
leaning back on a chair, sitting on the floor with the legs out, and with the knees bent
outwards (hips abducted up to 55 deg). :data:`FAMILY_SETS` names the sets for the generator.

Rotations follow :mod:`hpe_ros.training.cmu_mocap`'s row-vector convention: composing
``R_j @ A`` applies ``A`` in the parent's frame after the frame's own rotation ``R_j``. With the
pelvis frame's x axis pointing left, a hip rotation ``A = Rx(+a)`` swings the thigh forward, a
knee ``Rx(-a)`` swings the shank back, and a lower-back ``Rx(-a)`` bends the trunk forward.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from hpe_ros.training import cmu_mocap

_J = {name: index for index, name in enumerate(cmu_mocap.CMU_JOINT_NAMES)}
_LEGS = (("left_hip", "left_knee"), ("right_hip", "right_knee"))
_ARMS = ("left_shoulder", "right_shoulder")


@dataclass(frozen=True)
class PoseFamily:
    """Ranges (degrees) of one family of synthesised poses."""

    name: str
    hip_flexion: tuple[float, float]
    knee_flexion: tuple[float, float]
    trunk_flexion: tuple[float, float]
    asymmetry_deg: float  # std of the left/right difference of hip and knee angles
    hip_abduction: tuple[float, float] = (0.0, 0.0)  # each thigh swung out before flexing (knees apart)


FAMILIES = (
    PoseFamily("sitting", (70.0, 105.0), (70.0, 110.0), (-10.0, 25.0), 8.0),
    PoseFamily("crouching", (80.0, 130.0), (100.0, 150.0), (10.0, 50.0), 10.0),
    PoseFamily("bending", (10.0, 60.0), (0.0, 40.0), (30.0, 80.0), 6.0),
    PoseFamily("kneeling_or_lunging", (0.0, 100.0), (40.0, 140.0), (-10.0, 30.0), 40.0),
)
SEATED_FAMILIES = (
    PoseFamily("sitting_leaning_back", (55.0, 95.0), (60.0, 110.0), (-30.0, 5.0), 10.0, (0.0, 15.0)),
    PoseFamily("sitting_on_the_floor_legs_out", (75.0, 100.0), (0.0, 40.0), (-15.0, 40.0), 10.0,
               (0.0, 20.0)),
    PoseFamily("sitting_on_the_floor_knees_out", (60.0, 100.0), (100.0, 150.0), (0.0, 35.0), 8.0,
               (25.0, 55.0)),
)
#: The family sets :func:`synthesise_poses` draws from, by name (``GeneratorConfig.synthesis_families``).
FAMILY_SETS: dict[str, tuple[PoseFamily, ...]] = {"standard": FAMILIES, "seated": FAMILIES + SEATED_FAMILIES}
ARM_REACH_DEG = 110.0


def _about_x(degrees: np.ndarray) -> np.ndarray:
    return Rotation.from_rotvec(np.radians(degrees)[:, None] * np.array([1.0, 0.0, 0.0])).as_matrix()


def _about_z(radians: np.ndarray) -> np.ndarray:
    return Rotation.from_rotvec(radians[:, None] * np.array([0.0, 0.0, 1.0])).as_matrix()


def _compose(expmaps: np.ndarray, joint: int, extra: np.ndarray) -> None:
    """``expmaps[:, joint] <- log(exp(expmaps[:, joint]) @ extra)`` in place."""
    local = Rotation.from_rotvec(expmaps[:, joint]).as_matrix()
    expmaps[:, joint] = Rotation.from_matrix(local @ extra).as_rotvec()


def synthesise_poses(
    rotations: np.ndarray,
    rng: np.random.Generator,
    arm_rate: float = 0.5,
    families: tuple[PoseFamily, ...] = FAMILIES,
) -> np.ndarray:
    """(B, 38, 3) exponential maps of (B, 38, 3) frames bent into a random one of ``families`` each.

    With probability ``arm_rate`` per arm, the upper arm is also swung about a random
    horizontal axis by up to :data:`ARM_REACH_DEG`.
    """
    out = np.array(rotations, dtype=np.float64, copy=True)
    count = len(out)
    family = rng.integers(len(families), size=count)
    hip = np.empty(count)
    knee = np.empty(count)
    trunk = np.empty(count)
    asymmetry = np.empty(count)
    abduction_low, abduction_range = np.empty(count), np.empty(count)
    for index, spec in enumerate(families):
        chosen = family == index
        n = int(chosen.sum())
        hip[chosen] = rng.uniform(*spec.hip_flexion, n)
        knee[chosen] = rng.uniform(*spec.knee_flexion, n)
        trunk[chosen] = rng.uniform(*spec.trunk_flexion, n)
        asymmetry[chosen] = spec.asymmetry_deg
        abduction_low[chosen] = spec.hip_abduction[0]
        abduction_range[chosen] = spec.hip_abduction[1] - spec.hip_abduction[0]
    spread = any(spec.hip_abduction != (0.0, 0.0) for spec in families)
    for side, (hip_joint, knee_joint) in enumerate(_LEGS):
        sign = 1.0 if side == 0 else -1.0
        hip_angle = np.clip(hip + sign * 0.5 * asymmetry * rng.standard_normal(count), -20.0, 135.0)
        knee_angle = np.clip(knee + sign * 0.5 * asymmetry * rng.standard_normal(count), 0.0, 155.0)
        abduction = Rotation.from_rotvec(
            np.radians(sign * rng.uniform(0.0, 15.0, count))[:, None] * np.array([0.0, 0.0, 1.0])
        ).as_matrix()
        hip_rotation = _about_x(hip_angle) @ abduction
        if spread:  # about the forward axis before the flexion: the knees stay apart when flexed
            outwards = np.radians(sign * (abduction_low + abduction_range * rng.random(count)))
            hip_rotation = _about_z(outwards) @ hip_rotation
        _compose(out, _J[hip_joint], hip_rotation)
        _compose(out, _J[knee_joint], _about_x(-knee_angle))
    _compose(out, _J["lowerback_start"], _about_x(-trunk))
    for arm in _ARMS:
        swing = rng.random(count) < arm_rate
        if swing.any():
            axis_angle = rng.uniform(0.0, 2.0 * np.pi, int(swing.sum()))
            axis = np.stack([np.zeros_like(axis_angle), np.cos(axis_angle), np.sin(axis_angle)], axis=1)
            angle = np.radians(rng.uniform(0.0, ARM_REACH_DEG, len(axis)))
            extra = Rotation.from_rotvec(axis * angle[:, None]).as_matrix()
            joint = _J[arm]
            local = Rotation.from_rotvec(out[swing, joint]).as_matrix()
            out[swing, joint] = Rotation.from_matrix(local @ extra).as_rotvec()
    return out


def floor_root_height(pose: cmu_mocap.CmuPose) -> np.ndarray:
    """(B,) height of the lowest foot point above the floor (y = 0), to put the feet back on it."""
    feet = [_J[name] for name in ("left_ankle", "left_toe_base", "right_ankle", "right_toe_base")]
    return pose.positions[:, feet, cmu_mocap.UP_AXIS].min(axis=1)
