"""Reading a user's SMPL model file (``.pkl`` or ``.npz``) into plain numpy arrays, safely.

The official SMPL files (``basicModel_{neutral,f,m}_lbs_10_207_0_v1.0.0.pkl``, ``SMPL_NEUTRAL.pkl``
and the like) are Python 2 pickles of a dict whose values are numpy arrays, a scipy sparse
``J_regressor`` and chumpy arrays (``shapedirs``, sometimes others). Loading them with ``pickle``
would run whatever the file names; here they go through :class:`RestrictedUnpickler`, which
resolves only the handful of globals needed to rebuild those values and refuses everything else
(:class:`RefusedGlobalError`, naming the global). chumpy and scipy matrices are rebuilt as small
stand-in objects that only keep their pickled state, so neither chumpy nor scipy is imported.

Facts about chumpy's pickles (chumpy/ch.py): ``Ch`` has no ``__reduce__``, so Python 2's
protocol 2 writes ``NEWOBJ`` of the global ``chumpy.ch Ch`` followed by ``BUILD`` with the dict of
``Ch.__getstate__`` (the instance ``__dict__`` without its weak-reference caches); the value
lives under ``'x'``. Protocols 0/1 write ``copy_reg._reconstructor(Ch, object, None)`` instead.
scipy matrices pickle the same way, with ``data``, ``indices``, ``indptr`` and ``_shape``.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from hpe_ros.core.npy import npz_members, read_npy

try:  # numpy >= 2
    from numpy._core.multiarray import _reconstruct as _np_reconstruct
    from numpy._core.multiarray import scalar as _np_scalar
except ImportError:  # numpy 1.x
    from numpy.core.multiarray import _reconstruct as _np_reconstruct  # type: ignore[no-redef]
    from numpy.core.multiarray import scalar as _np_scalar  # type: ignore[no-redef]

NUM_SMPL_JOINTS = 24
REQUIRED_KEYS: tuple[str, ...] = (
    "v_template",
    "shapedirs",
    "posedirs",
    "J_regressor",
    "weights",
    "kintree_table",
    "f",
)
# keys under which a file (or a converted npz) may carry an extra joint regressor, by our name for it
EXTRA_REGRESSOR_KEYS: dict[str, str] = {"J_regressor_h36m": "h36m"}
GENDERS: tuple[str, ...] = ("neutral", "male", "female")


class SMPLFileError(Exception):
    """A SMPL model file is missing, is not a SMPL model, is truncated or holds something unsafe."""


class RefusedGlobalError(SMPLFileError, pickle.UnpicklingError):
    """The pickle names a global outside the allow-list; nothing it names was imported or called."""


# ---------------------------------------------------------------------------------------------
# stand-ins for pickled chumpy / scipy objects


class _PickledState:
    """Base of the stand-ins: created empty by NEWOBJ / _reconstructor, then given its state by BUILD."""

    state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state


class ChumpyArrayStandIn(_PickledState):
    """Takes the place of ``chumpy.ch.Ch``; its value is the state's ``'x'``."""

    def to_numpy(self) -> np.ndarray:
        if not isinstance(self.state, dict) or "x" not in self.state:
            raise SMPLFileError("a pickled chumpy array has no 'x' value")
        return np.asarray(_to_plain(self.state["x"]))


class _SparseStandIn(_PickledState):
    """Takes the place of a scipy sparse matrix; densified from its pickled compressed arrays."""

    sparse_format = ""

    def _field(self, *names: str) -> Any:
        state = self.state if isinstance(self.state, dict) else {}
        for name in names:
            if name in state:
                return state[name]
        raise SMPLFileError(f"a pickled {self.sparse_format} sparse matrix has none of {names}")

    def _shape(self) -> tuple[int, int]:
        shape = self._field("_shape", "shape")
        return int(shape[0]), int(shape[1])

    def to_numpy(self) -> np.ndarray:
        data = np.asarray(self._field("data"))
        dense = np.zeros(self._shape(), dtype=data.dtype)
        if self.sparse_format == "coo":
            if "coords" in self.state:  # scipy >= 1.13
                rows, cols = (np.asarray(axis, dtype=np.int64) for axis in self.state["coords"])
            else:
                rows = np.asarray(self._field("row"), dtype=np.int64)
                cols = np.asarray(self._field("col"), dtype=np.int64)
        else:
            indices = np.asarray(self._field("indices"), dtype=np.int64)
            counts = np.asarray(np.diff(np.asarray(self._field("indptr"), dtype=np.int64)), dtype=np.int64)
            major = np.repeat(np.arange(counts.size), counts)
            rows, cols = (indices, major) if self.sparse_format == "csc" else (major, indices)
        np.add.at(dense, (rows, cols), data)  # duplicates sum, as scipy's todense does
        return dense


