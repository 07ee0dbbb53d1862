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

import array
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
    "PACKET_DTYPE",
    "REFUSED_RESYNC",
    "SCRATCH_WORDS",
    "SKIPPED",
    "STATE_FIELDS",
    "NativeEvt3Batch",
    "NativeEvt3Result",
    "NativeEvt3Stream",
    "available",
    "batch_available",
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
# Packets up to this many words are decoded into a buffer each stream reuses (see NativeEvt3Stream).
SCRATCH_WORDS = 1 << 15

# One packet of a batch (evt3_packet in _evt3.c): what the caller gives, then what decoding gave.
PACKET_FIELDS = ("byte_offset", "n_words", "big_endian", "width", "height", "stamp_ns",  # in
                 # out
                 "cd_end", "trigger_end", "cd_total", "reserved_word", "reanchored", "in_order", "sorted")
PACKET_DTYPE = np.dtype([(name, np.int64) for name in PACKET_FIELDS])
# n_words of a packet refused before decoding: the stream resyncs (not bytes, odd size) / is untouched.
REFUSED_RESYNC, SKIPPED = -1, -2


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
        ("t_offset_ns", ctypes.c_int64),
    ]


class _Batch(ctypes.Structure):
    """``evt3_batch`` of _evt3.c: the stream's job, the packets, progress and the ROS clock."""

    _fields_ = [
        ("job", ctypes.POINTER(_Job)),
        ("raw", ctypes.c_char_p),  # assigned a bytes object: its buffer, not copied
        ("packets", ctypes.c_void_p),
        ("n_packets", ctypes.c_int64),
        ("next", ctypes.c_int64),
        ("started", ctypes.c_int64),
        ("saved", _State),
        ("cd_start", ctypes.c_int64),
        ("trigger_start", ctypes.c_int64),
        ("total_start", ctypes.c_int64),
        ("ros_time", ctypes.c_int64),
        ("offset_known", ctypes.c_int64),
        ("offset_ns", ctypes.c_int64),
        ("reanchor_ns", ctypes.c_int64),
        ("has_last", ctypes.c_int64),
        ("last_t", ctypes.c_int64),
        ("decoded", ctypes.c_int64),
        ("reserved", ctypes.c_int64),
        ("dropped", ctypes.c_int64),
        ("reanchored", ctypes.c_int64),
        ("out_of_order", ctypes.c_int64),
    ]


@dataclass(slots=True)  # not frozen: a frozen dataclass costs ~3 us to make, once per batch
class NativeEvt3Batch:
    """What a batch of packets decoded to: the records of all packets one after another; ``packets``
    (PACKET_DTYPE) says where each packet's end and what else happened to it."""

    cd: np.ndarray  # CD_EVENT_DTYPE
    triggers: np.ndarray  # TRIGGER_EVENT_DTYPE
    packets: np.ndarray
    offset_ns: int | None  # ROS time - sensor time after the batch (None: not known yet)
    decoded: int  # packets decoded (not refused)
    reserved: int  # packets refused for reserved words
    dropped: int  # CD events dropped (outside the sensor, before the row / time was known)
    reanchored: int  # packets where ROS time was anchored again
    in_order: bool  # every packet's in_order is set


@dataclass(frozen=True)
class NativeEvt3Result:
    """What one packet decoded to; ``reserved_word`` >= 0 means the packet is corrupt (all else is void)."""

    cd: np.ndarray  # CD_EVENT_DTYPE, kept events
    triggers: np.ndarray  # TRIGGER_EVENT_DTYPE
    cd_total: int  # CD events in the packet, kept or dropped
    state: tuple[int, ...] | None  # STATE_FIELDS order (None from NativeEvt3Stream: read its state)
    reserved_word: int = -1  # index of the first word of a reserved type


def library_path() -> Path | None:
    """The built ``_evt3`` shared library next to this file, if there is one."""
    here = Path(__file__).resolve().parent
    for suffix in EXTENSION_SUFFIXES:
        candidate = here / f"_evt3{suffix}"
        if candidate.is_file():
            return candidate
    return None


