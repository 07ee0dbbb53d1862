"""Throughput of EVT 3.0 decoding and event accumulation, on one core.

Prints, in one run: decode Mev/s on the shared evt3 bag's payload repeated to >= 10M events (as one
stream and packet by packet; compiled and numpy decoders side by side, median of the repeats, with
their ratio); in CPU time, the node's path on the same stream cut into packets of several sizes
(the bag's own ~7 KB among them), with the recorded stamps and with those of a 50 Mev/s camera:
decoding packet by packet (``EventPacketDecoder.decode``, before) beside the node's batches
(``EventPacketDecoder.decode_batch``, now), and with 50 ms windows (``EventStream.push`` beside
``EventStream.queue`` / ``flush``, as the node does it), old and new alternating; a dense
vectorised stream made with ``encode_evt3``, the speed of a per-word Python reference loop on a
slice (and the ratio), and accumulation Mev/s for EventHPE frames and voxel grids.

    python benchmarks/bench_events.py [--min-events 10000000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from timing import best_time, median_time  # noqa: E402

from hpe_ros.io import evt3_native  # noqa: E402
from hpe_ros.io.bags import BagReader  # noqa: E402
from hpe_ros.io.event_stream import EventStream  # noqa: E402
from hpe_ros.io.events import CD_EVENT_DTYPE, EventPacketDecoder, Evt3Decoder, encode_evt3  # noqa: E402
from hpe_ros.pipelines.events.representations import (  # noqa: E402
    eventhpe_frames,
    partition_occupancy,
    voxel_grid,
)


def compare_backends(label: str, n_events: int, run: Callable[[Any], object], repeats: int) -> None:
    """Median Mev/s of ``run(backend)`` for the compiled and the numpy decoder, and their ratio."""
    rates = {}
    for backend in ("native", "numpy"):
        if backend == "native" and not evt3_native.available():
            continue
        rates[backend] = n_events / median_time(partial(run, backend), repeats) / 1e6
    line = "  ".join(f"{name} {rate:7.1f}" for name, rate in rates.items())
    ratio = f"  (x{rates['native'] / rates['numpy']:.1f})" if len(rates) == 2 else ""
    print(f"  {label:<22}: {line} Mev/s{ratio}")


def reference_decode(data: bytes) -> int:
    """Per-word Python loop (CD count only), the baseline the vectorised decoder is compared with."""
    y = high = None
    low = base = pol = 0
    valid = seen_high = False
    count = 0
    for i in range(0, len(data), 2):
        word = data[i] | (data[i + 1] << 8)
        kind, payload = word >> 12, word & 0xFFF
        if kind == 0x8:
            high, seen_high = payload, True
        elif kind == 0x6:
            low, valid = payload, valid or seen_high
        elif kind == 0x0:
            y = payload & 0x7FF
        elif kind == 0x3:
            base, pol = payload & 0x7FF, payload >> 11
        elif kind == 0x2:
            count += valid and y is not None
        elif kind in (0x4, 0x5):
            n = 12 if kind == 0x4 else 8
            count += bin(payload & ((1 << n) - 1)).count("1") if valid else 0
            base += n
    del high, low, base, pol
    return count


def dense_stream(n_events: int, width: int = 1280, height: int = 720) -> np.ndarray:
    """Busy-scene events: runs of 24 neighbouring pixels of one row firing in the same microsecond."""
    rng = np.random.default_rng(0)
    runs = n_events // 24
    events = np.empty(runs * 24, CD_EVENT_DTYPE)
    events["t"] = np.repeat(np.arange(runs) // 4, 24) * 1000
    events["y"] = np.repeat(rng.integers(0, height, runs), 24)
    events["x"] = (np.repeat(rng.integers(0, width - 32, runs), 24) + np.tile(np.arange(24), runs))
    events["p"] = np.repeat(rng.integers(0, 2, runs), 24)
    return events


def median_cpu_time(fn: Callable[[], object], repeats: int) -> float:
    """Median CPU seconds of this process per call: on a machine shared with other jobs, time spent
    waiting for a core does not count (all these paths run on one thread)."""
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return statistics.median(times)


def packet_messages(template: Any, payload: bytes, packet_bytes: int) -> list[Any]:
    """``payload`` cut into EventPacket messages of ``packet_bytes`` (even), stamped as a driver
    would: ROS time = sensor time of the packet's last event + a fixed offset."""
    decoder = Evt3Decoder(template.width, template.height)
    messages, stamp_ns = [], 1_700_000_000 * 10**9
    for start in range(0, len(payload), packet_bytes):
        chunk = payload[start:start + packet_bytes]
        events = decoder.decode(chunk).cd
        if events.size:
            stamp_ns = 1_700_000_000 * 10**9 + int(events["t"][-1])
        header = replace(template.header, stamp=replace(template.header.stamp, sec=stamp_ns // 10**9,
                                                        nanosec=stamp_ns % 10**9))
        messages.append(replace(template, header=header, events=np.frombuffer(bytearray(chunk), np.uint8)))
    return messages


