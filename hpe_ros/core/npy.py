"""Read ``.npy`` data without numpy's full-trust unpickling of object arrays.

``np.load(allow_pickle=True)`` runs whatever a pickled object array names. Callers here pass
their own restricted unpickler for object arrays (plain numpy data for Human3.6M files; numpy,
scipy and chumpy stand-ins for SMPL files); plain arrays are read from the raw bytes.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable, Iterator
from typing import IO, Any

import numpy as np


def read_npy(stream: IO[bytes], load_object: Callable[[IO[bytes]], Any]) -> Any:
    """One ``.npy`` stream: a plain array, or whatever ``load_object`` unpickles for object dtypes.

    Raises ``ValueError`` on an unknown format version or a payload that does not fit the header.
    """
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(stream)
    elif version in ((2, 0), (3, 0)):
        shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(stream)
    else:  # pragma: no cover - numpy writes no other versions
        raise ValueError(f"unsupported .npy format version {version}")
    if dtype.hasobject:  # np.save pickles object arrays after the header
        return load_object(stream)
    data = np.frombuffer(stream.read(), dtype=dtype)
    return data.reshape(shape, order="F" if fortran_order else "C").copy()


def npz_members(path: str | os.PathLike[str]) -> Iterator[tuple[str, IO[bytes]]]:
    """The ``.npy`` members of an ``.npz`` file as (key, open stream), the key without ``.npy``."""
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.endswith(".npy"):
                with archive.open(name) as stream:
                    yield name[: -len(".npy")], stream
