"""Batches of event packets (EventPacketDecoder.decode_batch, EventStream.queue / flush) give
exactly what decoding packet by packet gives: events, errors, counts, state, ROS time, windows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from hpe_ros.io import evt3_native
from hpe_ros.io.bags import BagReader
from hpe_ros.io.event_stream import EventStream
from hpe_ros.io.events import (
    CD_EVENT_DTYPE,
    TRIGGER_EVENT_DTYPE,
    DecodedBatch,
    EventDecodeError,
    EventPacketDecoder,
    Evt3Decoder,
    encode_evt3,
)

MS = 1_000_000
STAMP0 = 1_700_000_000 * 10**9
BACKENDS = ["native", "numpy"] if evt3_native.batch_available() else ["numpy"]


def _header(stamp_ns: int) -> SimpleNamespace:
    stamp = SimpleNamespace(sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9)
    return SimpleNamespace(stamp=stamp, frame_id="ev")


def _packet(events, stamp_ns: int, width: int = 640, height: int = 480, encoding: str = "evt3",
            is_bigendian: bool = False) -> SimpleNamespace:
    return SimpleNamespace(header=_header(stamp_ns), width=width, height=height, seq=0, encoding=encoding,
                           time_base=0, is_bigendian=is_bigendian, events=events)


def _stream_events(rng: np.random.Generator, n: int, start_us: int, span_us: int) -> np.ndarray:
    events = np.empty(n, CD_EVENT_DTYPE)
    events["t"] = (start_us + np.sort(rng.integers(0, span_us, n))) * 1000
    events["x"], events["y"] = rng.integers(0, 700, n), rng.integers(0, 500, n)
    events["p"] = rng.integers(0, 2, n)
    for first in range(0, n - 30, 61):  # neighbours of one row at one time: vector words
        run = slice(first, first + int(rng.integers(2, 25)))
        events["t"][run], events["y"][run], events["p"][run] = events["t"][first], events["y"][first], 1
        events["x"][run] = np.sort(rng.choice(640, len(range(*run.indices(n))), replace=False))
    return events


def _generated_messages(seed: int) -> list[SimpleNamespace]:
    """EVT 3.0 packets of a made-up sensor (wraps of the 24-bit clock, triggers, vectors, events
    outside 640 x 480), stamped like a driver, with bad packets and other encodings among them."""
    rng = np.random.default_rng(seed)
    events = _stream_events(rng, 6000, (1 << 24) - 2_000_000, 30_000_000)
    triggers = np.zeros(60, TRIGGER_EVENT_DTYPE)
    triggers["t"] = np.sort(rng.choice(events["t"], 60, replace=False))
    triggers["id"] = rng.integers(0, 16, 60)
    data = encode_evt3(events, triggers, vectorize=bool(seed % 2))
    cuts = np.r_[0, np.sort(rng.choice(np.arange(1, len(data) // 2), 90, replace=False)) * 2, len(data)]
    decoder = Evt3Decoder()
    messages, stamp = [], STAMP0
    for index, (a, b) in enumerate(zip(cuts[:-1], cuts[1:], strict=True)):
        chunk = data[a:b]
        decoded = decoder.decode(chunk).cd
        stamp = STAMP0 + int(decoded["t"][0]) if decoded.size else stamp
        if index == 40:
            stamp += 5 * 10**9  # the driver's clock jumps: ROS time is anchored again
        kinds = [np.frombuffer(bytearray(chunk), np.uint8), chunk, bytearray(chunk), list(chunk)]
        packet = _packet(kinds[index % 4], stamp)
        if index % 9 == 4:  # the same words in big-endian byte order
            packet.events, packet.is_bigendian = np.frombuffer(chunk, "<u2").astype(">u2").tobytes(), True
        messages.append(packet)
    bad_words = bytearray(data[cuts[20]:cuts[21]])
    bad_words[7] = 0x1F  # a reserved word type
    messages[20].events, messages[20].is_bigendian = bytes(bad_words), False
    messages[30].events = bytes(messages[30].events)[:-1]  # an odd byte count
    messages[33] = _packet(messages[33].events, stamp, width=100_000)  # too large: refused, no resync
    messages[50].encoding = "evt9"
    mono = (np.arange(5, dtype=np.uint64) << np.uint64(32)) | np.arange(5, dtype=np.uint64) * np.uint64(1000)
    messages.insert(60, _packet(mono.astype("<u8").tobytes(), stamp, encoding="mono"))
    messages.insert(61, SimpleNamespace(seq=0))  # not an event message at all
    return messages


def _one_by_one(decoder: EventPacketDecoder, messages: list) -> list:
    results: list[Any] = []
    for msg in messages:
        try:
            results.append(decoder.decode(msg))
        except EventDecodeError as error:
            results.append(str(error))
    return results


def _batched(decoder: EventPacketDecoder, messages: list, sizes: list[int]) -> list:
    results, start, k = [], 0, 0
    while start < len(messages):
        batch = decoder.decode_batch(messages[start:start + sizes[k % len(sizes)]])
        if batch.sorted is not None:  # the compiled decoder's order flags are the events' own
            flags = batch.order()
            found = replace(batch, sorted=None, in_order=None, all_in_order=None).order()
            assert [f.tolist() if isinstance(f, np.ndarray) else f for f in flags] == \
                [f.tolist() if isinstance(f, np.ndarray) else f for f in found]
        results += [str(batch.errors[i]) if i in batch.errors else batch.events(i) for i in range(len(batch))]
        start, k = start + len(batch), k + 1
    return results


def _assert_same_decoding(messages: list, backend: Any, sizes: list[int],
                          time_reference: Any = "ros") -> None:
    reference, batched = EventPacketDecoder(time_reference), EventPacketDecoder(time_reference)
    batched.evt3 = Evt3Decoder(backend=backend)
    expected, got = _one_by_one(reference, messages), _batched(batched, messages, sizes)
    assert len(expected) == len(got)
    for ours, theirs in zip(got, expected, strict=True):
        assert type(ours) is type(theirs)
        if isinstance(theirs, str):
            assert ours == theirs
        else:  # bit for bit
            assert ours.cd.dtype == CD_EVENT_DTYPE and ours.cd.tobytes() == theirs.cd.tobytes()
            assert ours.triggers.tobytes() == theirs.triggers.tobytes() and ours.dropped == theirs.dropped
    assert batched.counts == reference.counts
    assert batched.evt3.state == reference.evt3.state
    assert batched.evt3_offset_ns == reference.evt3_offset_ns
    assert (batched.evt3.width, batched.evt3.height) == (reference.evt3.width, reference.evt3.height)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("seed", [0, 1])
def test_generated_packets_decode_alike_in_batches(backend: str, seed: int) -> None:
    messages = _generated_messages(seed)
    reference = EventPacketDecoder()
    _one_by_one(reference, messages)
    assert reference.counts.reanchored >= 1 and reference.counts.dropped > 0 and reference.counts.triggers
    assert reference.counts.refused == {"evt3": 3, "other": 2} and reference.counts.packets["mono"] == 1
    for sizes in ([1], [3, 7], [len(messages)]):
        _assert_same_decoding(messages, backend, sizes)
    _assert_same_decoding(messages, backend, [5], time_reference="sensor")


@pytest.mark.parametrize("backend", BACKENDS)
def test_batches_grow_their_buffers_for_dense_vectors_and_many_triggers(backend: str) -> None:
    rng = np.random.default_rng(7)
    runs = 3000
    events = np.empty(runs * 24, CD_EVENT_DTYPE)  # 24 neighbours per time stamp: ~10 events per word
    events["t"] = np.repeat(np.arange(runs) // 3, 24) * 1000
    events["y"] = np.repeat(rng.integers(0, 480, runs), 24)
    events["x"] = np.repeat(rng.integers(0, 600, runs), 24) + np.tile(np.arange(24), runs)
    events["p"] = np.repeat(rng.integers(0, 2, runs), 24)
    triggers = np.zeros(500, TRIGGER_EVENT_DTYPE)
    triggers["t"] = np.sort(rng.choice(events["t"], 500, replace=False))
    data = encode_evt3(events, triggers, vectorize=True)
    messages = [_packet(data[a:a + 4096], STAMP0) for a in range(0, len(data), 4096)]
    _assert_same_decoding(messages, backend, [len(messages)])
    decoded = EventPacketDecoder().decode_batch(messages)
    assert decoded.cd.size == events.size and decoded.triggers.size == 500


def _windows(stream: EventStream, messages: list, batched: bool) -> tuple[list, list[str]]:
    windows, rejected = [], []
    for msg in messages:
        if not batched:
            try:
                windows += stream.push(msg)
            except EventDecodeError as error:
                rejected.append(str(error))
        elif stream.queue(msg):  # as the node does it
            flushed = stream.flush()
            windows += flushed.windows
            rejected += [str(error) for _, error in flushed.rejected]
    if batched:
        flushed = stream.flush()
        windows, rejected = windows + flushed.windows, rejected + [str(e) for _, e in flushed.rejected]
    return windows + stream.finish(), rejected


def _assert_same_windows(messages: list, window_ms: float = 50.0, window_events: int = 0) -> int:
    one = EventStream(window_ms=window_ms, window_events=window_events)
    many = EventStream(window_ms=window_ms, window_events=window_events)
    expected, expected_rejected = _windows(one, messages, False)
    got, got_rejected = _windows(many, messages, True)
    assert got_rejected == expected_rejected
    assert [(w.stamp_ns, w.width, w.height, w.frame_id) for w in got] == \
        [(w.stamp_ns, w.width, w.height, w.frame_id) for w in expected]
    assert all(a.events.tobytes() == b.events.tobytes() for a, b in zip(got, expected, strict=True))
    assert many.counts() == one.counts() and many.windower_counts() == one.windower_counts()
    return len(expected)


def test_queued_packets_give_the_windows_of_push() -> None:
    messages = _generated_messages(0)
    assert _assert_same_windows(messages) > 10
    assert _assert_same_windows(messages, window_ms=7.0) > 50
    assert _assert_same_windows(messages, window_events=500) > 5
    # another sensor size in the middle, and packets whose events go back in time
    resized = [SimpleNamespace(**{**vars(m), "width": 700, "height": 500})
               if 70 <= i < 80 and hasattr(m, "width") else m for i, m in enumerate(messages)]
    resized[85], resized[86] = resized[86], resized[85]
    assert _assert_same_windows(resized) > 10
    assert _assert_same_windows(resized, window_ms=2000.0) > 10  # several packets per batch


def test_a_packet_queued_while_a_batch_is_decoded_is_kept() -> None:
    messages = [m for m in _generated_messages(1)[:12] if getattr(m, "encoding", "") == "evt3"]
    stream = EventStream(window_ms=50.0)
    decode_batch = stream.decoder.decode_batch
    arriving = messages[-1]

    def decode_while_one_arrives(batch: Sequence[Any]) -> DecodedBatch:  # a packet arrives meanwhile
        stream.queue(arriving)
        return decode_batch(batch)

    stream.decoder.decode_batch = decode_while_one_arrives  # type: ignore[method-assign,assignment]
    for msg in messages[:-1]:
        stream.queue(msg)
    first = stream.flush()
    assert first.messages == len(messages) - 1 and stream.queued == 1
    stream.decoder.decode_batch = decode_batch  # type: ignore[method-assign]
    assert stream.flush().messages == 1 and stream.queued == 0
    reference = EventPacketDecoder()
    _one_by_one(reference, messages)
    assert stream.decoder.counts == reference.counts  # nothing lost, nothing twice


def test_stale_queue_and_reset() -> None:
    stream = EventStream(window_ms=50.0)
    assert not stream.stale(0.0)
    msg = _generated_messages(0)[0]
    assert stream.queue(msg)  # nothing decoded yet: decode at once to learn the stream
    assert stream.stale(0.0) and not stream.stale(60.0)
    stream.flush()
    assert not stream.stale(0.0)
    stream.queue(msg)
    stream.reset()
    assert stream.queued == 0


def _bag_messages(shared_data) -> list:
    with BagReader(shared_data / "events" / "evt3_trigger") as reader:
        # writable buffers as rclpy hands them over, the bag twice in a row (sensor clock goes back)
        return [replace(m.message, events=np.array(m.message.events)) for m in reader.messages()] * 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_real_bag_decodes_alike_in_batches(shared_data, backend: str) -> None:
    messages = _bag_messages(shared_data)
    for sizes in ([1], [4], [37], [len(messages)]):
        _assert_same_decoding(messages, backend, sizes)


def test_real_bag_gives_the_windows_of_push(shared_data) -> None:
    messages = _bag_messages(shared_data)
    assert _assert_same_windows(messages) > 20
    assert _assert_same_windows(messages, window_ms=10.0) > 100
