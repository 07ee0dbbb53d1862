"""EVT 3.0 / mono / DVS decoding, checked against a per-word reference decoder and round trips."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from hpe_ros.io.bags import BagReader
from hpe_ros.io.events import (
    CD_EVENT_DTYPE,
    TRIGGER_EVENT_DTYPE,
    EventDecodeError,
    EventPacketDecoder,
    Evt3Decoder,
    decode_dvs_event_array,
    decode_packet,
    encode_evt3,
)


class ReferenceEvt3Decoder:
    """A plain per-word EVT 3.0 decoder written from the format description, for cross-checks.

    Word type = top 4 bits. ADDR_Y (0000): y = bits 0-10. ADDR_X (0010): x = bits 0-10,
    polarity = bit 11, one event. VECT_BASE_X (0011): base x = bits 0-10, polarity = bit 11.
    VECT_12 (0100) / VECT_8 (0101): bit i of the 12 / 8 low bits -> event at base + i, then base
    += 12 / 8. TIME_LOW (0110) / TIME_HIGH (1000): low / high 12 bits of the 24-bit microsecond
    time; a TIME_HIGH more than 10 ticks below the previous one is a wrap (+2^24 us).
    EXT_TRIGGER (1010): edge = bit 0, channel = bits 8-11. Events are emitted once a TIME_HIGH
    and then a TIME_LOW were seen, and a row (ADDR_Y) / vector base is known.
    """

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.y = None
        self.base = None
        self.pol = 0
        self.high = None
        self.wraps = 0
        self.low = 0
        self.seen_high = False
        self.valid = False

    def decode(self, data: bytes) -> tuple[list[tuple[int, int, int, int]], list[tuple[int, int, int]]]:
        cd, triggers = [], []
        for i in range(0, len(data), 2):
            word = data[i] | (data[i + 1] << 8)
            kind, payload = word >> 12, word & 0xFFF
            t_ns = ((self.wraps << 24) + ((self.high or 0) << 12) + self.low) * 1000
            if kind == 0x8:
                if self.high is not None and self.high - payload > 10:
                    self.wraps += 1
                self.high = payload
                self.seen_high = True
            elif kind == 0x6:
                self.low = payload
                self.valid = self.valid or self.seen_high
            elif kind == 0x0:
                self.y = payload & 0x7FF
            elif kind == 0x3:
                self.base, self.pol = payload & 0x7FF, payload >> 11
            elif kind == 0x2:
                self._emit(cd, payload & 0x7FF, payload >> 11, t_ns)
            elif kind in (0x4, 0x5):
                n = 12 if kind == 0x4 else 8
                if self.base is not None:
                    for bit in range(n):
                        if payload >> bit & 1:
                            self._emit(cd, self.base + bit, self.pol, t_ns)
                    self.base += n
            elif kind == 0xA:
                if self.valid:
                    triggers.append((t_ns, payload & 1, (payload >> 8) & 0xF))
            elif kind in (0x7, 0xE, 0xF):
                pass
            else:
                raise ValueError(f"reserved word type {kind}")
        return cd, triggers

    def _emit(self, cd: list, x: int, p: int, t_ns: int) -> None:
        if self.valid and self.y is not None and x < self.width and self.y < self.height:
            cd.append((x, self.y, t_ns, p))


def _evt3_messages(shared_data) -> list:
    with BagReader(shared_data / "events" / "evt3_trigger") as reader:
        return [m.message for m in reader.messages()]


def _packet(events: bytes, encoding: str = "evt3", width: int = 1280, height: int = 720, stamp_ns: int = 0):
    stamp = SimpleNamespace(sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9)
    return SimpleNamespace(header=SimpleNamespace(stamp=stamp, frame_id="cam"), height=height, width=width,
                           seq=0, time_base=0, encoding=encoding, is_bigendian=False,
                           events=np.frombuffer(events, np.uint8))


def _random_events(rng: np.random.Generator, n: int, t0_us: int, span_us: int) -> np.ndarray:
    events = np.empty(n, CD_EVENT_DTYPE)
    events["t"] = (t0_us + np.sort(rng.integers(0, span_us, n))) * 1000
    events["x"] = rng.integers(0, 1280, n)
    events["y"] = rng.integers(0, 720, n)
    events["p"] = rng.integers(0, 2, n)
    # rows of several events at one time stamp, so that vector words get used
    for start in range(0, n - 40, 400):
        block = slice(start, start + 30)
        events["t"][block] = events["t"][start]
        events["y"][block] = events["y"][start]
        events["p"][block] = events["p"][start]
        events["x"][block] = np.sort(rng.choice(1280, 30, replace=False))
    return events


def test_evt3_bag_matches_reference_decoder(shared_data):
    messages = _evt3_messages(shared_data)
    decoder = EventPacketDecoder(time_reference="sensor")
    reference = ReferenceEvt3Decoder(1280, 720)
    cds, triggers, ref_cd, ref_triggers = [], [], [], []
    for msg in messages:
        decoded = decode_packet(msg, decoder)
        cds.append(decoded.cd)
        triggers.append(decoded.triggers)
        cd, trig = reference.decode(np.asarray(msg.events).tobytes())
        ref_cd += cd
        ref_triggers += trig
    cd = np.concatenate(cds)
    trig = np.concatenate(triggers)
    expected_cd = np.array(ref_cd, dtype=[("x", "<u2"), ("y", "<u2"), ("t", "<i8"), ("p", "i1")])
    assert cd.size == len(ref_cd) > 10_000
    assert trig.size == len(ref_triggers) > 0
    np.testing.assert_array_equal(cd, expected_cd)
    np.testing.assert_array_equal(trig["t"], [r[0] for r in ref_triggers])
    np.testing.assert_array_equal(trig["p"], [r[1] for r in ref_triggers])
    np.testing.assert_array_equal(trig["id"], [r[2] for r in ref_triggers])
    assert np.all(np.diff(cd["t"]) >= 0)
    # checksums from ros-event-camera/event_camera_codecs' own decoder test on this bag
    assert int(cd["t"].sum()) == 1222326831810000
    assert (int(cd["x"].astype(np.int64).sum()), int(cd["y"].astype(np.int64).sum())) == (42078718, 31656267)
    assert int(cd["p"].sum()) == 41439
    assert (int(trig["t"].sum()), int(trig["p"].sum()), int(trig["id"].sum())) == (29096982000, 1, 0)
    # trigger edges alternate per channel
    for channel in np.unique(trig["id"]):
        edges = trig["p"][trig["id"] == channel]
        assert np.all(edges[1:] != edges[:-1])


def test_evt3_ros_time_follows_sensor_clock_from_first_stamp(shared_data):
    messages = _evt3_messages(shared_data)[:10]
    ros_decoder, sensor_decoder = EventPacketDecoder("ros"), EventPacketDecoder("sensor")
    ros = [ros_decoder.decode(m).cd for m in messages]
    sensor = [sensor_decoder.decode(m).cd for m in messages]
    stamp0 = messages[0].header.stamp.sec * 10**9 + messages[0].header.stamp.nanosec
    assert ros[0]["t"][0] == stamp0
    offset = np.concatenate(ros)["t"] - np.concatenate(sensor)["t"]
    assert np.all(offset == offset[0])


def test_mono_bag(shared_data):
    with BagReader(shared_data / "events" / "mono_cd") as reader:
        assert set(reader.topics.values()) == {"event_array_msgs/msg/EventArray"}  # the older type name
        messages = [m for m in reader.messages()]
    for reference in ("sensor", "ros"):
        decoder = EventPacketDecoder(reference)
        decoded = [decoder.decode(m.message) for m in messages]
        for msg, events in zip(messages, decoded, strict=True):
            words = np.frombuffer(np.asarray(msg.message.events).tobytes(), "<u8")
            assert events.cd.size == words.size == 50
            base = msg.message.time_base if reference == "sensor" else (
                msg.message.header.stamp.sec * 10**9 + msg.message.header.stamp.nanosec)
            np.testing.assert_array_equal(events.cd["t"], base + (words & 0xFFFFFFFF).astype(np.int64))
            np.testing.assert_array_equal(events.cd["x"], (words >> np.uint64(32)) & np.uint64(0xFFFF))
            assert np.all(events.cd["x"] < msg.message.width) and np.all(events.cd["y"] < msg.message.height)
        cd = np.concatenate([d.cd for d in decoded])
        assert set(np.unique(cd["p"])) == {0, 1}
        assert np.all(np.diff(cd["t"]) > 0)


def test_dvs_event_array():
    stamp = SimpleNamespace(sec=3, nanosec=250)
    events = [SimpleNamespace(x=5, y=7, ts=stamp, polarity=True),
              SimpleNamespace(x=1, y=2, ts=SimpleNamespace(sec=3, nanosec=900), polarity=False)]
    msg = SimpleNamespace(header=SimpleNamespace(stamp=stamp), height=10, width=10, events=events)
    decoded = decode_dvs_event_array(msg)
    assert decoded.cd.tolist() == [(5, 7, 3_000_000_250, 1), (1, 2, 3_000_000_900, 0)]
    assert EventPacketDecoder().decode(msg).cd.tolist() == decoded.cd.tolist()


def test_bad_packets_are_reported_and_skipped(shared_data):
    messages = _evt3_messages(shared_data)
    decoder = EventPacketDecoder("sensor")
    good_first = decoder.decode(messages[0])
    assert good_first.cd.size > 0
    payload = np.asarray(messages[1].events).tobytes()
    with pytest.raises(EventDecodeError, match="odd byte count"):
        decoder.decode(_packet(payload[:-1]))
    corrupt = bytearray(payload)
    corrupt[41] = 0x9F  # word 20 becomes a reserved type
    with pytest.raises(EventDecodeError, match="reserved"):
        decoder.decode(_packet(bytes(corrupt)))
    with pytest.raises(EventDecodeError, match="unknown event encoding"):
        decoder.decode(_packet(payload, encoding="evt21"))
    # the decoder goes on: later packets decode to exactly what a fresh reference decoder gives
    # once it has resynchronised (time and row known again)
    reference = ReferenceEvt3Decoder(1280, 720)
    reference.high, reference.wraps = decoder.evt3.state.time_high, decoder.evt3.state.wraps
    for msg in messages[2:6]:
        ours = decoder.decode(msg).cd
        ref_cd, _ = reference.decode(np.asarray(msg.events).tobytes())
        np.testing.assert_array_equal(ours, np.array(ref_cd, dtype=CD_EVENT_DTYPE))
    assert decoder.evt3.state.time_valid and decoder.evt3.state.y_valid


@pytest.mark.parametrize("vectorize", [False, True])
def test_encode_decode_round_trip_across_wrap_and_packets(vectorize):
    rng = np.random.default_rng(7)
    start_us = (1 << 24) - 2_000_000  # two seconds before the 24-bit counter wraps
    events = _random_events(rng, 6000, start_us, 5_000_000)
    triggers = np.zeros(6, TRIGGER_EVENT_DTYPE)
    triggers["t"] = np.sort(rng.choice(events["t"], 6, replace=False))
    triggers["p"] = [1, 0, 1, 0, 1, 0]
    triggers["id"] = [0, 0, 3, 3, 0, 0]
    data = encode_evt3(events, triggers, vectorize=vectorize)
    words = np.frombuffer(data, "<u2") >> np.uint16(12)
    assert (np.count_nonzero((words == 4) | (words == 5)) > 0) == vectorize
    cuts = np.sort(rng.choice(np.arange(1, len(data) // 2), 40, replace=False)) * 2
    decoder = Evt3Decoder(1280, 720)
    parts = [decoder.decode(data[a:b]) for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(data)], strict=True)]
    cd = np.concatenate([p.cd for p in parts])
    trig = np.concatenate([p.triggers for p in parts])
    np.testing.assert_array_equal(cd, events)  # start < 2^24 us: no wrap before the first word
    np.testing.assert_array_equal(trig, triggers)
    assert decoder.state.wraps == 1
    reference_cd, _ = ReferenceEvt3Decoder(1280, 720).decode(data)
    np.testing.assert_array_equal(np.array(reference_cd, dtype=CD_EVENT_DTYPE), events)


def test_encoder_bridges_long_gaps_and_drops_out_of_geometry():
    events = np.zeros(3, CD_EVENT_DTYPE)
    events["t"] = [5_000, 40_000_000_000, 40_000_000_000]  # a 40 s gap: more than two wraps
    events["x"] = [3, 4, 1279]
    events["y"] = [2, 2, 719]
    decoded = Evt3Decoder(640, 480).decode(encode_evt3(events))
    np.testing.assert_array_equal(decoded.cd, events[:2])
    assert decoded.dropped == 1


def _mono_words(x, y, dt, p) -> np.ndarray:
    x, y, dt, p = (np.asarray(v, np.uint64) for v in (x, y, dt, p))
    return (p << np.uint64(63)) | (y << np.uint64(48)) | (x << np.uint64(32)) | dt


def _mono_packet(words: object, width: int = 8, height: int = 4, sec: int = 100) -> SimpleNamespace:
    return SimpleNamespace(encoding="mono", width=width, height=height, is_bigendian=False, seq=0,
                           time_base=0, header=SimpleNamespace(stamp=SimpleNamespace(sec=sec, nanosec=0)),
                           events=words)


def test_mono_events_outside_the_sensor_are_dropped_and_counted():
    words = _mono_words([0, 7, 8, 3, 60000], [0, 3, 0, 4, 1], [1, 2, 3, 4, 5], [1, 0, 1, 1, 0])
    decoder = EventPacketDecoder()
    decoded = decoder.decode(_mono_packet(words.tobytes()))
    assert decoded.cd[["x", "y"]].tolist() == [(0, 0), (7, 3)] and decoded.dropped == 3
    counts = decoder.counts
    assert counts.dropped == 3 and counts.events == 2 and counts.packets == {"mono": 1}


@pytest.mark.parametrize("encoding", ["mono", "evt3"])
@pytest.mark.parametrize("size", [(100_000, 100_000), (0, 480), (640, 0), (8193, 10)])
def test_a_sensor_beyond_the_stated_size_is_refused_before_decoding(encoding, size):
    decoder = EventPacketDecoder()
    msg = _mono_packet(_mono_words([1], [1], [1], [1]).tobytes(), *size)
    msg.encoding = encoding
    with pytest.raises(EventDecodeError, match=f"{size[0]}x{size[1]} sensor; each side must be 1..8192"):
        decoder.decode(msg)
    assert decoder.counts.refused == {encoding: 1} and decoder.counts.packets == {}
    msg.width, msg.height = 8192, 8192  # the stated maximum is accepted
    assert decoder.decode(msg).cd.size == (1 if encoding == "mono" else 0)


def test_numpy_arrays_of_wider_words_are_read_as_their_bytes():
    words = _mono_words([1, 2], [3, 1], [10, 20], [1, 0])
    as_bytes = EventPacketDecoder().decode(_mono_packet(words.tobytes())).cd
    for array in (words, words.view("<u2"), words.view("<u4").reshape(2, 2), words.view(np.int8)):
        np.testing.assert_array_equal(EventPacketDecoder().decode(_mono_packet(array)).cd, as_bytes)
    evt3 = encode_evt3(_sorted_events())
    reference = Evt3Decoder(16, 16).decode(evt3).cd
    np.testing.assert_array_equal(Evt3Decoder(16, 16).decode(np.frombuffer(evt3, "<u2")).cd, reference)
    with pytest.raises(EventDecodeError, match="not a sequence of bytes"):
        EventPacketDecoder().decode(_mono_packet([1, 2, 300, 4, 5, 6, 7, 8]))
    with pytest.raises(EventDecodeError, match="not of numbers"):
        EventPacketDecoder().decode(_mono_packet(np.array([b"x"] * 8, dtype=object)))


def _sorted_events() -> np.ndarray:
    events = np.zeros(4, CD_EVENT_DTYPE)
    events["x"], events["y"], events["p"] = [1, 5, 2, 9], [0, 3, 3, 7], 1
    events["t"] = [1000, 2000, 2000, 9000]
    return events


def test_mono_time_base_outside_the_clock_range_is_refused():
    decoder = EventPacketDecoder("sensor")
    msg = _mono_packet(_mono_words([1], [1], [1], [1]).tobytes())
    msg.time_base = 2**64 - 1
    with pytest.raises(EventDecodeError, match="clock range"):
        decoder.decode(msg)
    msg.time_base = 5
    assert decoder.decode(msg).cd["t"].tolist() == [6]


def test_evt3_ros_time_reanchors_when_the_first_stamp_was_from_an_unset_clock():
    events = _sorted_events()
    later = events.copy()
    later["t"] += 10**7
    stream = encode_evt3(np.concatenate([events, later]))
    head = encode_evt3(events)
    assert stream.startswith(head)
    packets = [head, stream[len(head):]]
    decoder = EventPacketDecoder()

    def msg(data: bytes, sec: int) -> SimpleNamespace:
        return SimpleNamespace(encoding="evt3", width=16, height=16, is_bigendian=False, seq=0, events=data,
                               header=SimpleNamespace(stamp=SimpleNamespace(sec=sec, nanosec=0)))

    first = decoder.decode(msg(packets[0], 0)).cd
    assert first["t"][0] == 0  # tied to the first stamp: 0 s
    now = 1_780_000_000
    second = decoder.decode(msg(packets[1], now)).cd
    assert decoder.counts.reanchored == 1 and second["t"][0] == now * 10**9
    np.testing.assert_array_equal(second["t"] - now * 10**9, later["t"] - later["t"][0])


def test_dvs_events_outside_the_sensor_are_dropped():
    stamp = SimpleNamespace(sec=3, nanosec=0)
    events = [SimpleNamespace(x=x, y=y, ts=stamp, polarity=True)
              for x, y in ((1, 1), (10, 1), (1, 10), (9, 9))]
    decoded = decode_dvs_event_array(SimpleNamespace(header=SimpleNamespace(stamp=stamp), height=10, width=10,
                                                     events=events))
    assert decoded.cd[["x", "y"]].tolist() == [(1, 1), (9, 9)] and decoded.dropped == 2