class CscStandIn(_SparseStandIn):
    sparse_format = "csc"


class CsrStandIn(_SparseStandIn):
    sparse_format = "csr"


class CooStandIn(_SparseStandIn):
    sparse_format = "coo"


_STAND_INS: tuple[type, ...] = (ChumpyArrayStandIn, CscStandIn, CsrStandIn, CooStandIn)


def _reconstruct_stand_in(cls: type, base: type, state: object) -> object:
    """Safe replacement of ``copy_reg._reconstructor`` (protocols 0 and 1): stand-ins only."""
    if cls not in _STAND_INS or base is not object or state is not None:
        raise RefusedGlobalError(
            f"copy_reg._reconstructor called for {cls!r}; only SMPL array types are allowed"
        )
    return object.__new__(cls)


def _encode_latin1(text: str, encoding: str = "utf-8") -> bytes:
    """Safe ``_codecs.encode``: Python 3 writes bytes as ``encode(str, 'latin1')`` in protocol 2."""
    if encoding.lower().replace("_", "-") not in ("latin1", "latin-1", "iso-8859-1") or not isinstance(
        text, str
    ):
        raise RefusedGlobalError(
            f"_codecs.encode with encoding {encoding!r} is not allowed in a SMPL model file"
        )
    return text.encode("latin1")


def _allowed_globals() -> dict[tuple[str, str], object]:
    allowed: dict[tuple[str, str], object] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(module, "_reconstruct")] = _np_reconstruct
        allowed[(module, "scalar")] = _np_scalar
    for module in ("__builtin__", "builtins"):
        allowed[(module, "set")] = set
        allowed[(module, "frozenset")] = frozenset
        allowed[(module, "object")] = object
    for module in ("copy_reg", "copyreg"):
        allowed[(module, "_reconstructor")] = _reconstruct_stand_in
    allowed[("_codecs", "encode")] = _encode_latin1
    allowed[("chumpy.ch", "Ch")] = ChumpyArrayStandIn
    for fmt, stand_in in (("csc", CscStandIn), ("csr", CsrStandIn), ("coo", CooStandIn)):
        for module in (f"scipy.sparse.{fmt}", f"scipy.sparse._{fmt}"):
            allowed[(module, f"{fmt}_matrix")] = stand_in
            allowed[(module, f"{fmt}_array")] = stand_in
    return allowed