def restamped(messages: list[Any], rate_ev_s: float) -> list[Any]:
    """``messages`` stamped as a camera producing ``rate_ev_s`` events/s would stamp them (the
    packets' own sensor times unchanged): the node then queues many packets per window."""
    decoder, out, events = Evt3Decoder(), [], 0
    for message in messages:
        events += decoder.decode(message.events).cd.size
        stamp_ns = 1_700_000_000 * 10**9 + int(events * 1e9 / rate_ev_s)
        header = replace(message.header, stamp=replace(message.header.stamp, sec=stamp_ns // 10**9,
                                                        nanosec=stamp_ns % 10**9))
        out.append(replace(message, header=header))
    return out


def node_batches(messages: list[Any], copies: int) -> list[list[Any]]:
    """The batches the event node decodes: ``EventStream.queue`` says when one is due."""
    stream, batches, start = EventStream(window_ms=50.0), [], 0
    stream_messages = messages * copies
    for index, message in enumerate(stream_messages):
        if stream.queue(message):
            stream.flush()
            batches.append(stream_messages[start:index + 1])
            start = index + 1
    if start < len(stream_messages):
        batches.append(stream_messages[start:])
    return batches


def camera_stream(bag_events: np.ndarray, copies: int, rate_ev_s: float) -> bytes:
    """The bag's events ``copies`` times in a row on one clock, its time scaled so that the stream
    runs at ``rate_ev_s``, encoded as EVT 3.0 again: what a camera at that rate would send."""
    t = bag_events["t"] - bag_events["t"][0]
    period = int(t[-1]) + 1000
    events = np.tile(bag_events, copies)
    events["t"] = (np.tile(t, copies) + np.repeat(np.arange(copies) * period, t.size)) * (
        bag_events.size / (period * 1e-9)) / rate_ev_s
    return encode_evt3(events)


def _node_runs(messages: list[Any], copies: int, batches: list[list[Any]]) -> tuple[Callable[[], None], ...]:
    """Decoding packet by packet and in the node's batches; with windows, ``push`` and ``queue``."""

    def per_packet() -> None:
        decoder = EventPacketDecoder()
        for _ in range(copies):
            for message in messages:
                decoder.decode(message)

    def batched() -> None:
        decoder = EventPacketDecoder()
        for batch in batches:
            decoder.decode_batch(batch)

    def push() -> None:
        events = EventStream(window_ms=50.0)
        for _ in range(copies):
            for message in messages:
                events.push(message)

    def queue() -> None:  # as the node does it
        events = EventStream(window_ms=50.0)
        for _ in range(copies):
            for message in messages:
                if events.queue(message):
                    events.flush()
        events.flush()

    return per_packet, batched, push, queue


