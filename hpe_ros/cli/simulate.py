"""``hpe-ros simulate-events VIDEO OUT_BAG``: an event-camera bag from a video, images or one image."""

from __future__ import annotations

import argparse
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path


def _size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)[xX](\d+)", text.strip())
    if not match or int(match.group(1)) <= 0 or int(match.group(2)) <= 0:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, e.g. 640x480, got {text!r}")
    return int(match.group(1)), int(match.group(2))


def _seconds_to_ns(text: str) -> int:
    """Seconds as text -> exact integer nanoseconds (a float would lose them at today's epoch)."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"expected seconds, e.g. 1700000000.25, got {text!r}") from None
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"expected non-negative seconds, got {text!r}")
    return int(value * 1_000_000_000)


def add_command(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "simulate-events", help="simulate an event camera from a video (or images) into a bag of EventPackets"
    )
    parser.add_argument("source", type=Path, help="video file, folder of images, or one image (animated)")
    parser.add_argument("out_bag", type=Path)
    parser.add_argument("--fps", type=float, help="frame rate (default: the video's; 30 for images)")
    parser.add_argument("--max-frames", type=int, help="use at most this many frames")
    parser.add_argument("--animate-frames", type=int, default=60, help="frames made from a single image")
    parser.add_argument("--size", type=_size, metavar="WxH",
                        help="resize the frames (EVT 3.0 allows 2048x2048)")
    parser.add_argument("--contrast", type=float, default=0.2,
                        help="contrast threshold C+ = C- (log intensity)")
    parser.add_argument("--contrast-sigma", type=float, default=0.0, help="per-pixel relative spread of C")
    parser.add_argument("--refractory-us", type=float, default=0.0, help="refractory period (microseconds)")
    parser.add_argument("--noise-rate", type=float, default=0.0,
                        help="shot-noise events per pixel per second")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--packet-us", type=int, default=1000,
                        help="time span of one EventPacket (microseconds)")
    parser.add_argument("--start-s", dest="start_ns", type=_seconds_to_ns, default=0, metavar="SECONDS",
                        help="ROS time of the first frame (seconds)")
    parser.add_argument("--events-topic", default="/event_camera/events")
    parser.add_argument("--gray-topic", default="/event_camera/image_raw", help="mono8 frames ('' for none)")
    parser.add_argument("--frame-id", default="event_camera")
    parser.add_argument("--storage", choices=("sqlite3", "mcap"), default="sqlite3")


def simulate_command(args: argparse.Namespace) -> int:
    from hpe_ros.io.event_bags import open_frame_source, simulate_event_bag
    from hpe_ros.pipelines.events.simulator import EventSimulatorConfig

    source = open_frame_source(args.source, fps=args.fps, max_frames=args.max_frames,
                               animate_frames=args.animate_frames, size=args.size)
    config = EventSimulatorConfig(
        contrast_pos=args.contrast, contrast_neg=args.contrast, contrast_sigma=args.contrast_sigma,
        refractory_ns=int(round(args.refractory_us * 1000)), noise_rate_hz=args.noise_rate, seed=args.seed,
    )
    print(f"simulating events from {source.description} at {source.fps:g} fps")
    report = simulate_event_bag(
        source.frames, source.stamps_ns(args.start_ns), args.out_bag, simulator=config,
        events_topic=args.events_topic, gray_topic=args.gray_topic or None, frame_id=args.frame_id,
        packet_us=args.packet_us, storage=args.storage,
    )
    if report.frames < 2:
        print("warning: fewer than 2 frames, so no events")
    print(report.summary())
    return 0
