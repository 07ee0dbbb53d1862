"""Compiled EVT 3.0 decoding: loads ``_evt3.c``'s shared library with ctypes and runs it on numpy buffers.

``pip install -e .`` (and colcon) build ``hpe_ros/io/_evt3.c`` as an optional extension next to this
file; when it was not built (no compiler), cannot be loaded, or the host is big-endian,
:func:`available` is False, :data:`unavailable_reason` says why, and
:class:`hpe_ros.io.events.Evt3Decoder` uses its numpy path. Setting the environment variable
``HPE_ROS_EVT3_NATIVE=0`` turns the compiled path off.

The C code is a per-word state machine with the semantics of the numpy decoder (see
``hpe_ros.io.events``); this module only moves buffers and state in and out. The state travels as
a tuple of ints in :data:`STATE_FIELDS` order (the fields of ``Evt3State``, booleans as 0 / 1).
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import numpy as np

from hpe_ros.pipelines.events.representations import CD_EVENT_DTYPE, TRIGGER_EVENT_DTYPE

__all__ = [
    "STATE_FIELDS",
    "NativeEvt3Result",
    "available",
    "decode_evt3",
    "library_path",
    "unavailable_reason",
]

STATE_FIELDS = ("y", "y_valid", "base_x", "polarity", "base_valid", "time_high", "high_known", "wraps",
                "time_low", "seen_high", "time_valid")

# Status codes of hpe_evt3_decode (enum evt3_status in _evt3.c).
_DONE, _NEED_CD_ROOM, _NEED_TRIGGER_ROOM, _RESERVED_WORD = 0, 1, 2, 3
_MAX_EVENTS_PER_WORD = 12
_FIRST_TRIGGER_CAPACITY = 16


class _State(ctypes.Structure):
    _fields_ = [(name, ctypes.c_int64) for name in STATE_FIELDS]


class _Job(ctypes.Structure):
    """``evt3_job`` of _evt3.c: input, output buffers, progress (resumable) and state."""

    _fields_ = [
        ("raw", ctypes.c_void_p),
        ("n_words", ctypes.c_int64),
        ("big_endian", ctypes.c_int64),
        ("width", ctypes.c_int64),
        ("height", ctypes.c_int64),
        ("cd", ctypes.c_void_p),
        ("cd_capacity", ctypes.c_int64),
        ("triggers", ctypes.c_void_p),
        ("trigger_capacity", ctypes.c_int64),
        ("position", ctypes.c_int64),
        ("cd_count", ctypes.c_int64),
        ("trigger_count", ctypes.c_int64),
        ("cd_total", ctypes.c_int64),
        ("state", _State),
    ]


@dataclass(frozen=True)
class NativeEvt3Result:
    """What one packet decoded to; ``reserved_word`` >= 0 means the packet is corrupt (all else is void)."""

    cd: np.ndarray  # CD_EVENT_DTYPE, kept events
    triggers: np.ndarray  # TRIGGER_EVENT_DTYPE
    cd_total: int  # CD events in the packet, kept or dropped
    state: tuple[int, ...]  # STATE_FIELDS order
    reserved_word: int = -1  # index of the first word of a reserved type


def library_path() -> Path | None:
    """The built ``_evt3`` shared library next to this file, if there is one."""
    here = Path(__file__).resolve().parent
    for suffix in EXTENSION_SUFFIXES:
        candidate = here / f"_evt3{suffix}"
        if candidate.is_file():
            return candidate
    return None


def _layout_problem(lib: ctypes.CDLL) -> str | None:
    """Why the library's structs or records do not match this module's, or None."""
    abi = lib.hpe_evt3_abi
    abi.argtypes, abi.restype = [ctypes.c_int64], ctypes.c_int64
    expected = {0: ctypes.sizeof(_Job), 1: ctypes.sizeof(_State), 2: CD_EVENT_DTYPE.itemsize,
                3: TRIGGER_EVENT_DTYPE.itemsize}
    for what, size in expected.items():
        if abi(what) != size:
            return f"size {what} is {abi(what)} in the library, {size} here"
    cd_offsets = tuple(CD_EVENT_DTYPE.fields[name][1] for name in ("x", "y", "t", "p"))
    trigger_offsets = tuple(TRIGGER_EVENT_DTYPE.fields[name][1] for name in ("t", "p", "id"))
    if cd_offsets != (0, 2, 4, 12) or trigger_offsets != (0, 8, 9):
        return f"event dtypes changed (offsets {cd_offsets}, {trigger_offsets}); update _evt3.c"
    return None


def _load() -> tuple[ctypes.CDLL | None, str | None]:
    if os.environ.get("HPE_ROS_EVT3_NATIVE", "1") == "0":
        return None, "turned off by HPE_ROS_EVT3_NATIVE=0"
    if sys.byteorder != "little":
        return None, "the compiled decoder writes little-endian records; this host is big-endian"
    path = library_path()
    if path is None:
        return (
            None,
            "hpe_ros/io/_evt3 was not built (pip install -e . builds it when a C compiler is present)",
        )
    try:
        lib = ctypes.CDLL(str(path))
        problem = _layout_problem(lib)
    except (OSError, AttributeError) as error:
        return None, f"cannot load {path}: {error}"
    if problem:
        return None, f"{path} does not match evt3_native.py: {problem}; rebuild it"
    lib.hpe_evt3_decode.argtypes = [ctypes.POINTER(_Job)]
    lib.hpe_evt3_decode.restype = ctypes.c_int
    return lib, None


_LIB, unavailable_reason = _load()


def available() -> bool:
    """Whether the compiled decoder is loaded."""
    return _LIB is not None


def _grown(array: np.ndarray, used: int, capacity: int) -> np.ndarray:
    bigger = np.empty(capacity, array.dtype)
    bigger[:used] = array[:used]
    return bigger


def decode_evt3(raw: np.ndarray, state: Sequence[int], is_bigendian: bool, width: int, height: int
                ) -> NativeEvt3Result:
    """Decode the 16-bit words of ``raw`` (uint8, even size) from ``state``; see ``Evt3Decoder.decode``."""
    if _LIB is None:
        raise RuntimeError(f"the compiled EVT 3.0 decoder is not available: {unavailable_reason}")
    raw = np.ascontiguousarray(raw, dtype=np.uint8)
    n_words = raw.size // 2
    # Most streams have at least one word per event; dense vector streams make it grow.
    cd = np.empty(n_words + _MAX_EVENTS_PER_WORD, CD_EVENT_DTYPE)
    triggers = np.empty(_FIRST_TRIGGER_CAPACITY, TRIGGER_EVENT_DTYPE)
    job = _Job(raw.ctypes.data, n_words, bool(is_bigendian), width, height, cd.ctypes.data, cd.size,
               triggers.ctypes.data, triggers.size, 0, 0, 0, 0, _State(*state))
    while True:
        status = _LIB.hpe_evt3_decode(ctypes.byref(job))
        if status == _DONE:
            break
        if status == _RESERVED_WORD:
            empty_cd, empty_triggers = np.empty(0, CD_EVENT_DTYPE), np.empty(0, TRIGGER_EVENT_DTYPE)
            return NativeEvt3Result(empty_cd, empty_triggers, 0, tuple(state), reserved_word=job.position)
        if status == _NEED_CD_ROOM:
            events_per_word = job.cd_total / max(job.position, 1)
            estimate = job.cd_count + int((n_words - job.position) * events_per_word * 1.25)
            cd = _grown(cd, job.cd_count, max(2 * cd.size, estimate + 4 * _MAX_EVENTS_PER_WORD))
            job.cd, job.cd_capacity = cd.ctypes.data, cd.size
        elif status == _NEED_TRIGGER_ROOM:
            triggers = _grown(triggers, job.trigger_count, 2 * triggers.size)
            job.triggers, job.trigger_capacity = triggers.ctypes.data, triggers.size
        else:
            raise RuntimeError(f"hpe_evt3_decode returned unknown status {status}")
    # Give back the unused tail (in place: no copy of the events).
    cd.resize(job.cd_count, refcheck=False)
    triggers.resize(job.trigger_count, refcheck=False)
    new_state = tuple(getattr(job.state, name) for name in STATE_FIELDS)
    return NativeEvt3Result(cd, triggers, job.cd_total, new_state)