def node_path(bag_messages: list[Any], stream: bytes, copies: int, repeats: int) -> None:
    """Mev/s of the node's decoding, packet by packet (before) and in the node's batches (now), side by side.

    Old and new alternate repeat by repeat; medians of CPU time of this process. ``recorded``: the
    bag's packets fed ``copies`` times in a row with their own stamps (the sensor clock wraps, ROS
    time re-anchors once per copy): the bag's rate, ~65 kev/s, a few packets per 50 ms window.
    ``50 Mev/s``: the bag's packets stamped as a 50 Mev/s camera would (decoding only: their sensor
    times do not follow those stamps), and the bag's events re-encoded as a 50 Mev/s camera's
    stream, cut into packets of the bag's mean size, 2 KB and 32 KB, stamped like a driver."""
    n_events = Evt3Decoder(1280, 720).decode(stream).cd.size
    long_rate = n_events / median_cpu_time(lambda: Evt3Decoder(1280, 720).decode(stream), repeats) / 1e6
    print(f"node path, default backend ({'compiled' if evt3_native.available() else 'numpy'}, batches: "
          f"{'yes' if evt3_native.batch_available() else 'no'}), CPU time of this process; the bag as one "
          f"long stream: {long_rate:.1f} Mev/s. Decoding (EventPacketDecoder: counts, ROS time) and decoding"
          " + 50 ms windows (EventStream), Mev/s:")
    print(f"  {'packets':>22} {'stamps':>9} {'batch':>6} | {'decode: packet':>14} {'batch':>6} {'x':>5} | "
          f"{'+windows: push':>14} {'queue':>6} {'x':>5}")
    payload = stream[:len(stream) // copies]
    # writable event buffers, as rclpy hands them over (array.array); the bag reader's are read-only
    own = [replace(m, events=np.array(m.events)) for m in bag_messages]
    mean_bytes = 2 * round(len(payload) / len(own) / 2)
    camera = camera_stream(Evt3Decoder(1280, 720).decode(payload).cd, copies, 50e6)
    camera_events = Evt3Decoder(1280, 720).decode(camera).cd.size
    cases: list[tuple[str, str, list[Any], int, bool]] = [("bag's own", "recorded", own, copies, True)]
    cases += [(f"bag's {size // 1024} KB", "recorded", packet_messages(own[0], payload, size), copies, True)
              for size in (2048, 32768)]
    cases.append(("bag's own", "50 Mev/s", restamped(own, 50e6), copies, False))
    cases += [(f"camera {size / 1024:.1f} KB", "50 Mev/s", packet_messages(own[0], camera, size), 1, True)
              for size in (mean_bytes, 2048, 32768)]
    for label, load, messages, times_fed, windows in cases:
        batches = node_batches(messages, times_fed)
        runs = _node_runs(messages, times_fed, batches)[:4 if windows else 2]
        fed = sum(m.events.size for m in messages) * times_fed
        events = n_events if times_fed == copies else camera_events
        spent: list[list[float]] = [[] for _ in runs]
        for _ in range(repeats):  # old and new alternate
            for run, times in zip(runs, spent, strict=True):
                times.append(median_cpu_time(run, 1))
        rates = [events / statistics.median(times) / 1e6 for times in spent]
        cells = f"{rates[0]:14.1f} {rates[1]:6.1f} {rates[1] / rates[0]:5.2f} | "
        cells += f"{rates[2]:14.1f} {rates[3]:6.1f} {rates[3] / rates[2]:5.2f}" if windows else f"{'-':>14}"
        per_packet = events // (len(messages) * times_fed)
        per_batch = len(messages) * times_fed / len(batches)
        print(f"  {label:>13} {per_packet:>5} ev {load:>9} {per_batch:6.1f} | {cells}   "
              f"({fed / events:.2f} B/ev)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--bag", type=Path, default=REPO.parent / "shared" / "data" / "events" / "evt3_trigger"
    )
    parser.add_argument("--min-events", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if not args.bag.exists():
        sys.exit(f"bag {args.bag} not found (needs ../shared/data)")
    with BagReader(args.bag) as reader:
        messages = [m.message for m in reader.messages()]
    packets = [np.asarray(m.events).tobytes() for m in messages]
    payload = b"".join(packets)
    per_copy = Evt3Decoder(1280, 720).decode(payload).cd.size
    copies = -(-args.min_events // per_copy)
    stream = payload * copies
    n_words = len(stream) // 2

    decoded = Evt3Decoder(1280, 720).decode(stream)
    seconds = best_time(lambda: Evt3Decoder(1280, 720).decode(stream), args.repeats)
    print(f"evt3 bag x{copies}: {decoded.cd.size / 1e6:.1f}M events, {n_words / 1e6:.1f}M words "
          f"({n_words / decoded.cd.size:.2f} words/event); compiled decoder: "
          f"{'yes' if evt3_native.available() else 'no (' + str(evt3_native.unavailable_reason) + ')'}")
    compare_backends("decode as one stream", decoded.cd.size,
                     lambda backend: Evt3Decoder(1280, 720, backend=backend).decode(stream), args.repeats)

    def per_packet(backend: Any) -> None:
        decoder = Evt3Decoder(1280, 720, backend=backend)
        for packet in packets:
            decoder.decode(packet)

    compare_backends(f"per packet (~{per_copy // len(packets)} ev)", per_copy, per_packet, args.repeats)

    node_path(messages, stream, copies, args.repeats)

    dense = dense_stream(args.min_events)
    dense_bytes = encode_evt3(dense, vectorize=True)
    dense_decoded = Evt3Decoder(1280, 720).decode(dense_bytes)
    assert np.array_equal(dense_decoded.cd, dense)
    print(f"dense vectorised stream ({dense.size / 1e6:.1f}M events, "
          f"{len(dense_bytes) / 2 / dense.size:.2f} words/event):")
    compare_backends("decode as one stream", dense.size,
                     lambda backend: Evt3Decoder(1280, 720, backend=backend).decode(dense_bytes),
                     args.repeats)

    small = b"".join(packets[:20])
    small_events = Evt3Decoder(1280, 720).decode(small).cd.size
    seconds_ref = best_time(lambda: reference_decode(small), 1)
    seconds_vec = best_time(lambda: Evt3Decoder(1280, 720).decode(small), args.repeats)
    print(f"reference per-word loop on {small_events} events: {small_events / seconds_ref / 1e6:.2f} Mev/s; "
          f"Evt3Decoder (default backend) on the same slice {small_events / seconds_vec / 1e6:.1f} Mev/s "
          f"(x{seconds_ref / seconds_vec:.0f}); "
          f"bulk stream vs loop x{(decoded.cd.size / seconds) / (small_events / seconds_ref):.0f}")

    events = decoded.cd
    for name, fn in [
        ("EventHPE partitions (4 x 720 x 1280)", lambda: partition_occupancy(events, 720, 1280, 4)),
        ("EventHPE frames (2 intervals -> 8 x 256 x 256)",
         lambda: eventhpe_frames([events[: events.size // 2], events[events.size // 2:]], 720, 1280)),
        ("voxel grid (5 x 720 x 1280)", lambda: voxel_grid(events, 5, 720, 1280)),
    ]:
        seconds_acc = best_time(fn, args.repeats)
        print(f"accumulate {name}: {events.size / seconds_acc / 1e6:.1f} Mev/s")


if __name__ == "__main__":
    main()
