"""``hpe-ros play`` and ``hpe-ros record``.

rclpy's own signal handlers are left out (``SignalHandlerOptions.NO``) so that SIGINT and
SIGTERM raise :class:`~hpe_ros.cli.interruption.Interrupted` between two messages; the
recording is then closed and the one-line summary says what it holds.
"""

from __future__ import annotations

import argparse

import rclpy
from rclpy.signals import SignalHandlerOptions

from hpe_ros.cli.interruption import as_interrupted


def _init_ros() -> None:
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)


def play_command(args: argparse.Namespace) -> int:
    from hpe_ros.nodes.bag_player import BagPlayer

    _init_ros()
    try:
        player = BagPlayer(args.bag, args.topics, reliable=not args.best_effort)
        try:
            if args.wait_subscribers and not player.wait_for_subscribers(
                args.wait_subscribers, args.wait_timeout
            ):
                print(f"hpe-ros play: not every topic had {args.wait_subscribers} subscriber(s) after "
                      f"{args.wait_timeout} s; playing anyway")
            print("hpe-ros play: publishing", flush=True)
            sent = player.play(args.rate)
            if not args.best_effort and not player.wait_until_delivered():
                print("hpe-ros play: some subscribers did not acknowledge every message")
            print(f"hpe-ros play: {sent} messages published from {args.bag}")
        finally:
            player.destroy_node()
    finally:
        rclpy.try_shutdown()
    return 0


def parse_topics(items: list[str]) -> dict[str, str]:
    topics = {}
    for item in items:
        topic, sep, msgtype = item.partition(":")
        if not sep or not topic or not msgtype:
            raise ValueError(
                f"--topic needs TOPIC:TYPE, e.g. /hpe/skeletons:hpe_ros_msgs/msg/Skeleton3DArray; "
                f"got {item!r}"
            )
        topics[topic] = msgtype
    return topics


def parse_until(items: list[str]) -> dict[str, int]:
    until = {}
    for item in items:
        topic, sep, count = item.rpartition("=")
        if not sep or not count.strip().isdigit():
            raise ValueError(f"--until needs TOPIC=N with a whole number N, got {item!r}")
        until[topic] = int(count)
    return until


def _summary(counts: dict[str, int]) -> str:
    return ", ".join(f"{topic}: {count}" for topic, count in counts.items())


def record_command(args: argparse.Namespace) -> int:
    from hpe_ros.nodes.bag_recorder import BagRecorder

    topics, until = parse_topics(args.topics), parse_until(args.until)
    _init_ros()
    try:
        recorder = BagRecorder(args.out_bag, topics, storage=args.storage)
        try:
            if args.wait_publishers and not recorder.wait_for_publishers(args.wait_publishers):
                print(
                    f"hpe-ros record: some topics have no publisher after {args.wait_publishers} s",
                    flush=True,
                )
            print("hpe-ros record: recording", flush=True)
            counts = recorder.record(args.duration, until or None)
        except KeyboardInterrupt as error:
            interrupted = as_interrupted(error)
            interrupted.detail = f"{args.out_bag} is closed and holds {_summary(recorder.counts)} messages"
            raise interrupted from None
        finally:
            recorder.destroy_node()
    finally:
        rclpy.try_shutdown()
    print("hpe-ros record: " + _summary(counts))
    return 0
