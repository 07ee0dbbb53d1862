"""A small made-up body in the SMPL format, for tests and for running the pipeline without a SMPL licence.

:func:`make_synthetic_smpl` builds a model with SMPL's 24-joint kinematic tree and every array of
the official files, with values that behave like a body: vertices lie around the bones of a
T-pose skeleton (y up, facing +z, metres) and are skinned to the joint that moves their bone,
blended with the neighbouring joint near either end; each joint is regressed exactly from a
symmetric ring of vertices around its rest position; shape directions are smooth (linear in the
rest position) and pose correctives are local to the joints a vertex is skinned to.
:func:`save_synthetic_smpl` writes it in the layout of the official ``.pkl`` (optionally with
``shapedirs`` as pickled ``chumpy.ch.Ch`` objects, as the official files have) or as ``.npz``.
It is not a human body model: its numbers mean nothing beyond exercising the code.
"""

from __future__ import annotations

import copyreg
import io
import os
import pickle
from pathlib import Path
from typing import Any, Literal

import numpy as np

from hpe_ros.models.smpl_file import SMPLData

SMPL_PARENTS = np.array([-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21])
SMPL_JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle",
    "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hand", "right_hand",
)  # fmt: skip
# T-pose rest joints (metres; x = the body's left, y up, z forward), roughly an adult's proportions
REST_JOINTS = np.array(
    [
        [0.00, 0.00, 0.00], [0.06, -0.09, 0.00], [-0.06, -0.09, 0.00], [0.00, 0.11, -0.01],
        [0.10, -0.47, 0.00], [-0.10, -0.47, 0.00], [0.00, 0.24, 0.00], [0.09, -0.87, -0.04],
        [-0.09, -0.87, -0.04], [0.00, 0.30, 0.02], [0.11, -0.93, 0.08], [-0.11, -0.93, 0.08],
        [0.00, 0.51, -0.01], [0.08, 0.42, 0.00], [-0.08, 0.42, 0.00], [0.00, 0.58, 0.04],
        [0.17, 0.45, -0.01], [-0.17, 0.45, -0.01], [0.43, 0.43, -0.03], [-0.43, 0.43, -0.03],
        [0.68, 0.44, -0.02], [-0.68, 0.44, -0.02], [0.76, 0.43, -0.03], [-0.76, 0.43, -0.03],
    ]
)  # fmt: skip
# Human3.6M's 17 joints (pelvis, r hip/knee/ankle, l hip/knee/ankle, spine, thorax, neck/nose, head,
# l shoulder/elbow/wrist, r shoulder/elbow/wrist) as the SMPL joint whose ring regresses them;
# -1 marks the top of the head, regressed from the head's cap of vertices
H36M_FROM_SMPL_JOINT = (0, 2, 5, 8, 1, 4, 7, 6, 12, 15, -1, 16, 18, 20, 17, 19, 21)

_RING_SIZE = 4  # vertices per joint ring: two opposite pairs, so their mean is the joint
_LEAF_JOINTS = (10, 11, 15, 22, 23)
_LEAF_CENTRE_OFFSET = {10: (0.0, -0.02, 0.05), 11: (0.0, -0.02, 0.05), 15: (0.0, 0.09, 0.0),
                       22: (0.06, 0.0, 0.0), 23: (-0.06, 0.0, 0.0)}  # fmt: skip
_TORSO_JOINTS = (0, 3, 6, 9)


def make_synthetic_smpl(num_vertices: int = 6890, num_betas: int = 10, seed: int = 0) -> SMPLData:
    """A SMPL-format model with ``num_vertices`` (>= 196) vertices and ``num_betas`` shape directions."""
    num_joints = len(SMPL_PARENTS)
    min_vertices = num_joints * _RING_SIZE + 100
    if num_vertices < min_vertices:
        raise ValueError(f"num_vertices must be at least {min_vertices}, got {num_vertices}")
    rng = np.random.default_rng(seed)

    ring_vertices, ring_weights = _joint_rings(rng)
    body_vertices, body_weights, groups = _bone_and_leaf_vertices(rng, num_vertices - len(ring_vertices))
    v_template = np.concatenate([ring_vertices, body_vertices])
    weights = np.concatenate([ring_weights, body_weights])

    regressor = np.zeros((num_joints, num_vertices))
    for joint in range(num_joints):
        regressor[joint, joint * _RING_SIZE : (joint + 1) * _RING_SIZE] = 1.0 / _RING_SIZE

    offset = len(ring_vertices)
    ring_groups = [np.arange(j * _RING_SIZE, (j + 1) * _RING_SIZE) for j in range(num_joints)]
    faces = _strip_faces(ring_groups + [group + offset for group in groups])

    # shape directions: smooth fields, linear in the rest position, plus a little noise
    linear_maps = rng.normal(0.0, 0.03, size=(num_betas, 3, 3))
    shapedirs = np.einsum("vi,bji->vjb", v_template, linear_maps) + rng.normal(
        0.0, 0.001, size=(num_vertices, 3, num_betas)
    )
    # pose correctives: vertex v reacts to (R_j - I) only for the joints j it is skinned to
    posedirs = rng.normal(0.0, 0.01, size=(num_vertices, 3, num_joints - 1, 9)) * weights[:, None, 1:, None]
    posedirs = posedirs.reshape(num_vertices, 3, 9 * (num_joints - 1))

    head_cap = groups[-len(_LEAF_JOINTS) + _LEAF_JOINTS.index(15)] + offset
    h36m = np.zeros((len(H36M_FROM_SMPL_JOINT), num_vertices))
    for row, joint in enumerate(H36M_FROM_SMPL_JOINT):
        if joint < 0:
            h36m[row, head_cap] = 1.0 / len(head_cap)
        else:
            h36m[row] = regressor[joint]

    return SMPLData(
        v_template=v_template,
        shapedirs=shapedirs,
        posedirs=posedirs,
        J_regressor=regressor,
        weights=weights,
        parents=SMPL_PARENTS.astype(np.int64).copy(),
        faces=faces,
        extra_regressors={"h36m": h36m},
        gender="neutral",
        source=f"synthetic(num_vertices={num_vertices}, num_betas={num_betas}, seed={seed})",
    )


