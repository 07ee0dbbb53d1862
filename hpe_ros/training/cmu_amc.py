"""CMU motion capture in its own Acclaim ASF/AMC text format, turned into the 38-joint tree of
:mod:`hpe_ros.training.cmu_mocap`.

ASF (one per subject) declares the skeleton: ``:units`` (``length 0.45``: one length unit is
1/0.45 inch, ``angle deg``), ``:root`` (the order of the root's channels, its ``axis`` order and
rest ``orientation``), ``:bonedata`` (per bone: ``direction`` in the world rest frame, ``length``,
``axis a b c XYZ`` the Euler angles of the bone's local frame, ``dof`` its channels) and
``:hierarchy`` (parent child ...). AMC (one per trial) holds, per frame, a frame number and one
line ``bone value ...`` per bone with channels, in the order of the bone's ``dof`` (the root's:
``order``).

Euler angles follow the Acclaim convention of CMU's viewer: for the order ``XYZ`` the matrix
(column vectors) is ``Rz @ Ry @ Rx``, the first listed axis applied first; ``axis`` angles and
``dof`` values alike. A bone's motion in its parent's world-aligned rest frame is
``L = C @ M @ C^T`` (``C`` the ``axis`` rotation, ``M`` the channels' rotation), and its world
rotation is its parent's times ``L``. The literature's tree carries that rotation on the joint
where the bone starts, in the row-vector convention, so its exponential map is that of ``L^T``
(:data:`BONE_OF_JOINT`; the checks of this against the DMGNN release: a knee turns about the
femur's axis tilted 20 deg, ``-x`` then; the fingers' constant 7.125 deg lands on ``+z``).

The subject's own bone lengths are not kept: like the DMGNN release, the sequences are the root
position (metres) and the rotations, and the training template (``cmu_mocap.CMU_OFFSETS_ASF``)
and its segment-scale augmentation give the body. :func:`asf_forward_kinematics` (the subject's
own skeleton) is the independent reference the conversion is tested against.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
from scipy.spatial.transform import Rotation

from hpe_ros.training import cmu_mocap

# The bone whose rotation each joint of the 38-joint tree carries (the bone that starts there);
# leaves (toe tips, head top, finger and thumb ends) carry none.
BONE_OF_JOINT: dict[int, str] = {
    0: "root", 1: "lhipjoint", 2: "lfemur", 3: "ltibia", 4: "lfoot", 5: "ltoes",
    7: "rhipjoint", 8: "rfemur", 9: "rtibia", 10: "rfoot", 11: "rtoes",
    13: "lowerback", 14: "upperback", 15: "thorax", 16: "lowerneck", 17: "upperneck", 18: "head",
    20: "lclavicle", 21: "lhumerus", 22: "lradius", 23: "lwrist", 24: "lhand", 25: "lfingers", 27: "lthumb",
    29: "rclavicle", 30: "rhumerus", 31: "rradius", 32: "rwrist", 33: "rhand", 34: "rfingers", 36: "rthumb",
}  # fmt: skip
CMU_FPS = 120.0  # the CMU database's capture rate


class AsfAmcError(ValueError):
    """A malformed or inconsistent ASF/AMC file."""


@dataclass(frozen=True)
class AsfBone:
    name: str
    direction: np.ndarray  # (3,) unit vector, world rest frame
    length: float  # ASF length units
    axis: np.ndarray  # (3, 3) rotation of the bone's local frame (column vectors)
    dofs: tuple[str, ...]  # e.g. ("rx", "ry", "rz")


@dataclass(frozen=True)
class AsfSkeleton:
    length_unit_m: float  # metres per ASF length unit
    degrees: bool
    root_order: tuple[str, ...]  # the root's channels, e.g. ("tx", "ty", "tz", "rx", "ry", "rz")
    root_axis: np.ndarray  # (3, 3) rest orientation of the root
    bones: dict[str, AsfBone]
    parents: dict[str, str]  # child -> parent ("root" at the top)

    def channels(self, bone: str) -> tuple[str, ...]:
        return self.root_order if bone == "root" else self.bones[bone].dofs

    def order(self) -> list[str]:
        """Bones with their parents first."""
        out: list[str] = []
        children: dict[str, list[str]] = {}
        for child, parent in self.parents.items():
            children.setdefault(parent, []).append(child)
        stack = ["root"]
        while stack:
            bone = stack.pop()
            if bone != "root":
                out.append(bone)
            stack.extend(reversed(children.get(bone, [])))
        return out


@dataclass(frozen=True)
class AmcMotion:
    """Channel values of every frame: ``values[bone]`` is (T, number of channels)."""

    values: dict[str, np.ndarray]
    num_frames: int


def euler_matrix(angles: np.ndarray, order: str, degrees: bool = True) -> np.ndarray:
    """(..., 3, 3) rotations of (..., len(order)) Euler angles, the first axis of ``order`` applied first."""
    angles = np.asarray(angles, dtype=np.float64)
    if angles.shape[-1] != len(order):
        raise ValueError(f"{angles.shape[-1]} angles for the order {order!r}")
    out = np.broadcast_to(np.eye(3), angles.shape[:-1] + (3, 3)).copy()
    for index, axis in enumerate(order.lower()):
        unit = np.zeros(3)
        unit["xyz".index(axis)] = 1.0
        angle = np.radians(angles[..., index]) if degrees else angles[..., index]
        step = Rotation.from_rotvec(angle.reshape(-1, 1) * unit).as_matrix().reshape(out.shape)
        out = step @ out
    return out


def _tokens(text: str) -> list[list[str]]:
    lines = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            lines.append(line.split())
    return lines


def parse_asf(text: str) -> AsfSkeleton:
    """Parse the text of an ASF file."""
    lines = _tokens(text)
    section = ""
    length_unit = 1.0
    degrees = True
    root_order: tuple[str, ...] = ()
    root_axis_order, root_orientation = "XYZ", np.zeros(3)
    bones: dict[str, AsfBone] = {}
    parents: dict[str, str] = {}
    current: dict[str, object] | None = None
    for words in lines:
        key = words[0].lower()
        if key.startswith(":"):
            section = key
            continue
        if section == ":units":
            if key == "length":
                length_unit = float(words[1])
            elif key == "angle":
                degrees = words[1].lower().startswith("deg")
        elif section == ":root":
            if key == "order":
                root_order = tuple(word.lower() for word in words[1:])
            elif key == "axis":
                root_axis_order = words[1]
            elif key == "orientation":
                root_orientation = np.array([float(word) for word in words[1:4]])
        elif section == ":bonedata":
            if key == "begin":
                current = {"dofs": ()}
            elif key == "end":
                if current is None or "name" not in current:
                    raise AsfAmcError("bone without a name")
                bones[str(current["name"])] = _make_bone(current, degrees)
                current = None
            elif current is not None:
                if key == "name":
                    current["name"] = words[1]
                elif key == "direction":
                    current["direction"] = np.array([float(word) for word in words[1:4]])
                elif key == "length":
                    current["length"] = float(words[1])
                elif key == "axis":
                    current["axis"] = (np.array([float(word) for word in words[1:4]]), words[4])
                elif key == "dof":
                    current["dofs"] = tuple(word.lower() for word in words[1:])
        elif section == ":hierarchy" and key not in ("begin", "end"):
            for child in words[1:]:
                parents[child] = words[0]
    if not root_order or not bones:
        raise AsfAmcError("no :root order or no :bonedata")
    missing = [bone for bone in parents if bone not in bones]
    if missing:
        raise AsfAmcError(f"hierarchy names undefined bones {missing}")
    return AsfSkeleton(
        length_unit_m=0.0254 / length_unit,
        degrees=degrees,
        root_order=root_order,
        root_axis=euler_matrix(root_orientation, root_axis_order, degrees),
        bones=bones,
        parents=parents,
    )


def _make_bone(fields: dict[str, object], degrees: bool) -> AsfBone:
    try:
        direction = np.asarray(fields["direction"], dtype=np.float64)
        angles, order = cast(tuple[np.ndarray, str], fields.get("axis", (np.zeros(3), "XYZ")))
        length = float(fields["length"])  # type: ignore[arg-type]
    except KeyError as error:
        raise AsfAmcError(f"bone {fields.get('name')!r} lacks {error}") from None
    norm = np.linalg.norm(direction)
    return AsfBone(
        name=str(fields["name"]),
        direction=direction / norm if norm > 0 else direction,
        length=length,
        axis=euler_matrix(angles, order, degrees),
        dofs=tuple(fields["dofs"]),  # type: ignore[arg-type]
    )


def parse_amc(text: str, skeleton: AsfSkeleton) -> AmcMotion:
    """Parse the text of an AMC file; a bone missing from a frame keeps its values at 0."""
    frames: list[dict[str, list[float]]] = []
    for words in _tokens(text):
        if words[0].startswith(":"):
            continue
        if len(words) == 1 and words[0].isdigit():
            frames.append({})
            continue
        if not frames:
            raise AsfAmcError(f"values before the first frame number: {' '.join(words)}")
        bone = words[0]
        if bone != "root" and bone not in skeleton.bones:
            raise AsfAmcError(f"AMC names a bone the ASF lacks: {bone}")
        values = [float(word) for word in words[1:]]
        if len(values) != len(skeleton.channels(bone)):
            raise AsfAmcError(f"{bone}: {len(values)} values for the channels {skeleton.channels(bone)}")
        frames[-1][bone] = values
    names = ["root"] + [bone for bone in skeleton.bones if skeleton.bones[bone].dofs]
    arrays: dict[str, np.ndarray] = {}
    for bone in names:
        channels = len(skeleton.channels(bone))
        arrays[bone] = np.array([frame.get(bone, [0.0] * channels) for frame in frames], dtype=np.float64)
        arrays[bone] = arrays[bone].reshape(len(frames), channels)
    if not np.all(np.isfinite(np.concatenate([v.ravel() for v in arrays.values()]))):
        raise AsfAmcError("non-finite values")
    return AmcMotion(arrays, len(frames))


def _channel_rotation(skeleton: AsfSkeleton, motion: AmcMotion, bone: str) -> np.ndarray:
    """(T, 3, 3) rotation M of the bone's rotation channels (identity without any)."""
    channels = skeleton.channels(bone)
    rotations = [index for index, name in enumerate(channels) if name.startswith("r")]
    if bone not in motion.values or not rotations:
        return np.broadcast_to(np.eye(3), (motion.num_frames, 3, 3))
    order = "".join(channels[index][1] for index in rotations)
    return euler_matrix(motion.values[bone][:, rotations], order, skeleton.degrees)


