"""``hpe-ros play`` and ``hpe-ros record``."""

from __future__ import annotations

import argparse

import rclpy


def play_command(args: argparse.Namespace) -> int:
    from hpe_ros.nodes.bag_player import BagPlayer

    rclpy.init()
    player = BagPlayer(args.bag, args.topics, reliable=not args.best_effort)
    try:
        if args.wait_subscribers and not player.wait_for_subscribers(args.wait_subscribers, args.wait_timeout):
            print(f"hpe-ros play: not every topic had {args.wait_subscribers} subscriber(s) after "
                  f"{args.wait_timeout} s; playing anyway")
        sent = player.play(args.rate)
        if not args.best_effort and not player.wait_until_delivered():
            print("hpe-ros play: some subscribers did not acknowledge every message")
        print(f"hpe-ros play: {sent} messages published from {args.bag}")
    finally:
        player.destroy_node()
        rclpy.try_shutdown()
    return 0


def record_command(args: argparse.Namespace) -> int:
    from hpe_ros.nodes.bag_recorder import BagRecorder

    topics = {}
    for item in args.topics:
        topic, sep, msgtype = item.partition(":")
        if not sep:
            raise ValueError(f"--topic needs TOPIC:TYPE, got {item!r}")
        topics[topic] = msgtype
    until = {}
    for item in args.until:
        topic, sep, count = item.rpartition("=")
        if not sep:
            raise ValueError(f"--until needs TOPIC=N, got {item!r}")
        until[topic] = int(count)
    rclpy.init()
    recorder = BagRecorder(args.out_bag, topics, storage=args.storage)
    try:
        if args.wait_publishers and not recorder.wait_for_publishers(args.wait_publishers):
            print(f"hpe-ros record: some topics have no publisher after {args.wait_publishers} s", flush=True)
        print("hpe-ros record: recording", flush=True)
        counts = recorder.record(args.duration, until or None)
    except KeyboardInterrupt:
        counts = dict(recorder.counts)
    finally:
        recorder.destroy_node()
        rclpy.try_shutdown()
    print("hpe-ros record: " + ", ".join(f"{t}: {n}" for t, n in counts.items()))
    return 0
