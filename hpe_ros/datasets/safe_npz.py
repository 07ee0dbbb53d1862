"""Read ``.npz`` files whose members are pickled Python objects, without running pickled code.

The community's Human3.6M files store dictionaries of arrays as 0-d object arrays, which
``np.load(allow_pickle=True)`` would unpickle with full trust. Here the pickle may only name
numpy's array/dtype/scalar constructors (and OrderedDict): anything else raises
:class:`UnsafeNpzError`, the way ``torch.load(weights_only=True)`` guards checkpoints.
"""

from __future__ import annotations

import os
import pickle
from typing import Any

import numpy as np

from hpe_ros.core.npy import npz_members, read_npy

# (module, name) pairs a numpy object pickle needs; "numpy.core" is numpy 1.x's name of "numpy._core".
_ALLOWED_GLOBALS = {
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("collections", "OrderedDict"),
}


class UnsafeNpzError(ValueError):
    """An object member of an npz file refers to something other than plain numpy data."""


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        canonical = "numpy._core" + module[len("numpy.core") :] if module.startswith("numpy.core") else module
        if (canonical, name) not in _ALLOWED_GLOBALS:
            raise UnsafeNpzError(
                f"refusing to unpickle {module}.{name}: only numpy arrays and containers are allowed"
            )
        return super().find_class(canonical, name)


def _read_member(file: Any) -> Any:
    value = read_npy(file, lambda stream: _NumpyOnlyUnpickler(stream, encoding="latin1").load())
    return value.item() if isinstance(value, np.ndarray) and value.shape == () else value


def load_npz(path: str | os.PathLike[str]) -> dict[str, Any]:
    """All members of an npz file; 0-d object arrays are returned as the object they hold."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file: {path}")
    out: dict[str, Any] = {}
    for key, file in npz_members(path):
        member = f"{key}.npy"
        try:
            out[key] = _read_member(file)
        except (pickle.UnpicklingError, EOFError, ValueError) as error:
            if isinstance(error, UnsafeNpzError):
                raise UnsafeNpzError(f"{path}: {member}: {error}") from error
            raise ValueError(f"{path}: cannot read member {member}: {error}") from error
    return out