def local_rotations(skeleton: AsfSkeleton, motion: AmcMotion) -> dict[str, np.ndarray]:
    """(T, 3, 3) motion of every bone (and the root) in its parent's world-aligned frame: C M C^T."""
    out = {}
    for bone in ["root", *skeleton.bones]:
        axis = skeleton.root_axis if bone == "root" else skeleton.bones[bone].axis
        out[bone] = axis @ _channel_rotation(skeleton, motion, bone) @ axis.T
    return out


def root_translation_m(skeleton: AsfSkeleton, motion: AmcMotion) -> np.ndarray:
    """(T, 3) root positions in metres."""
    channels = skeleton.root_order
    out = np.zeros((motion.num_frames, 3))
    for index, name in enumerate(channels):
        if name.startswith("t"):
            out[:, "xyz".index(name[1])] = motion.values["root"][:, index]
    return out * skeleton.length_unit_m


def asf_forward_kinematics(skeleton: AsfSkeleton, motion: AmcMotion) -> dict[str, np.ndarray]:
    """(T, 3) world position (metres) of every bone's end (and the root) on the subject's own skeleton."""
    local = local_rotations(skeleton, motion)
    world = {"root": local["root"]}
    positions = {"root": root_translation_m(skeleton, motion)}
    for bone in skeleton.order():
        parent = skeleton.parents[bone]
        world[bone] = world[parent] @ local[bone]
        spec = skeleton.bones[bone]
        vector = spec.direction * spec.length * skeleton.length_unit_m
        positions[bone] = positions[parent] + world[bone] @ vector
    return positions


