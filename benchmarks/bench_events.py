"""Throughput of EVT 3.0 decoding and event accumulation, on one core.

Prints, in one run: decode Mev/s on the shared evt3 bag's payload repeated to >= 10M events (as one
stream and packet by packet; compiled and numpy decoders side by side, median of the repeats, with
their ratio); in CPU time, the node's path on the same stream cut into packets of several sizes (the bag's own
~7 KB among them), packet by packet as the node gets them, beside decoding it as one long stream:
``Evt3Decoder.decode``, ``EventPacketDecoder.decode`` (what the node calls: counts, ROS time) and
``EventStream.push`` (decoding and 50 ms windows); a dense vectorised stream made with
``encode_evt3``, the speed of a per-word Python reference loop on a slice (and the ratio), and
accumulation Mev/s for EventHPE frames and voxel grids.

    python benchmarks/bench_events.py [--min-events 10000000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
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


def compare_backends(label: str, n_events: int, run, repeats: int) -> None:
    """Median Mev/s of ``run(backend)`` for the compiled and the numpy decoder, and their ratio."""
    rates = {}
    for backend in ("native", "numpy"):
        if backend == "native" and not evt3_native.available():
            continue
        rates[backend] = n_events / median_time(lambda backend=backend: run(backend), repeats) / 1e6
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


def node_path(bag_messages: list[Any], stream: bytes, copies: int, repeats: int) -> None:
    """Mev/s packet by packet (decoder, node decoding, node decoding + 50 ms windows) beside one stream.

    The packets of one copy of the bag are fed ``copies`` times in a row (the stream goes on: the
    sensor clock wraps, ROS time re-anchors once per copy); each packet's bytes are in the cache,
    as in the node, where the packet was just deserialised."""
    n_events = Evt3Decoder(1280, 720).decode(stream).cd.size
    long_rate = n_events / median_cpu_time(lambda: Evt3Decoder(1280, 720).decode(stream), repeats) / 1e6
    print(f"node path, default backend ({'compiled' if evt3_native.available() else 'numpy'}), "
          f"{n_events / 1e6:.1f}M events, CPU time of this process; one long stream: {long_rate:.1f} "
          "Mev/s; packet by packet (and x of the long stream):")
    print(f"  {'packets':>19} {'Evt3Decoder':>17} {'EventPacketDecoder':>19} {'EventStream.push':>19}")
    payload = stream[:len(stream) // copies]
    # writable event buffers, as rclpy hands them over (array.array); the bag reader's are read-only
    cuts = [("bag's own", [replace(m, events=np.array(m.events)) for m in bag_messages])]
    for size in (2048, 32768, 131072):
        cuts.append((f"{size // 1024} KB", packet_messages(bag_messages[0], payload, size)))
    for label, messages in cuts:

        def decoder_only(messages=messages) -> None:
            decoder = Evt3Decoder(1280, 720)
            for _ in range(copies):
                for message in messages:
                    decoder.decode(message.events)

        def node_decoding(messages=messages) -> None:
            decoder = EventPacketDecoder()
            for _ in range(copies):
                for message in messages:
                    decoder.decode(message)

        def node_windows(messages=messages) -> None:
            events = EventStream(window_ms=50.0)
            for _ in range(copies):
                for message in messages:
                    events.push(message)

        runs = (decoder_only, node_decoding, node_windows)
        rates = [n_events / median_cpu_time(run, repeats) / 1e6 for run in runs]
        cells = "".join(f" {rate:8.1f} (x{rate / long_rate:4.2f})" for rate in rates)
        print(f"  {label:>9} {n_events // copies // len(messages):>6} ev{cells} Mev/s")


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

    def per_packet(backend: str) -> None:
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
