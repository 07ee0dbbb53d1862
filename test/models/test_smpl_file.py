"""Loading SMPL model files: the restricted unpickler, npz/pkl parity, and clear errors."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from hpe_ros.models.smpl_file import (
    RefusedGlobalError,
    SMPLData,
    SMPLFileError,
    load_smpl_file,
    resolve_smpl_path,
)
from hpe_ros.models.smpl_synthetic import make_synthetic_smpl, official_layout, save_synthetic_smpl

ARRAY_FIELDS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "parents", "faces")


@pytest.fixture(scope="module")
def synthetic() -> SMPLData:
    return make_synthetic_smpl(num_vertices=300, seed=7)


def assert_same_arrays(a: SMPLData, b: SMPLData) -> None:
    for name in ARRAY_FIELDS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


class _RunsShellCommand:
    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[object, ...]:
        return os.system, (self.command,)


def test_malicious_pickle_is_refused_and_never_runs(tmp_path: Path, synthetic: SMPLData) -> None:
    marker = tmp_path / "pwned"
    layout = official_layout(synthetic, sparse_regressor=True)
    layout["bs_style"] = _RunsShellCommand(f"touch {marker}")
    path = tmp_path / "SMPL_NEUTRAL.pkl"
    path.write_bytes(pickle.dumps(layout, protocol=2))

    with pytest.raises(RefusedGlobalError, match=r"(posix|os)\.system") as caught:
        load_smpl_file(path)
    assert isinstance(caught.value, pickle.UnpicklingError)
    assert isinstance(caught.value, SMPLFileError)
    assert not marker.exists()


def test_builtins_eval_hidden_in_a_value_is_refused(tmp_path: Path) -> None:
    class CallsEval:
        def __reduce__(self) -> tuple[object, ...]:
            return eval, ("1 + 1",)

    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"v_template": [CallsEval()]}, protocol=2))
    with pytest.raises(RefusedGlobalError, match=r"__builtin__\.eval"):
        load_smpl_file(path)


def test_codecs_encode_only_decodes_latin1(tmp_path: Path) -> None:
    # protocol 2 writes bytes as _codecs.encode(text, 'latin1'); any other codec is refused
    stream = b"\x80\x02c_codecs\nencode\nX\x03\x00\x00\x00abcX\x04\x00\x00\x00zlib\x86R."
    path = tmp_path / "model.pkl"
    path.write_bytes(stream)
    with pytest.raises(RefusedGlobalError, match="zlib"):
        load_smpl_file(path)


@pytest.mark.parametrize("protocol", [0, 2])
def test_pkl_with_chumpy_stand_ins_and_npz_load_identical_arrays(
    tmp_path: Path, synthetic: SMPLData, protocol: int
) -> None:
    chumpy_pkl = save_synthetic_smpl(
        tmp_path / "a.pkl", "pkl", data=synthetic, chumpy_arrays=True, protocol=protocol
    )
    plain_pkl = save_synthetic_smpl(tmp_path / "b.pkl", "pkl", data=synthetic)
    npz = save_synthetic_smpl(tmp_path / "c.npz", "npz", data=synthetic)
    assert b"chumpy.ch\nCh" in chumpy_pkl.read_bytes()

    from_chumpy, from_plain, from_npz = (load_smpl_file(p) for p in (chumpy_pkl, plain_pkl, npz))
    assert_same_arrays(from_chumpy, from_npz)
    assert_same_arrays(from_plain, from_npz)
    assert_same_arrays(from_npz, synthetic)
    assert from_npz.parents[0] == -1 and from_npz.faces.dtype == np.int64


def test_csr_and_coo_regressors_are_densified(tmp_path: Path, synthetic: SMPLData) -> None:
    scipy_sparse = pytest.importorskip("scipy.sparse")
    for kind in (scipy_sparse.csr_matrix, scipy_sparse.coo_matrix):
        layout = official_layout(synthetic, sparse_regressor=False)
        layout["J_regressor"] = kind(synthetic.J_regressor)
        path = tmp_path / f"{kind.__name__}.pkl"
        path.write_bytes(pickle.dumps(layout, protocol=2))
        np.testing.assert_array_equal(load_smpl_file(path).J_regressor, synthetic.J_regressor)


@pytest.mark.parametrize("fmt", ["pkl", "npz"])
def test_truncated_file_is_reported(tmp_path: Path, synthetic: SMPLData, fmt: str) -> None:
    path = save_synthetic_smpl(tmp_path / f"model.{fmt}", fmt, data=synthetic)  # type: ignore[arg-type]
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(SMPLFileError, match="truncated or corrupt"):
        load_smpl_file(path)


def test_missing_keys_are_listed(tmp_path: Path, synthetic: SMPLData) -> None:
    layout = official_layout(synthetic, sparse_regressor=False)
    del layout["posedirs"], layout["weights"]
    path = tmp_path / "partial.npz"
    with path.open("wb") as stream:
        np.savez(stream, **{key: np.asarray(value) for key, value in layout.items()})
    with pytest.raises(SMPLFileError, match=r"missing keys \['posedirs', 'weights'\]"):
        load_smpl_file(path)


def test_pickle_of_something_else_is_not_a_smpl_model(tmp_path: Path) -> None:
    path = tmp_path / "list.pkl"
    path.write_bytes(pickle.dumps([1, 2, 3], protocol=2))
    with pytest.raises(SMPLFileError, match="not a SMPL model"):
        load_smpl_file(path)


def test_inconsistent_shapes_are_reported(tmp_path: Path, synthetic: SMPLData) -> None:
    layout = official_layout(synthetic, sparse_regressor=False)
    layout["weights"] = layout["weights"][:, :20]
    path = tmp_path / "bad.pkl"
    path.write_bytes(pickle.dumps(layout, protocol=2))
    with pytest.raises(SMPLFileError, match=r"weights has shape \(300, 20\), expected \(300, 24\)"):
        load_smpl_file(path)


def test_missing_file_and_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(SMPLFileError, match="does not exist"):
        load_smpl_file(tmp_path / "nope.pkl")
    other = tmp_path / "model.obj"
    other.write_text("v 0 0 0\n")
    with pytest.raises(SMPLFileError, match="unknown SMPL model format"):
        load_smpl_file(other)


def test_folder_resolves_the_gendered_official_names(tmp_path: Path, synthetic: SMPLData) -> None:
    save_synthetic_smpl(tmp_path / "basicModel_f_lbs_10_207_0_v1.0.0.pkl", data=synthetic)
    save_synthetic_smpl(tmp_path / "SMPL_MALE.npz", "npz", data=synthetic)
    assert resolve_smpl_path(tmp_path, "F").name == "basicModel_f_lbs_10_207_0_v1.0.0.pkl"
    assert resolve_smpl_path(tmp_path, "male").name == "SMPL_MALE.npz"
    assert load_smpl_file(tmp_path, gender="female").gender == "female"
    with pytest.raises(SMPLFileError, match="no neutral SMPL model"):
        resolve_smpl_path(tmp_path, "neutral")


def test_separate_h36m_regressor_file(tmp_path: Path, synthetic: SMPLData) -> None:
    model = save_synthetic_smpl(tmp_path / "model.pkl", data=synthetic)
    regressor = np.random.default_rng(0).random((17, synthetic.num_vertices))
    np.save(tmp_path / "J_regressor_h36m.npy", regressor)
    loaded = load_smpl_file(model, h36m_regressor=tmp_path / "J_regressor_h36m.npy")
    np.testing.assert_array_equal(loaded.J_regressor_h36m, regressor)
    assert load_smpl_file(model).J_regressor_h36m is None  # the official layout carries none

    np.save(tmp_path / "wrong.npy", regressor[:, :10])
    with pytest.raises(SMPLFileError, match="extra regressor 'h36m'"):
        load_smpl_file(model, h36m_regressor=tmp_path / "wrong.npy")