def to_cmu_sequence(skeleton: AsfSkeleton, motion: AmcMotion, name: str, action: str = "amc",
                    stride: int = 1) -> cmu_mocap.CmuSequence:
    """The trial as a :class:`cmu_mocap.CmuSequence` (every ``stride``-th frame) of the 38-joint tree."""
    missing = sorted(set(BONE_OF_JOINT.values()) - {"root"} - set(skeleton.bones))
    if missing:
        raise AsfAmcError(f"not a CMU skeleton: no bones {missing}")
    local = local_rotations(skeleton, motion)
    frames = slice(None, None, max(1, int(stride)))
    count = len(range(motion.num_frames)[frames])
    rotations = np.zeros((count, cmu_mocap.NUM_CMU_JOINTS, 3))
    for joint, bone in BONE_OF_JOINT.items():
        # The row-vector rotation is L^T: its exponential map is minus that of L.
        rotations[:, joint] = -Rotation.from_matrix(local[bone][frames]).as_rotvec()
    root = root_translation_m(skeleton, motion)[frames]
    return cmu_mocap.CmuSequence(name=name, action=action, root_position=root, rotations=rotations)


# --- trial files and the cache ---------------------------------------------------------------

_TRIAL = re.compile(r"^(\d+)_(\d+)\.amc$", re.IGNORECASE)