def _joint_rings(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per joint, two opposite pairs of vertices 1.5-3 cm away, skinned half to it, half to its parent."""
    num_joints = len(SMPL_PARENTS)
    directions = rng.normal(size=(num_joints, 2, 3))
    directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
    radii = rng.uniform(0.015, 0.03, size=(num_joints, 2, 1))
    offsets = directions * radii
    ring = np.stack([offsets[:, 0], -offsets[:, 0], offsets[:, 1], -offsets[:, 1]], axis=1)
    vertices = (REST_JOINTS[:, None, :] + ring).reshape(-1, 3)
    weights = np.zeros((num_joints, _RING_SIZE, num_joints))
    for joint, parent in enumerate(SMPL_PARENTS):
        weights[joint, :, joint] += 0.5 if parent >= 0 else 1.0
        if parent >= 0:
            weights[joint, :, parent] += 0.5
    return vertices, weights.reshape(-1, num_joints)


def _bone_and_leaf_vertices(
    rng: np.random.Generator, count: int
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Vertices on cylinders around the bones (moved by the bone's parent joint) and caps on leaf joints."""
    num_joints = len(SMPL_PARENTS)
    bones = [(int(SMPL_PARENTS[child]), child) for child in range(1, num_joints)]
    lengths = np.array([np.linalg.norm(REST_JOINTS[c] - REST_JOINTS[p]) for p, c in bones])
    sizes = np.concatenate([lengths, np.full(len(_LEAF_JOINTS), 0.15)])
    counts = np.floor(sizes / sizes.sum() * count).astype(int)
    counts[np.argmax(sizes)] += count - counts.sum()

    vertices, weights, groups = [], [], []
    start = 0
    for index, (parent, child) in enumerate(bones):
        n = counts[index]
        t = np.sort(rng.uniform(0.0, 1.0, n))
        axis = REST_JOINTS[child] - REST_JOINTS[parent]
        radius = 0.09 if parent in _TORSO_JOINTS else 0.045
        vertices.append(REST_JOINTS[parent] + t[:, None] * axis + _perpendicular(rng, axis, n) * radius)
        w = np.zeros((n, num_joints))
        to_child = 0.5 * np.clip((t - 0.75) / 0.25, 0.0, 1.0)
        to_grandparent = 0.5 * np.clip((0.25 - t) / 0.25, 0.0, 1.0) if parent != 0 else np.zeros(n)
        w[:, child] = to_child
        if parent != 0:
            w[:, SMPL_PARENTS[parent]] = to_grandparent
        w[:, parent] = 1.0 - to_child - to_grandparent
        weights.append(w)
        groups.append(np.arange(start, start + n))
        start += n
    for index, leaf in enumerate(_LEAF_JOINTS):
        n = counts[len(bones) + index]
        directions = rng.normal(size=(n, 3))
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
        centre = REST_JOINTS[leaf] + np.array(_LEAF_CENTRE_OFFSET[leaf])
        vertices.append(centre + directions * rng.uniform(0.03, 0.08, size=(n, 1)))
        w = np.zeros((n, num_joints))
        w[:, leaf] = 1.0
        weights.append(w)
        groups.append(np.arange(start, start + n))
        start += n
    return np.concatenate(vertices), np.concatenate(weights), groups


def _perpendicular(rng: np.random.Generator, axis: np.ndarray, n: int) -> np.ndarray:
    """``n`` random unit vectors perpendicular to ``axis``."""
    unit = axis / np.linalg.norm(axis)
    directions = rng.normal(size=(n, 3))
    directions -= (directions @ unit)[:, None] * unit
    return directions / np.linalg.norm(directions, axis=1, keepdims=True)


def _strip_faces(groups: list[np.ndarray]) -> np.ndarray:
    """Triangles (i, i+1, i+2) along each group's vertex order: valid, distinct, within one group."""
    faces = [np.stack([g[:-2], g[1:-1], g[2:]], axis=1) for g in groups if len(g) >= 3]
    return np.concatenate(faces).astype(np.int64)


# ---------------------------------------------------------------------------------------------
# writing the official layout


class _ChumpyCh:
    """Pickles as chumpy's ``Ch`` does (NEWOBJ of ``chumpy.ch Ch`` + BUILD of its state) without chumpy."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = x

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        state = {"x": self.x, "_dirty_vars": set(), "_itr": None, "_make_dense": False, "_make_sparse": False}
        if protocol < 2:  # what object.__reduce_ex__ gives for protocols 0 and 1
            # copyreg's private helpers, absent from its stub
            return copyreg._reconstructor, (type(self), object, None), state  # type: ignore[attr-defined]
        return copyreg.__newobj__, (type(self),), state  # type: ignore[attr-defined]


class _OfficialLayoutPickler(pickle._Pickler):  # the Python pickler, whose save_global can be extended
    """Writes ``_ChumpyCh`` as the global ``chumpy.ch Ch`` (a real pickler would try to import chumpy)."""

    def save_global(self, obj: Any, name: str | None = None) -> None:
        if obj is _ChumpyCh:
            # the Python pickler's internals, which its stub does not declare
            self.write(pickle.GLOBAL + b"chumpy.ch\nCh\n")  # type: ignore[attr-defined]
            self.memoize(obj)  # type: ignore[attr-defined]
            return
        super().save_global(obj, name)  # type: ignore[misc]


def official_layout(data: SMPLData, *, sparse_regressor: bool, chumpy_arrays: bool = False) -> dict[str, Any]:
    """The dict the official files hold: ``f`` uint32, ``kintree_table`` with 2**32 - 1 as root parent."""
    kintree = np.stack([data.parents, np.arange(data.num_joints)]).astype(np.int64)
    kintree[0, 0] = 2**32 - 1
    regressor: Any = data.J_regressor
    if sparse_regressor:
        import scipy.sparse  # only needed to write the official pickle layout

        regressor = scipy.sparse.csc_matrix(data.J_regressor)
    layout: dict[str, Any] = {
        "v_template": data.v_template,
        "shapedirs": _ChumpyCh(data.shapedirs) if chumpy_arrays else data.shapedirs,
        "posedirs": data.posedirs,
        "J_regressor": regressor,
        "weights": data.weights,
        "kintree_table": kintree,
        "f": data.faces.astype(np.uint32),
        "J": data.J_regressor @ data.v_template,
        "bs_style": "lbs",
        "bs_type": "lrotmin",
    }
    return layout


def save_synthetic_smpl(
    path: str | os.PathLike[str],
    format: Literal["pkl", "npz"] = "pkl",  # noqa: A002 - the word the file formats go by
    *,
    data: SMPLData | None = None,
    chumpy_arrays: bool = False,
    protocol: int = 2,
    num_vertices: int = 6890,
    seed: int = 0,
) -> Path:
    """Write ``data`` (default: a fresh synthetic model) as an official-layout SMPL file at ``path``.

    ``pkl``: a protocol-2 pickle with a scipy ``csc_matrix`` ``J_regressor`` and, with
    ``chumpy_arrays``, ``shapedirs`` pickled as a ``chumpy.ch.Ch`` (loadable only by an unpickler
    that maps that global, like :mod:`hpe_ros.models.smpl_file`'s); ``protocol`` 2 is what the
    official files use, 0 and 1 exercise ``copy_reg._reconstructor``. ``npz``: the same keys, dense.
    """
    data = data if data is not None else make_synthetic_smpl(num_vertices=num_vertices, seed=seed)
    path = Path(path)
    if format == "pkl":
        buffer = io.BytesIO()
        _OfficialLayoutPickler(buffer, protocol=protocol).dump(
            official_layout(data, sparse_regressor=True, chumpy_arrays=chumpy_arrays)
        )
        path.write_bytes(buffer.getvalue())
    elif format == "npz":
        if chumpy_arrays:
            raise ValueError("chumpy_arrays applies to the pkl format only")
        arrays = {
            key: np.asarray(value) for key, value in official_layout(data, sparse_regressor=False).items()
        }
        with path.open("wb") as stream:  # a file object keeps numpy from appending ".npz"
            # numpy's stub checks **arrays against allow_pickle: bool; these keys are array names
            np.savez(stream, **arrays)  # type: ignore[arg-type]
    else:
        raise ValueError(f"format must be 'pkl' or 'npz', got {format!r}")
    return path