def _offsets(dtype: np.dtype, names: tuple[str, ...]) -> tuple[int, ...]:
    """Byte offsets of ``names`` in the structured ``dtype``."""
    fields = dtype.fields
    if fields is None:
        raise TypeError(f"{dtype} is not a structured dtype")
    return tuple(int(fields[name][1]) for name in names)


def _layout_problem(lib: ctypes.CDLL) -> str | None:
    """Why the library's structs or records do not match this module's, or None."""
    abi = lib.hpe_evt3_abi
    abi.argtypes, abi.restype = [ctypes.c_int64], ctypes.c_int64
    expected = {0: ctypes.sizeof(_Job), 1: ctypes.sizeof(_State), 2: CD_EVENT_DTYPE.itemsize,
                3: TRIGGER_EVENT_DTYPE.itemsize}
    for what, size in expected.items():
        if abi(what) != size:
            return f"size {what} is {abi(what)} in the library, {size} here"
    if abi(4) != -1 and (abi(4) != PACKET_DTYPE.itemsize or abi(5) != ctypes.sizeof(_Batch)):
        return f"batch structs are {abi(4)} / {abi(5)} bytes in the library"
    cd_offsets = _offsets(CD_EVENT_DTYPE, ("x", "y", "t", "p"))
    trigger_offsets = _offsets(TRIGGER_EVENT_DTYPE, ("t", "p", "id"))
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
    if hasattr(lib, "hpe_evt3_decode_batch"):  # a library built before batches has none
        lib.hpe_evt3_decode_batch.argtypes = [ctypes.POINTER(_Batch)]
        lib.hpe_evt3_decode_batch.restype = ctypes.c_int
    return lib, None


_LIB, unavailable_reason = _load()


def available() -> bool:
    """Whether the compiled decoder is loaded."""
    return _LIB is not None


def batch_available() -> bool:
    """Whether the loaded library decodes batches (:meth:`NativeEvt3Stream.decode_batch`)."""
    return _LIB is not None and hasattr(_LIB, "hpe_evt3_decode_batch")


def _copied(array: np.ndarray, used: int, capacity: int) -> np.ndarray:
    """A new array of ``capacity`` records starting with ``array[:used]``, copied as bytes (numpy
    copies packed structured records field by field, ~10x slower)."""
    out = np.empty(capacity, array.dtype)
    out[:used].view(np.uint8)[...] = array[:used].view(np.uint8)
    return out


def _address(raw: np.ndarray) -> int:
    """The address of ``raw``'s first byte (``ndarray.ctypes`` costs ~1 us; a writable buffer has a
    cheaper way)."""
    if raw.size and raw.flags.writeable:
        # numpy's stubs give ndarray __buffer__ for Python >= 3.12 only; mypy checks 3.11
        return ctypes.addressof(ctypes.c_char.from_buffer(raw))  # type: ignore[arg-type]
    return raw.ctypes.data