@dataclass(frozen=True)
class TrialFile:
    subject: str  # "13"
    trial: str  # "13_30"
    amc: Path
    asf: Path


def list_trials(raw_dir: str | os.PathLike[str]) -> list[TrialFile]:
    """``<subject>_<trial>.amc`` files that have their ``<subject>.asf`` beside them, sorted.

    A trial without its subject's skeleton is left out (the skeleton's axes are needed to read it).
    """
    raw_dir = Path(raw_dir)
    out = []
    for path in sorted(raw_dir.glob("*.amc")):
        match = _TRIAL.match(path.name)
        if not match:
            continue
        asf = raw_dir / f"{match.group(1)}.asf"
        if asf.is_file():
            out.append(TrialFile(match.group(1), path.stem, path, asf))
    if not out:
        raise FileNotFoundError(f"no <subject>_<trial>.amc files in {raw_dir}")
    return out


def read_trial(trial: TrialFile, stride: int = 1) -> cmu_mocap.CmuSequence:
    skeleton = parse_asf(trial.asf.read_text(errors="replace"))
    motion = parse_amc(trial.amc.read_text(errors="replace"), skeleton)
    return to_cmu_sequence(skeleton, motion, trial.trial, f"subject_{trial.subject}", stride)


def save_sequence(sequence: cmu_mocap.CmuSequence, path: str | os.PathLike[str], source: str = "",
                  stride: int = 1) -> None:
    """Write a sequence to ``path`` (.npz: root_position, rotations as float32, metadata)."""
    np.savez_compressed(
        path,
        root_position=sequence.root_position.astype(np.float32),
        rotations=sequence.rotations.astype(np.float32),
        name=sequence.name,
        action=sequence.action,
        source=source,
        fps=CMU_FPS / stride,
    )


def load_sequence(path: str | os.PathLike[str]) -> cmu_mocap.CmuSequence:
    with np.load(path, allow_pickle=False) as data:
        root, rotations = data["root_position"].astype(np.float64), data["rotations"].astype(np.float64)
        name, action = str(data["name"]), str(data["action"])
    if root.ndim != 2 or root.shape[1] != 3 or rotations.shape != (len(root), cmu_mocap.NUM_CMU_JOINTS, 3):
        raise AsfAmcError(f"{path}: expected (T, 3) root positions and (T, 38, 3) rotations")
    if not (np.isfinite(root).all() and np.isfinite(rotations).all()):
        raise AsfAmcError(f"{path}: non-finite values")
    return cmu_mocap.CmuSequence(name=name, action=action, root_position=root, rotations=rotations)


def read_extra_sequences(directory: str | os.PathLike[str], stride: int = 1) -> list[cmu_mocap.CmuSequence]:
    """The sequences of a folder: converted ``.npz`` files, else ``.amc`` trials read at ``stride``."""
    directory = Path(directory)
    caches = sorted(directory.glob("*.npz"))
    if caches:
        return [load_sequence(path) for path in caches]
    return [read_trial(trial, stride) for trial in list_trials(directory)]


def tree_offsets_m(skeleton: AsfSkeleton) -> np.ndarray:
    """(38, 3) offsets (metres) of the 38-joint tree from the subject's own bones.

    A joint's offset is the vector of the bone its parent joint carries (zero under the root).
    """
    offsets = np.zeros((cmu_mocap.NUM_CMU_JOINTS, 3))
    for joint in range(1, cmu_mocap.NUM_CMU_JOINTS):
        bone = BONE_OF_JOINT.get(cmu_mocap.CMU_PARENTS[joint], "root")
        if bone != "root":
            spec = skeleton.bones[bone]
            offsets[joint] = spec.direction * spec.length * skeleton.length_unit_m
    return offsets
