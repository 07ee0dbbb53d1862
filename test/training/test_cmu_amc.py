"""ASF/AMC reading and its conversion to the 38-joint tree, on a small hand-written CMU-like skeleton."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from hpe_ros.training import cmu_amc, cmu_mocap
from hpe_ros.training.default_lifter import MocapFrames, train_default_lifter

# name, parent, direction, length, axis angles (XYZ), dofs: a CMU skeleton's bones with made-up
# but CMU-like values (femurs tilted 20 deg, arms along x with their odd axes).
_BONES = (
    ("lhipjoint", "root", (0.6, -0.76, 0.2), 2.5, (0, 0, 0), ""),
    ("lfemur", "lhipjoint", (0.34202, -0.939693, 0), 7.5, (0, 0, 20), "rx ry rz"),
    ("ltibia", "lfemur", (0.34202, -0.939693, 0), 7.6, (0, 0, 20), "rx"),
    ("lfoot", "ltibia", (0.0, -0.2, 0.98), 2.2, (-90, 0, 20), "rx rz"),
    ("ltoes", "lfoot", (0, 0, 1), 1.1, (-90, 0, 20), "rx"),
    ("rhipjoint", "root", (-0.6, -0.76, 0.2), 2.5, (0, 0, 0), ""),
    ("rfemur", "rhipjoint", (-0.34202, -0.939693, 0), 7.5, (0, 0, -20), "rx ry rz"),
    ("rtibia", "rfemur", (-0.34202, -0.939693, 0), 7.6, (0, 0, -20), "rx"),
    ("rfoot", "rtibia", (0.0, -0.2, 0.98), 2.2, (-90, 0, -20), "rx rz"),
    ("rtoes", "rfoot", (0, 0, 1), 1.1, (-90, 0, -20), "rx"),
    ("lowerback", "root", (0, 1, -0.05), 2.0, (0, 0, 0), "rx ry rz"),
    ("upperback", "lowerback", (0, 1, 0), 2.0, (0, 0, 0), "rx ry rz"),
    ("thorax", "upperback", (0, 1, 0), 2.0, (0, 0, 0), "rx ry rz"),
    ("lowerneck", "thorax", (0, 1, 0.1), 1.5, (0, 0, 0), "rx ry rz"),
    ("upperneck", "lowerneck", (0, 1, 0), 1.5, (0, 0, 0), "rx ry rz"),
    ("head", "upperneck", (0, 1, 0), 1.6, (0, 0, 0), "rx ry rz"),
    ("lclavicle", "thorax", (0.95, 0.3, 0), 3.5, (0, 0, 0), "ry rz"),
    ("lhumerus", "lclavicle", (1, 0, 0), 5.0, (180, -30, -90), "rx ry rz"),
    ("lradius", "lhumerus", (1, 0, 0), 3.4, (180, -30, -90), "rx"),
    ("lwrist", "lradius", (1, 0, 0), 1.7, (0, 90, 90), "ry"),
    ("lhand", "lwrist", (1, 0, 0), 0.7, (0, 90, 90), "rx rz"),
    ("lfingers", "lhand", (1, 0, 0), 0.5, (0, 90, 90), "rx"),
    ("lthumb", "lwrist", (0.7, 0, 0.7), 0.7, (-90, 45, 0), "rx rz"),
    ("rclavicle", "thorax", (-0.95, 0.3, 0), 3.5, (0, 0, 0), "ry rz"),
    ("rhumerus", "rclavicle", (-1, 0, 0), 5.0, (180, 30, 90), "rx ry rz"),
    ("rradius", "rhumerus", (-1, 0, 0), 3.4, (180, 30, 90), "rx"),
    ("rwrist", "rradius", (-1, 0, 0), 1.7, (0, -90, -90), "ry"),
    ("rhand", "rwrist", (-1, 0, 0), 0.7, (0, -90, -90), "rx rz"),
    ("rfingers", "rhand", (-1, 0, 0), 0.5, (0, -90, -90), "rx"),
    ("rthumb", "rwrist", (-0.7, 0, 0.7), 0.7, (-90, -45, 0), "rx rz"),
)


def make_asf() -> str:
    lines = [
        "# made for the tests", ":version 1.10", ":name VICON", ":units", "  mass 1.0", "  length 0.45",
        "  angle deg", ":root", "   order TX TY TZ RX RY RZ", "   axis XYZ", "   position 0 0 0",
        "   orientation 0 0 0", ":bonedata",
    ]
    for index, (name, _, direction, length, axis, dofs) in enumerate(_BONES, start=1):
        lines += ["  begin", f"     id {index}", f"     name {name}",
                  "     direction " + " ".join(str(v) for v in direction), f"     length {length}",
                  "     axis " + " ".join(str(v) for v in axis) + "  XYZ"]
        if dofs:
            lines += [f"    dof {dofs}", "    limits " + " ".join("(-180.0 180.0)" for _ in dofs.split())]
        lines.append("  end")
    children: dict[str, list[str]] = {}
    for name, parent, *_ in _BONES:
        children.setdefault(parent, []).append(name)
    lines += [":hierarchy", "  begin"] + [f"    {p} {' '.join(c)}" for p, c in children.items()] + ["  end"]
    return "\n".join(lines) + "\n"


def make_amc(frames: list[dict[str, list[float]]]) -> str:
    """AMC text; bones not given in a frame get zeros (the root stands 16 units high)."""
    lines = ["#!OML:ASF test.asf", ":FULLY-SPECIFIED", ":DEGREES"]
    for number, values in enumerate(frames, start=1):
        lines.append(str(number))
        lines.append("root " + " ".join(str(v) for v in values.get("root", [0.0, 16.0, 0.0, 0.0, 0.0, 0.0])))
        for name, _, _, _, _, dofs in _BONES:
            if dofs:
                default = [0.0] * len(dofs.split())
                lines.append(name + " " + " ".join(str(v) for v in values.get(name, default)))
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def skeleton() -> cmu_amc.AsfSkeleton:
    return cmu_amc.parse_asf(make_asf())


def _tree_positions(skeleton: cmu_amc.AsfSkeleton, sequence: cmu_mocap.CmuSequence) -> np.ndarray:
    return cmu_mocap.forward_kinematics(sequence.root_position, sequence.rotations,
                                        cmu_amc.tree_offsets_m(skeleton)).positions


def _bone_end(joint: int) -> str:
    """The ASF bone (or root) whose end is where a joint of the 38-joint tree lies."""
    return cmu_amc.BONE_OF_JOINT.get(cmu_mocap.CMU_PARENTS[joint], "root") if joint else "root"


def test_parse_asf_reads_units_bones_and_hierarchy(skeleton: cmu_amc.AsfSkeleton) -> None:
    assert skeleton.length_unit_m == pytest.approx(cmu_mocap.ASF_UNIT_M)
    assert skeleton.degrees and skeleton.root_order == ("tx", "ty", "tz", "rx", "ry", "rz")
    assert len(skeleton.bones) == len(_BONES)
    assert skeleton.parents["ltibia"] == "lfemur" and skeleton.parents["lowerback"] == "root"
    assert skeleton.bones["lclavicle"].dofs == ("ry", "rz") and skeleton.bones["lhipjoint"].dofs == ()
    np.testing.assert_allclose(np.linalg.norm(skeleton.bones["lfoot"].direction), 1.0)
    order = skeleton.order()
    assert all(skeleton.parents[bone] == "root" or order.index(skeleton.parents[bone]) < order.index(bone)
               for bone in order)


def test_euler_matrix_applies_the_first_listed_axis_first() -> None:
    rng = np.random.default_rng(3)
    angles = rng.uniform(-170, 170, (20, 3))
    for order in ("XYZ", "ZXY", "YZX"):
        # scipy's lower-case (extrinsic) sequences rotate about the fixed axes in the order given.
        expected = Rotation.from_euler(order.lower(), angles, degrees=True).as_matrix()
        np.testing.assert_allclose(cmu_amc.euler_matrix(angles, order), expected, atol=1e-12)
    quarter = cmu_amc.euler_matrix(np.array([90.0]), "X")
    np.testing.assert_allclose(quarter @ np.array([0.0, 1.0, 0.0]), [0.0, 0.0, 1.0], atol=1e-12)


def test_rest_pose_lays_the_bones_along_their_directions(skeleton: cmu_amc.AsfSkeleton) -> None:
    motion = cmu_amc.parse_amc(make_amc([{}]), skeleton)
    ends = cmu_amc.asf_forward_kinematics(skeleton, motion)
    unit = cmu_mocap.ASF_UNIT_M
    np.testing.assert_allclose(ends["root"][0], [0.0, 16.0 * unit, 0.0])
    femur = ends["lfemur"][0] - ends["lhipjoint"][0]
    np.testing.assert_allclose(femur, 7.5 * unit * skeleton.bones["lfemur"].direction, atol=1e-12)


def test_positive_knee_channel_folds_the_shank_backwards(skeleton: cmu_amc.AsfSkeleton) -> None:
    motion = cmu_amc.parse_amc(make_amc([{"ltibia": [90.0]}]), skeleton)
    ends = cmu_amc.asf_forward_kinematics(skeleton, motion)
    shank = ends["ltibia"][0] - ends["lfemur"][0]
    thigh = ends["lfemur"][0] - ends["lhipjoint"][0]
    assert abs(np.dot(shank, thigh)) < 1e-9  # a right angle at the knee
    assert shank[2] < -0.9 * np.linalg.norm(shank)  # the foot goes back (-z; the person faces +z)


def test_conversion_matches_the_literatures_sign_convention(skeleton: cmu_amc.AsfSkeleton) -> None:
    # The DMGNN release stores a knee bent by a as (-a cos 20, -a sin 20, 0) and the fingers' 7.125 deg on +z.
    motion = cmu_amc.parse_amc(make_amc([{"ltibia": [40.0], "lfingers": [7.125]}]), skeleton)
    sequence = cmu_amc.to_cmu_sequence(skeleton, motion, "test_1")
    angle = np.radians(40.0)
    tilt = np.radians(20.0)
    np.testing.assert_allclose(sequence.rotations[0, 3], [-angle * np.cos(tilt), -angle * np.sin(tilt), 0.0],
                               atol=1e-9)
    np.testing.assert_allclose(sequence.rotations[0, 25], [0.0, 0.0, np.radians(7.125)], atol=1e-9)
    leaves = [j for j in range(cmu_mocap.NUM_CMU_JOINTS) if j not in cmu_amc.BONE_OF_JOINT]
    np.testing.assert_array_equal(sequence.rotations[:, leaves], 0.0)


def _random_frames(rng: np.random.Generator, count: int) -> list[dict[str, list[float]]]:
    frames = []
    for _ in range(count):
        values = {name: list(rng.uniform(-80, 80, len(dofs.split())))
                  for name, _, _, _, _, dofs in _BONES if dofs}
        values["root"] = [*rng.uniform(-30, 30, 3), *rng.uniform(-180, 180, 3)]
        frames.append(values)
    return frames


@pytest.mark.fuzz
@settings(deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_tree_kinematics_of_the_conversion_equal_the_skeletons_own(skeleton: cmu_amc.AsfSkeleton,
                                                                    seed: int) -> None:
    motion = cmu_amc.parse_amc(make_amc(_random_frames(np.random.default_rng(seed), 3)), skeleton)
    sequence = cmu_amc.to_cmu_sequence(skeleton, motion, "fuzz_1")
    positions = _tree_positions(skeleton, sequence)
    ends = cmu_amc.asf_forward_kinematics(skeleton, motion)
    for joint in range(cmu_mocap.NUM_CMU_JOINTS):
        np.testing.assert_allclose(positions[:, joint], ends[_bone_end(joint)], atol=1e-9)


def test_stride_keeps_every_nth_frame(skeleton: cmu_amc.AsfSkeleton) -> None:
    frames = _random_frames(np.random.default_rng(1), 7)
    motion = cmu_amc.parse_amc(make_amc(frames), skeleton)
    full = cmu_amc.to_cmu_sequence(skeleton, motion, "a_1")
    thinned = cmu_amc.to_cmu_sequence(skeleton, motion, "a_1", stride=3)
    assert thinned.num_frames == 3
    np.testing.assert_allclose(thinned.rotations, full.rotations[::3])
    np.testing.assert_allclose(thinned.root_position, full.root_position[::3])


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda text: text.replace("ltibia 0.0\n", "ltibia 0.0 1.0\n", 1), "2 values"),
        (lambda text: text.replace("ltibia 0.0\n", "lknee 0.0\n", 1), "lacks: lknee"),
        (lambda text: text.replace("1\nroot", "root", 1), "before the first frame"),
        (lambda text: text.replace("ltibia 0.0\n", "ltibia nan\n", 1), "non-finite"),
    ],
)
def test_malformed_amc_is_refused(skeleton: cmu_amc.AsfSkeleton, edit, message: str) -> None:  # noqa: ANN001
    with pytest.raises(cmu_amc.AsfAmcError, match=message):
        cmu_amc.parse_amc(edit(make_amc([{}])), skeleton)


def test_skeleton_without_the_cmu_bones_is_refused() -> None:
    text = make_asf().replace("name lthumb", "name lpinky")
    text = text.replace("lwrist lhand lthumb", "lwrist lhand lpinky")
    skeleton = cmu_amc.parse_asf(text)
    motion = cmu_amc.parse_amc(make_amc([{}]).replace("lthumb", "lpinky"), skeleton)
    with pytest.raises(cmu_amc.AsfAmcError, match="lthumb"):
        cmu_amc.to_cmu_sequence(skeleton, motion, "x_1")


def _write_trials(folder: Path, count: int = 2, frames: int = 12) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "07.asf").write_text(make_asf())
    rng = np.random.default_rng(5)
    for trial in range(1, count + 1):
        (folder / f"07_{trial:02d}.amc").write_text(make_amc(_random_frames(rng, frames)))
    (folder / "08_01.amc").write_text(make_amc([{}]))  # no 08.asf: left out


def test_trials_convert_to_a_cache_and_back(tmp_path: Path) -> None:
    raw, cache = tmp_path / "raw", tmp_path / "cache"
    _write_trials(raw)
    trials = cmu_amc.list_trials(raw)
    assert [t.trial for t in trials] == ["07_01", "07_02"]
    cache.mkdir()
    for trial in trials:
        cmu_amc.save_sequence(cmu_amc.read_trial(trial, stride=4), cache / f"{trial.trial}.npz", "test", 4)
    loaded = cmu_amc.read_extra_sequences(cache)
    direct = cmu_amc.read_extra_sequences(raw, stride=4)
    assert [s.name for s in loaded] == [s.name for s in direct] == ["07_01", "07_02"]
    for a, b in zip(loaded, direct, strict=True):
        assert a.num_frames == 3 and a.action == "subject_07"
        np.testing.assert_allclose(a.rotations, b.rotations, atol=1e-5)  # stored as float32
        np.testing.assert_allclose(a.root_position, b.root_position, atol=1e-5)
    frames = MocapFrames.from_sequences(loaded)
    assert frames.num_frames == 6 and frames.num_sequences == 2


def test_empty_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        cmu_amc.read_extra_sequences(tmp_path)


def test_training_takes_the_extra_trials(tmp_path: Path, shared_data: Path) -> None:
    _write_trials(tmp_path / "raw", count=2, frames=8)
    out = tmp_path / "lifter.pt"
    report = train_default_lifter(shared_data / "cmu_mocap", out, steps=2, batch_size=16, progress=False,
                                  extra_data=tmp_path / "raw", extra_stride=2,
                                  model_kwargs={"num_joints": 17, "in_features": 3, "hidden": 32,
                                                "num_blocks": 1})
    baseline = MocapFrames.from_split(shared_data / "cmu_mocap", "train").num_frames
    assert report.train_frames == baseline + 8
    import torch

    payload = torch.load(out, weights_only=True)
    assert payload["extra_trials"] == ["07_01", "07_02"]
    assert "plus 2 CMU ASF/AMC trials (8 frames)" in payload["trained_on"]