_ALLOWED_GLOBALS = _allowed_globals()


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only numpy arrays/dtypes, sets, and chumpy/scipy stand-ins.

    Python 2 pickles need ``encoding='latin1'`` (numpy's pickled buffers are byte strings).
    """

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise RefusedGlobalError(
                f"refused to load global {module}.{name}: a SMPL model file only needs numpy, scipy sparse "
                "and chumpy arrays (the file may be malicious or not a SMPL model)"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise RefusedGlobalError(f"refused persistent id {pid!r} in a SMPL model file")


def restricted_load(stream: IO[bytes]) -> Any:
    """Unpickle ``stream`` with :class:`RestrictedUnpickler` (latin1 for Python 2 byte strings)."""
    return RestrictedUnpickler(stream, encoding="latin1").load()


def _to_plain(value: Any) -> Any:
    """Stand-ins -> numpy arrays; 0-d object arrays (npz) -> their content; everything else as is."""
    if isinstance(value, (ChumpyArrayStandIn, _SparseStandIn)):
        return value.to_numpy()
    if isinstance(value, np.ndarray) and value.dtype.hasobject and value.ndim == 0:
        return _to_plain(value.item())
    return value


# ---------------------------------------------------------------------------------------------
# the loaded model


@dataclass(frozen=True)
class SMPLData:
    """A SMPL model as numpy arrays, in the layout of the official files (float64 as stored).

    ``posedirs`` keeps the file's (V, 3, 9 * (J - 1)) layout: column ``9 * (j - 1) + 3 * r + c``
    multiplies entry (r, c) of ``R_j - I`` (row-major), j = 1..23.
    """

    v_template: np.ndarray  # (V, 3)
    shapedirs: np.ndarray  # (V, 3, B)
    posedirs: np.ndarray  # (V, 3, 207)
    J_regressor: np.ndarray  # (24, V) dense
    weights: np.ndarray  # (V, 24) linear blend skinning weights
    parents: np.ndarray  # (24,) int64, parents[0] == -1
    faces: np.ndarray  # (F, 3) int64
    extra_regressors: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (K, V), e.g. "h36m"
    gender: str = "neutral"
    source: str = ""

    @property
    def num_vertices(self) -> int:
        return int(self.v_template.shape[0])

    @property
    def num_joints(self) -> int:
        return int(self.parents.shape[0])

    @property
    def num_betas(self) -> int:
        return int(self.shapedirs.shape[2])

    @property
    def J_regressor_h36m(self) -> np.ndarray | None:  # noqa: N802 - the name the SMPL literature uses
        return self.extra_regressors.get("h36m")

    def validate(self) -> None:
        """Raise :class:`SMPLFileError` unless all shapes agree with one another."""
        v, j = self.num_vertices, self.num_joints
        expected = {
            "v_template": (self.v_template, (v, 3)),
            "shapedirs": (
                self.shapedirs,
                (v, 3, self.shapedirs.shape[-1] if self.shapedirs.ndim == 3 else -1),
            ),
            "posedirs": (self.posedirs, (v, 3, 9 * (j - 1))),
            "J_regressor": (self.J_regressor, (j, v)),
            "weights": (self.weights, (v, j)),
            "faces": (self.faces, (self.faces.shape[0], 3)),
        }
        problems = [
            f"{name} has shape {array.shape}, expected {shape}"
            for name, (array, shape) in expected.items()
            if array.shape != shape
        ]
        for name, regressor in self.extra_regressors.items():
            if regressor.ndim != 2 or regressor.shape[1] != v:
                problems.append(f"extra regressor {name!r} has shape {regressor.shape}, expected (K, {v})")
        if self.parents.shape != (j,) or self.parents[0] != -1 or np.any(self.parents[1:] >= np.arange(1, j)):
            problems.append("kintree_table is not a tree whose parents precede their children")
        elif np.any(self.parents[1:] < 0):
            problems.append("kintree_table has more than one root")
        if self.faces.size and (self.faces.min() < 0 or self.faces.max() >= v):
            problems.append(f"faces index vertices outside [0, {v})")
        if problems:
            raise SMPLFileError(f"inconsistent SMPL model {self.source or ''}: " + "; ".join(problems))


def resolve_smpl_path(path: str | os.PathLike[str], gender: str = "neutral") -> Path:
    """A model file as given, or, for a folder, the file of ``gender`` in it (official names)."""
    gender = normalise_gender(gender)
    path = Path(path)
    if path.is_file():
        return path
    if not path.exists():
        raise SMPLFileError(f"SMPL model file {path} does not exist")
    letter = gender[0] if gender != "neutral" else "neutral"
    wanted = [f"smpl_{gender}.pkl", f"smpl_{gender}.npz"] + [
        f"basicmodel_{letter}_lbs_10_207_0_v{version}.pkl" for version in ("1.0.0", "1.1.0")
    ]
    for folder in (path, path / "smpl"):
        if not folder.is_dir():
            continue
        by_lower_name = {child.name.lower(): child for child in folder.iterdir() if child.is_file()}
        for name in wanted:
            if name in by_lower_name:
                return by_lower_name[name]
    raise SMPLFileError(f"no {gender} SMPL model in {path} (looked for {', '.join(wanted)}, any case)")


def normalise_gender(gender: str) -> str:
    """'neutral' | 'male' | 'female' from those words or their first letters, any case."""
    key = gender.strip().lower()
    for name in GENDERS:
        if key in (name, name[0]):
            return name
    raise ValueError(f"gender must be one of {GENDERS}, got {gender!r}")


def load_smpl_file(
    path: str | os.PathLike[str],
    gender: str = "neutral",
    h36m_regressor: str | os.PathLike[str] | None = None,
) -> SMPLData:
    """Read a SMPL ``.pkl`` / ``.npz`` (or the ``gender`` file in a folder) into :class:`SMPLData`.

    ``h36m_regressor``: optional ``.npy``/``.npz`` file with a (17, V) Human3.6M joint regressor
    (e.g. SPIN's ``J_regressor_h36m.npy``); it overrides one stored in the model file.
    """
    file_path = resolve_smpl_path(path, gender)
    raw = _read_raw(file_path)
    missing = [key for key in REQUIRED_KEYS if key not in raw]
    if missing:
        raise SMPLFileError(
            f"{file_path} is not a SMPL model: missing keys {missing} (found {sorted(map(str, raw))[:20]})"
        )
    try:
        values = {key: np.asarray(_to_plain(raw[key])) for key in REQUIRED_KEYS}
        extras = {
            name: np.asarray(_to_plain(raw[key]), dtype=np.float64)
            for key, name in EXTRA_REGRESSOR_KEYS.items()
            if key in raw
        }
    except (TypeError, ValueError, IndexError) as error:
        raise SMPLFileError(f"{file_path} holds malformed SMPL arrays: {error}") from error
    if h36m_regressor is not None:
        extras["h36m"] = _read_regressor(Path(h36m_regressor))

    kintree = values["kintree_table"].astype(np.int64)
    if kintree.ndim != 2 or kintree.shape[0] != 2:
        raise SMPLFileError(f"{file_path}: kintree_table has shape {kintree.shape}, expected (2, J)")
    parents = kintree[0].copy()
    parents[0] = -1  # the official files store the root's parent as 2**32 - 1
    data = SMPLData(
        v_template=values["v_template"].astype(np.float64),
        shapedirs=values["shapedirs"].astype(np.float64),
        posedirs=values["posedirs"].astype(np.float64),
        J_regressor=values["J_regressor"].astype(np.float64),
        weights=values["weights"].astype(np.float64),
        parents=parents,
        faces=values["f"].astype(np.int64),
        extra_regressors=extras,
        gender=normalise_gender(gender),
        source=str(file_path),
    )
    data.validate()
    return data


# ---------------------------------------------------------------------------------------------
# file formats

_CORRUPT_ERRORS = (
    pickle.UnpicklingError,
    EOFError,
    ValueError,
    TypeError,
    AttributeError,
    IndexError,
    KeyError,
)


def _read_raw(path: Path) -> dict[str, Any]:
    suffix = path.suffix.lower()
    try:
        if suffix == ".npz":
            raw = _read_npz(path)
        elif suffix in (".pkl", ".pickle"):
            with path.open("rb") as stream:
                raw = restricted_load(stream)
        else:
            raise SMPLFileError(f"{path}: unknown SMPL model format {suffix!r} (expected .pkl or .npz)")
    except RefusedGlobalError as error:
        raise RefusedGlobalError(f"{path}: {error}") from None
    except SMPLFileError:
        raise
    except OSError as error:
        raise SMPLFileError(f"cannot read SMPL model file {path}: {error}") from error
    except _CORRUPT_ERRORS + (zipfile.BadZipFile,) as error:
        raise SMPLFileError(f"{path} is truncated or corrupt ({type(error).__name__}: {error})") from error
    if not isinstance(raw, dict):
        raise SMPLFileError(
            f"{path} is not a SMPL model: it holds a {type(raw).__name__}, not a dict of arrays"
        )
    return raw


def _read_npz(path: Path) -> dict[str, Any]:
    """An ``.npz`` without ``allow_pickle``: object arrays go through the restricted unpickler."""
    return {key: _read_npy(stream) for key, stream in npz_members(path)}


def _read_npy(stream: IO[bytes]) -> Any:
    return read_npy(stream, restricted_load)


def _read_regressor(path: Path) -> np.ndarray:
    if not path.is_file():
        raise SMPLFileError(f"joint regressor file {path} does not exist")
    try:
        if path.suffix.lower() == ".npz":
            arrays = _read_npz(path)
            if len(arrays) != 1:
                raise SMPLFileError(
                    f"{path}: expected one array in the regressor .npz, found {sorted(arrays)}"
                )
            value = next(iter(arrays.values()))
        else:
            with path.open("rb") as stream:
                value = _read_npy(stream)
        regressor = np.asarray(_to_plain(value), dtype=np.float64)
    except SMPLFileError:
        raise
    except _CORRUPT_ERRORS + (zipfile.BadZipFile, OSError) as error:
        raise SMPLFileError(f"cannot read joint regressor {path}: {error}") from error
    if regressor.ndim != 2:
        raise SMPLFileError(f"joint regressor {path} has shape {regressor.shape}, expected (K, V)")
    return regressor
