"""The compiled EVT 3.0 decoder gives exactly what the numpy decoder gives: events, drops, state, errors."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest

from hpe_ros.io import evt3_native
from hpe_ros.io.bags import BagReader
from hpe_ros.io.events import (
    CD_EVENT_DTYPE,
    TRIGGER_EVENT_DTYPE,
    EventDecodeError,
    Evt3Decoder,
    Evt3State,
    encode_evt3,
)

needs_native = pytest.mark.skipif(not evt3_native.available(), reason=f"no compiled decoder: "
                                  f"{evt3_native.unavailable_reason}")


def _pair(width: int = 1280, height: int = 720) -> tuple[Evt3Decoder, Evt3Decoder]:
    native = Evt3Decoder(width, height, backend="native")
    assert native.uses_native
    return native, Evt3Decoder(width, height, backend="numpy")


def _same_packet(
    native: Evt3Decoder, numpy_decoder: Evt3Decoder, packet, is_bigendian: bool = False
) -> int | None:
    """Decode ``packet`` with both; assert identical results (or errors); return the CD count
    (None: error)."""
    errors = []
    results = []
    for decoder in (native, numpy_decoder):
        try:
            results.append(decoder.decode(packet, is_bigendian))
        except EventDecodeError as error:
            errors.append(str(error))
    assert len(errors) in (0, 2), errors
    if errors:
        assert errors[0] == errors[1]
    else:
        ours, theirs = results
        assert ours.cd.dtype == theirs.cd.dtype == CD_EVENT_DTYPE
        assert ours.triggers.dtype == theirs.triggers.dtype == TRIGGER_EVENT_DTYPE
        np.testing.assert_array_equal(ours.cd, theirs.cd)
        np.testing.assert_array_equal(ours.triggers, theirs.triggers)
        assert ours.dropped == theirs.dropped
    assert repr(native.state) == repr(numpy_decoder.state)  # bools stay bools
    return None if errors else results[0].cd.size


def _random_events(rng: np.random.Generator, n: int, t0_us: int, span_us: int) -> np.ndarray:
    events = np.empty(n, CD_EVENT_DTYPE)
    events["t"] = (t0_us + np.sort(rng.integers(0, span_us, n))) * 1000
    events["x"] = rng.integers(0, 1280, n)
    events["y"] = rng.integers(0, 720, n)
    events["p"] = rng.integers(0, 2, n)
    for start in range(0, n - 40, 97):  # rows of neighbours at one time stamp: vector words
        block = slice(start, start + int(rng.integers(2, 30)))
        size = len(range(*block.indices(n)))
        events["t"][block] = events["t"][start]
        events["y"][block] = events["y"][start]
        events["p"][block] = events["p"][start]
        events["x"][block] = np.sort(rng.choice(1280, size, replace=False))
    return events


def _random_triggers(rng: np.random.Generator, events: np.ndarray, n: int) -> np.ndarray:
    triggers = np.zeros(n, TRIGGER_EVENT_DTYPE)
    triggers["t"] = np.sort(rng.choice(events["t"], n, replace=False))
    triggers["p"] = rng.integers(0, 2, n)
    triggers["id"] = rng.integers(0, 16, n)
    return triggers


def _even_cuts(rng: np.random.Generator, n_bytes: int, n_cuts: int) -> np.ndarray:
    inner = np.sort(rng.choice(np.arange(1, n_bytes // 2), n_cuts, replace=False)) * 2
    return np.r_[0, inner, n_bytes]


def test_state_fields_match_evt3_state():
    assert evt3_native.STATE_FIELDS == tuple(f.name for f in fields(Evt3State))


@needs_native
def test_library_is_the_built_extension():
    path = evt3_native.library_path()
    assert path is not None and path.parent.name == "io" and path.name.startswith("_evt3")


@needs_native
def test_real_bag_packet_by_packet(shared_data):
    with BagReader(shared_data / "events" / "evt3_trigger") as reader:
        packets = [np.asarray(m.message.events) for m in reader.messages()]
    native, numpy_decoder = _pair()
    total = sum(_same_packet(native, numpy_decoder, packet) for packet in packets)
    assert total > 10_000 and native.state.time_valid
    # the bag as one buffer, and again split at random even offsets
    stream = np.concatenate(packets).tobytes()
    one_native, one_numpy = _pair()
    assert _same_packet(one_native, one_numpy, stream) == total
    rng = np.random.default_rng(3)
    split_native, split_numpy = _pair()
    cuts = _even_cuts(rng, len(stream), 60)
    pieces = zip(cuts[:-1], cuts[1:], strict=True)
    assert sum(_same_packet(split_native, split_numpy, stream[a:b]) for a, b in pieces) == total


@needs_native
@pytest.mark.parametrize("vectorize", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_random_streams_across_wraps_and_splits(vectorize, seed):
    rng = np.random.default_rng(seed)
    start_us = (1 << 24) - int(rng.integers(500_000, 3_000_000))
    events = _random_events(rng, 5000, start_us, 40_000_000)  # > 2 wraps of the 24-bit counter
    data = encode_evt3(events, _random_triggers(rng, events, 40), vectorize=vectorize)
    width, height = (1280, 720) if seed == 0 else (1000, 600)  # seed 1: some events out of geometry
    native, numpy_decoder = _pair(width, height)
    cuts = _even_cuts(rng, len(data), 80)
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        _same_packet(native, numpy_decoder, data[a:b])
    assert native.state.wraps >= 2
    # no geometry: x and y as they come (vector bases past 2047 included)
    unbounded_native, unbounded_numpy = _pair(0, 0)
    assert _same_packet(unbounded_native, unbounded_numpy, data) > 0


@needs_native
def test_big_endian_and_empty_packets():
    rng = np.random.default_rng(5)
    events = _random_events(rng, 800, 10_000, 1_000_000)
    data = encode_evt3(events, vectorize=True)
    swapped = np.frombuffer(data, "<u2").astype(">u2").tobytes()
    native, numpy_decoder = _pair()
    assert _same_packet(native, numpy_decoder, swapped, is_bigendian=True) == events.size
    assert _same_packet(native, numpy_decoder, b"") == 0


@needs_native
def test_dense_vector_stream_grows_the_output():
    # 12 events per VECT_12 word: far more events than words, so the output buffer must grow
    runs = 500
    events = np.empty(runs * 48, CD_EVENT_DTYPE)
    events["t"] = np.repeat(np.arange(runs), 48) * 1000
    events["y"] = np.repeat(np.arange(runs) % 720, 48)
    events["x"] = np.tile(np.arange(48), runs) + 100
    events["p"] = np.repeat(np.arange(runs) % 2, 48)
    data = encode_evt3(events, vectorize=True)
    assert len(data) // 2 < events.size // 5
    native, numpy_decoder = _pair()
    assert _same_packet(native, numpy_decoder, data) == events.size


@needs_native
def test_triggers_beyond_first_capacity():
    rng = np.random.default_rng(9)
    events = _random_events(rng, 300, 0, 200_000)
    triggers = _random_triggers(rng, events, 200)
    native, numpy_decoder = _pair()
    _same_packet(native, numpy_decoder, encode_evt3(events, triggers))
    assert native.state.time_valid


@needs_native
def test_corrupt_streams_give_the_same_errors_and_resync():
    rng = np.random.default_rng(11)
    events = _random_events(rng, 4000, 5_000, 3_000_000)
    data = bytearray(encode_evt3(events, _random_triggers(rng, events, 10), vectorize=True))
    native, numpy_decoder = _pair()
    cuts = _even_cuts(rng, len(data), 30)
    packets = [bytes(data[a:b]) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
    for index in (3, 9, 17):  # a reserved word type somewhere in these packets
        corrupt = bytearray(packets[index])
        word = int(rng.integers(0, len(corrupt) // 2))
        reserved = int(rng.choice([0x1, 0x9, 0xB, 0xC, 0xD]))
        corrupt[2 * word + 1] = (reserved << 4) | (corrupt[2 * word + 1] & 0xF)
        packets[index] = bytes(corrupt)
    packets[22] = packets[22][:-1]  # odd byte count
    n_errors = 0
    for packet in packets:
        before = native.state
        if _same_packet(native, numpy_decoder, packet) is None:
            n_errors += 1
            assert native.state == before.resynced()
    assert n_errors == 4
    assert native.state.time_valid  # decoding went on after the errors


@needs_native
def test_reserved_word_in_a_later_chunk_reports_like_numpy():
    # a packet longer than the numpy path's chunk, corrupt only far in: same message (chunk-relative)
    rng = np.random.default_rng(13)
    events = _random_events(rng, 60_000, 0, 5_000_000)
    data = bytearray(encode_evt3(events))
    assert len(data) // 2 > (1 << 17) + 100
    data[2 * ((1 << 17) + 50) + 1] = 0xC0
    data[2 * ((1 << 17) + 70) + 1] = 0x90
    native, numpy_decoder = _pair()
    with pytest.raises(EventDecodeError, match=r"2 words of reserved types \(first: word 50 "):
        native.decode(bytes(data))
    assert _same_packet(native, numpy_decoder, bytes(data)) is None


def test_numpy_backend_is_always_there():
    decoder = Evt3Decoder(backend="numpy")
    assert not decoder.uses_native
    with pytest.raises(ValueError, match="backend"):
        Evt3Decoder(backend="fast")


@pytest.mark.parametrize("backend", ["native", "numpy"])
def test_offset_is_added_to_every_time_while_decoding(backend):
    if backend == "native" and not evt3_native.available():
        pytest.skip(f"no compiled decoder: {evt3_native.unavailable_reason}")
    rng = np.random.default_rng(17)
    events = _random_events(rng, 2000, 1000, 2_000_000)
    data = encode_evt3(events, _random_triggers(rng, events, 12), vectorize=True)
    plain = Evt3Decoder(1280, 720, backend=backend).decode(data)
    offset = 1_700_000_000 * 10**9 + 123
    shifted = Evt3Decoder(1280, 720, backend=backend).decode(data, offset_ns=offset)
    np.testing.assert_array_equal(shifted.cd["t"], plain.cd["t"] + offset)
    np.testing.assert_array_equal(shifted.triggers["t"], plain.triggers["t"] + offset)
    np.testing.assert_array_equal(shifted.cd[["x", "y", "p"]], plain.cd[["x", "y", "p"]])
    assert plain.cd.size == events.size and plain.triggers.size == 12


@needs_native
def test_packets_own_their_events_when_the_scratch_buffer_is_reused():
    # packets up to SCRATCH_WORDS words are decoded into one reused buffer and copied out
    rng = np.random.default_rng(19)
    events = _random_events(rng, 30_000, 0, 6_000_000)
    data = encode_evt3(events, _random_triggers(rng, events, 300), vectorize=False)
    n_words = len(data) // 2
    assert n_words > 2 * evt3_native.SCRATCH_WORDS
    big = 2 * (evt3_native.SCRATCH_WORDS + 1000)  # bytes: one packet past the scratch buffer
    cuts = [0, 5000, 5000 + big, 5000 + big + 3000, 5000 + big + 9000, len(data)]
    native, numpy_decoder = _pair()
    kept = []
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        decoded = native.decode(data[a:b])
        reference = numpy_decoder.decode(data[a:b])
        np.testing.assert_array_equal(decoded.cd, reference.cd)
        np.testing.assert_array_equal(decoded.triggers, reference.triggers)
        assert decoded.cd.flags.writeable and decoded.triggers.flags.writeable
        kept.append((decoded, reference))
    # later packets did not overwrite the events handed out for earlier ones
    for decoded, reference in kept:
        np.testing.assert_array_equal(decoded.cd, reference.cd)
        np.testing.assert_array_equal(decoded.triggers, reference.triggers)
    arrays = [d.cd for d, _ in kept] + [d.triggers for d, _ in kept if d.triggers.size]
    assert not any(np.shares_memory(x, y) for i, x in enumerate(arrays) for y in arrays[i + 1:])
    assert sum(d.cd.size for d, _ in kept) == events.size
    assert sum(d.triggers.size for d, _ in kept) == 300


@needs_native
def test_the_stream_state_stays_in_the_compiled_job_and_can_be_set():
    rng = np.random.default_rng(23)
    events = _random_events(rng, 3000, 0, 1_000_000)
    data = encode_evt3(events, vectorize=True)
    half = len(data) // 4 * 2
    native, numpy_decoder = _pair()
    _same_packet(native, numpy_decoder, data[:half])
    state = native.state
    assert isinstance(state, Evt3State) and state.time_valid
    fresh = Evt3Decoder(1280, 720, backend="native")
    fresh.state = state  # continues where the other stopped
    np.testing.assert_array_equal(fresh.decode(data[half:]).cd, numpy_decoder.decode(data[half:]).cd)
    fresh.reset()
    assert fresh.state == Evt3State()


@needs_native
def test_read_only_and_writable_buffers_decode_alike():
    # the compiled path reads the address of writable and read-only buffers in different ways
    rng = np.random.default_rng(29)
    events = _random_events(rng, 1500, 0, 800_000)
    data = encode_evt3(events, vectorize=True)
    inputs = [data, bytearray(data), np.frombuffer(data, np.uint8), np.frombuffer(data, np.uint8).copy(),
              np.frombuffer(data, "<u2").copy()]
    assert not inputs[2].flags.writeable and inputs[3].flags.writeable
    for packet in inputs:
        decoded = Evt3Decoder(1280, 720, backend="native").decode(packet)
        np.testing.assert_array_equal(decoded.cd, events)
        assert decoded.cd.flags.writeable