class NativeEvt3Stream:
    """One stream's decoding job: the state stays in the C struct from packet to packet.

    Per packet, building a ctypes job, converting the state to and from Python and writing the
    events into new (cold) memory cost more than decoding a typical packet (~800 events, ~6 us).
    This keeps one job per stream, and decodes packets of up to :data:`SCRATCH_WORDS` words
    into a buffer reused from packet to packet (it stays in the cache), copying the events out
    at their exact size; longer buffers are decoded in place into their own array.
    """

    _on_scratch: bool  # whether the job points at the scratch buffers (set by _use_scratch)

    def __init__(self, state: Sequence[int] | None = None) -> None:
        if _LIB is None:
            raise RuntimeError(f"the compiled EVT 3.0 decoder is not available: {unavailable_reason}")
        self._job = _Job()
        self._job_ref = ctypes.byref(self._job)
        self._decode = _LIB.hpe_evt3_decode
        self._scratch_cd = np.empty(SCRATCH_WORDS + _MAX_EVENTS_PER_WORD, CD_EVENT_DTYPE)
        self._scratch_cd_address = self._scratch_cd.ctypes.data
        self._scratch_triggers = np.empty(_FIRST_TRIGGER_CAPACITY, TRIGGER_EVENT_DTYPE)
        self._scratch_triggers_address = self._scratch_triggers.ctypes.data
        scratch = (self._scratch_cd, self._scratch_triggers)
        self._scratch_bytes = {id(array): array.view(np.uint8).data for array in scratch}
        self._use_scratch()
        self._batch = _Batch(job=ctypes.pointer(self._job))
        self._batch_ref = ctypes.byref(self._batch)
        self._decode_batch = getattr(_LIB, "hpe_evt3_decode_batch", None)
        self._events_per_byte = 0.5  # room for a batch's events, learnt from the batches before
        if state is not None:
            self.state = tuple(state)

    @property
    def state(self) -> tuple[int, ...]:
        """The decoder state in :data:`STATE_FIELDS` order."""
        state = self._job.state
        return tuple(getattr(state, name) for name in STATE_FIELDS)

    @state.setter
    def state(self, values: Sequence[int]) -> None:
        self._job.state = _State(*values)

    def decode(self, raw: np.ndarray, is_bigendian: bool, width: int, height: int, offset_ns: int = 0
               ) -> NativeEvt3Result:
        """Decode the 16-bit words of ``raw`` (contiguous uint8, even size); the state advances.

        Times are sensor time + ``offset_ns``. The returned arrays are new (the caller may
        change them). On a reserved word the state stays what it was before the packet."""
        n_words = raw.size // 2
        job = self._job
        cd, triggers = self._scratch_cd, self._scratch_triggers
        if n_words > SCRATCH_WORDS:  # one word per event at least in most streams; dense vectors grow it
            cd = np.empty(n_words + _MAX_EVENTS_PER_WORD, CD_EVENT_DTYPE)
            job.cd, job.cd_capacity = cd.ctypes.data, cd.size
        elif not self._on_scratch:
            self._use_scratch()
        self._on_scratch = cd is self._scratch_cd
        job.raw, job.n_words, job.big_endian, job.width, job.height = (
            _address(raw), n_words, is_bigendian, width, height)
        job.position = job.cd_count = job.trigger_count = job.cd_total = 0
        job.t_offset_ns = offset_ns
        saved = _State.from_buffer_copy(job.state)
        while True:
            status = self._decode(self._job_ref)
            if status == _DONE:
                break
            if status == _RESERVED_WORD:
                job.state = saved
                empty_cd, empty_triggers = np.empty(0, CD_EVENT_DTYPE), np.empty(0, TRIGGER_EVENT_DTYPE)
                return NativeEvt3Result(empty_cd, empty_triggers, 0, None, reserved_word=job.position)
            if status == _NEED_CD_ROOM:
                events_per_word = job.cd_total / max(job.position, 1)
                estimate = job.cd_count + int((n_words - job.position) * events_per_word * 1.25)
                cd = _copied(cd, job.cd_count, max(2 * cd.size, estimate + 4 * _MAX_EVENTS_PER_WORD))
                job.cd, job.cd_capacity = cd.ctypes.data, cd.size
                self._on_scratch = False
            elif status == _NEED_TRIGGER_ROOM:
                triggers = _copied(triggers, job.trigger_count, 2 * triggers.size)
                job.triggers, job.trigger_capacity = triggers.ctypes.data, triggers.size
                self._on_scratch = False
            else:
                raise RuntimeError(f"hpe_evt3_decode returned unknown status {status}")
        return NativeEvt3Result(self._owned(cd, job.cd_count), self._owned(triggers, job.trigger_count),
                                job.cd_total, None)

    def decode_batch(self, raw: bytes, rows: array.array, *, ros_time: bool, offset_ns: int | None,
                     reanchor_ns: int) -> NativeEvt3Batch:
        """Decode a batch of packets in one call; the state advances as if they were decoded one by one.

        ``rows``: array('q') of PACKET_DTYPE records, the input fields set (the outputs are written
        into it); the packets' words lie in ``raw``. ``ros_time``: put the events on the ROS clock
        from ``offset_ns`` on (None: the first packet with an event fixes it)."""
        if self._decode_batch is None:
            raise RuntimeError("the compiled EVT 3.0 decoder was built without batches; rebuild it")
        if rows.typecode != "q" or len(rows) % len(PACKET_FIELDS):
            raise ValueError("rows must be an array('q') of whole PACKET_DTYPE records")
        job = self._job
        cd = np.empty(int(len(raw) * self._events_per_byte) + 4 * _MAX_EVENTS_PER_WORD, CD_EVENT_DTYPE)
        triggers = self._scratch_triggers  # triggers are rare: copied out of the reused buffer
        job.cd, job.cd_capacity = _address(cd), cd.size
        job.triggers, job.trigger_capacity = self._scratch_triggers_address, triggers.size
        job.cd_count = job.trigger_count = job.cd_total = 0
        self._on_scratch = False
        batch = self._batch
        batch.raw, batch.packets = raw, rows.buffer_info()[0]
        batch.n_packets = len(rows) // len(PACKET_FIELDS)
        batch.next = batch.started = batch.has_last = 0
        batch.ros_time, batch.offset_known = ros_time, offset_ns is not None
        batch.offset_ns, batch.reanchor_ns = offset_ns or 0, reanchor_ns
        batch.decoded = batch.reserved = batch.dropped = batch.reanchored = batch.out_of_order = 0
        while True:
            status = self._decode_batch(self._batch_ref)
            if status == _DONE:
                break
            if status == _NEED_CD_ROOM:
                cd = _copied(cd, job.cd_count, 2 * cd.size)
                job.cd, job.cd_capacity = cd.ctypes.data, cd.size
            elif status == _NEED_TRIGGER_ROOM:
                triggers = _copied(triggers, job.trigger_count, 2 * triggers.size)
                job.triggers, job.trigger_capacity = triggers.ctypes.data, triggers.size
            else:
                raise RuntimeError(f"hpe_evt3_decode_batch returned unknown status {status}")
        batch.raw = None  # the job and batch keep no pointer into the caller's buffers
        if raw:  # the next batch's room: this stream's events per byte, with a margin
            self._events_per_byte = min(1.25 * job.cd_total / len(raw) + 0.01, _MAX_EVENTS_PER_WORD / 2)
        offset = batch.offset_ns if batch.offset_known else None
        packets = np.frombuffer(rows, PACKET_DTYPE)
        return NativeEvt3Batch(cd[:job.cd_count], self._owned(triggers, job.trigger_count), packets, offset,
                               batch.decoded, batch.reserved, batch.dropped, batch.reanchored,
                               not batch.out_of_order)

    def _use_scratch(self) -> None:
        job = self._job
        job.cd, job.cd_capacity = self._scratch_cd_address, self._scratch_cd.size
        job.triggers, job.trigger_capacity = self._scratch_triggers_address, self._scratch_triggers.size
        self._on_scratch = True

    def _owned(self, array: np.ndarray, used: int) -> np.ndarray:
        """``array[:used]`` as an array of its own: copied out of a scratch buffer (as bytes, into
        a bytearray: the cheapest writable copy), or ``array`` itself with its unused tail given
        back (no copy)."""
        scratch = self._scratch_bytes.get(id(array))
        if scratch is not None:
            if not used:
                return np.empty(0, array.dtype)
            return np.frombuffer(bytearray(scratch[:used * array.dtype.itemsize]), array.dtype)
        array.resize(used, refcheck=False)
        return array


def decode_evt3(raw: np.ndarray, state: Sequence[int], is_bigendian: bool, width: int, height: int
                ) -> NativeEvt3Result:
    """Decode the 16-bit words of ``raw`` (uint8, even size) from ``state``; see ``Evt3Decoder.decode``."""
    stream = NativeEvt3Stream(state)
    result = stream.decode(np.ascontiguousarray(raw, dtype=np.uint8), is_bigendian, width, height)
    if result.reserved_word >= 0:
        return result
    return NativeEvt3Result(result.cd, result.triggers, result.cd_total, stream.state)
