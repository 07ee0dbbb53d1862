"""``hpe-ros``: run the nodes, process bags offline, inspect the installation."""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
import traceback
from pathlib import Path

from hpe_ros import __version__
from hpe_ros.cli.interruption import as_interrupted, install_handlers

EPILOG = """exit status:
  0    done
  1    the command ran but produced nothing (e.g. no frame of the bag could be processed)
  2    refused: a wrong argument or option, a missing or unreadable file, an output bag that
       exists; one line on stderr says what is wrong and what to change
  130  interrupted by Ctrl-C (SIGINT), 143 by SIGTERM: bags being written are closed first and
       hold every message written before the signal (`run` stops its nodes and exits 0)
The full Python traceback of a refusal: HPE_ROS_DEBUG=1 or --debug."""

DEBUG_HELP = "show the Python traceback of an error (also HPE_ROS_DEBUG=1)"


def _add_pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, help="parameter YAML (default: the package's config/pose.yaml)"
    )
    parser.add_argument("--pipeline", help="pipeline to run (overrides the config's 'pipeline')")
    parser.add_argument("--set", dest="assignments", action="append", default=[], metavar="NAME=VALUE",
                        help="set a parameter, e.g. --set replay.path=poses.npz (repeatable)")


def _add_process_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `process` and `process-bags`: pipeline, topics, windows, outputs."""
    _add_pipeline_arguments(parser)
    parser.add_argument(
        "--image-topic", help="image topic (default: the bag's only Image/CompressedImage topic)"
    )
    parser.add_argument(
        "--camera-info-topic", help="CameraInfo topic (default: the image's sibling camera_info)"
    )
    parser.add_argument(
        "--events-topic", help="event topic, for event pipelines (default: the bag's only one)"
    )
    parser.add_argument("--window-ms", type=float, default=50.0, help="event window length (ms)")
    parser.add_argument(
        "--window-events", type=int, default=0, help="events per window (0: windows by time)"
    )
    parser.add_argument("--storage", choices=("sqlite3", "mcap"), default="sqlite3")
    parser.add_argument("--prefix", default="/hpe", help="namespace of the output topics")
    parser.add_argument("--tf", action="store_true", help="also write /tf joint frames")
    parser.add_argument("--no-markers", action="store_true", help="do not write RViz markers")
    parser.add_argument(
        "--copy-inputs", action="store_true", help="copy the input topics into the output bag"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hpe-ros", description=__doc__, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"hpe_ros {__version__}")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="start the pose node(s) in this process (like `ros2 launch`)")
    _add_pipeline_arguments(run)
    run.add_argument("--node", choices=("pose", "event"), action="append",
                     help="which node(s) to start (default: pose; repeat for both)")
    run.add_argument("--namespace", default="", help="ROS namespace of the nodes")
    run.add_argument("--cameras", default="", metavar="NAME,NAME",
                     help="one pose node per camera, in NAMESPACE/NAME, reading the topics below")
    run.add_argument("--camera-image-topic", default="/{camera}/image_raw",
                     help="--cameras: image topic of each camera ({camera} is its name)")
    run.add_argument("--camera-info-topic", default="/{camera}/camera_info",
                     help="--cameras: CameraInfo topic of each camera")
    run.add_argument("--no-autostart", action="store_true",
                     help="leave the nodes unconfigured (drive them through their lifecycle services)")
    run.add_argument("ros_args", nargs=argparse.REMAINDER, help="extra arguments after '--ros-args'")

    process = commands.add_parser(
        "process", help="run a pipeline over a bag and write the outputs to a new bag"
    )
    process.add_argument("in_bag", type=Path)
    process.add_argument("out_bag", type=Path)
    _add_process_arguments(process)
    process.add_argument("--quiet", action="store_true", help="no progress bar")

    process_many = commands.add_parser(
        "process-bags", help="`process` for many bags: one after the other, or as tasks on a Ray cluster"
    )
    from hpe_ros.cli.process_bags import add_options as add_process_bags_options

    add_process_bags_options(process_many)
    _add_process_arguments(process_many)

    info = commands.add_parser("info", help="installation, pipelines and models; or the topics of a bag")
    info.add_argument("bag", nargs="?", type=Path)

    play = commands.add_parser("play", help="publish a bag's topics with rclpy (where `ros2 bag` is absent)")
    play.add_argument("bag", type=Path)
    play.add_argument("--topics", nargs="+", help="topics to play (default: all)")
    play.add_argument("--rate", type=float, default=1.0, help="speed factor; 0 = as fast as possible")
    play.add_argument("--wait-subscribers", type=int, default=0, metavar="N",
                      help="before playing, wait until every topic has N subscribers")
    play.add_argument("--wait-timeout", type=float, default=30.0, help="seconds to wait for subscribers")
    play.add_argument("--best-effort", action="store_true", help="publish best effort instead of reliable")

    record = commands.add_parser(
        "record", help="record topics into a bag with rclpy (where `ros2 bag` is absent)"
    )
    record.add_argument("out_bag", type=Path)
    record.add_argument("--topic", dest="topics", action="append", required=True, metavar="TOPIC:TYPE",
                        help="e.g. /hpe/skeletons:hpe_ros_msgs/msg/Skeleton3DArray (repeatable)")
    record.add_argument("--duration", type=float, default=60.0, help="stop after this many seconds")
    record.add_argument("--until", action="append", default=[], metavar="TOPIC=N",
                        help="stop once TOPIC has N messages (repeatable; all must be met)")
    record.add_argument("--storage", choices=("sqlite3", "mcap"), default="sqlite3")
    record.add_argument("--wait-publishers", type=float, default=0.0, metavar="SECONDS",
                        help="first wait up to SECONDS until every topic has a publisher")

    from hpe_ros.cli.lifters import add_commands as add_lifter_commands

    add_lifter_commands(commands)

    from hpe_ros.cli.eval import add_command as add_eval_command

    add_eval_command(commands)

    default_lifter = commands.add_parser("train-default-lifter",
                                         help="train the offline default lifter on CMU motion capture")
    default_lifter.add_argument(
        "--data", type=Path, required=True, help="the cmu_mocap folder (train/ and test/)"
    )
    default_lifter.add_argument("--output", type=Path, required=True, help="weights file to write (.pt)")
    default_lifter.add_argument("--steps", type=int, default=25000)
    default_lifter.add_argument("--seed", type=int, default=0)
    default_lifter.add_argument(
        "--extra-data",
        type=Path,
        help="more CMU trials: .npz from scripts/convert_cmu_amc.py, or ASF/AMC files",
    )
    default_lifter.add_argument("--extra-stride", type=int, default=4,
                                help="keep every N-th frame of --extra-data ASF/AMC trials (120 Hz)")
    default_lifter.add_argument("--checkpoint", type=Path,
                                help="training checkpoint to save every --checkpoint-every steps")
    default_lifter.add_argument("--checkpoint-every", type=int, default=1000,
                                help="steps between checkpoints (a multiple of 100)")
    default_lifter.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    default_lifter.add_argument("--init", type=Path, help="default-lifter file to fine-tune (same network)")
    default_lifter.add_argument("--learning-rate", type=float, default=1e-3,
                                help="Adam's starting rate (cosine decay to --final-lr-fraction of it)")
    default_lifter.add_argument("--final-lr-fraction", type=float, default=0.02,
                                help="where the cosine decay ends, as a share of --learning-rate")
    default_lifter.add_argument("--generator-seed", type=int,
                                help="seed of the sample generator (default: --seed, which also seeds torch)")
    default_lifter.add_argument("--synthesis-rate", type=float, default=0.35,
                                help="share of frames bent into synthesised poses (the shipped file: 0.35)")
    default_lifter.add_argument("--synthesis-families", choices=("standard", "seated"), default="standard",
                                help="pose families to synthesise (seated: more sitting, chairs and floor)")

    from hpe_ros.cli.simulate import add_command as add_simulate_command

    add_simulate_command(commands)

    from hpe_ros.cli.export import add_command as add_export_command

    add_export_command(commands)

    from hpe_ros.cli.weights import add_command as add_weights_command

    add_weights_command(commands)

    from hpe_ros.cli.bench import add_command as add_bench_command

    add_bench_command(commands)

    demo = commands.add_parser("demo", help="the main job: a sample processed end to end, outputs written")
    demo.add_argument("--input", help="image, video or webcam:N (default: scikit-image's astronaut)")
    demo.add_argument("--output", type=Path, default=Path("demo_output"), help="folder for the results")
    demo.add_argument(
        "--offline", action="store_true", help="run the pipeline directly instead of a ROS 2 graph"
    )
    demo.add_argument(
        "--fov-deg", type=float, default=60.0, help="horizontal field of view assumed for the camera"
    )
    demo.add_argument("--max-frames", type=int, default=30, help="frames read from a video or webcam")
    demo.add_argument("--no-events", action="store_true", help="skip the event-camera part of the demo")
    for command in commands.choices.values():
        command.epilog = EPILOG
        command.formatter_class = argparse.RawDescriptionHelpFormatter
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    return parser


def _refusal_types() -> tuple[type[BaseException], ...]:
    """Errors that mean "the input was refused" rather than a bug (only from modules already loaded)."""
    types: list[type[BaseException]] = [OSError, ValueError, RuntimeError, ImportError]
    for module, name in (
        ("hpe_ros.models.smpl_file", "SMPLFileError"),
        ("rosbags.rosbag2.errors", "ReaderError"),
        ("rosbags.rosbag2.errors", "WriterError"),
    ):
        loaded = sys.modules.get(module)
        if loaded is not None:
            types.append(getattr(loaded, name))
    return tuple(types)


def describe_error(error: BaseException) -> str:
    """One line: what is wrong and, where the error does not say it, what to change."""
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        hint = {PermissionError: "check its permissions", IsADirectoryError: "give a file, not a folder",
                FileNotFoundError: "check the path"}.get(type(error), "check the path")
        text = f"{error.strerror}: {error.filename} ({hint})"
    elif isinstance(error, ModuleNotFoundError):
        text = f"{error} (install it into this Python environment; see README.md)"
    else:
        text = str(error) or type(error).__name__
    return " ".join(text.split())


def _debug_wanted(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "debug", False)) or os.environ.get("HPE_ROS_DEBUG", "") not in ("", "0")


def main(argv: list[str] | None = None) -> int:
    # torch's OpenMP threads spin while waiting by default, which starves rclpy's and other threads
    # on small robot CPUs; must be set before torch is imported
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    args = build_parser().parse_args(argv)
    previous = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    install_handlers()  # restored on return: tests and other callers run main() in their own process
    try:
        return _dispatch(args)
    except KeyboardInterrupt as error:
        interrupted = as_interrupted(error)
        if _debug_wanted(args):
            traceback.print_exc()
        detail = f"; {interrupted.detail}" if interrupted.detail else ""
        print(f"hpe-ros {args.command}: interrupted by {interrupted.signal_name}{detail}", file=sys.stderr)
        return interrupted.exit_code
    except Exception as error:
        if _debug_wanted(args) or not isinstance(error, _refusal_types()):
            raise
        print(f"hpe-ros {args.command}: error: {describe_error(error)}", file=sys.stderr)
        return 2
    finally:
        for number, handler in previous.items():
            if handler is not None and threading.current_thread() is threading.main_thread():
                signal.signal(number, handler)


# command -> module and function that run it (imported only when that command runs: torch and
# rclpy load in seconds)
_COMMANDS = {
    "run": ("hpe_ros.cli.run", "run_command"),
    "process": ("hpe_ros.cli.process", "process_command"),
    "process-bags": ("hpe_ros.cli.process_bags", "process_bags_command"),
    "info": ("hpe_ros.cli.info", "info_command"),
    "play": ("hpe_ros.cli.bag_tools", "play_command"),
    "record": ("hpe_ros.cli.bag_tools", "record_command"),
    "eval": ("hpe_ros.cli.eval", "eval_command"),
    "train": ("hpe_ros.cli.lifters", "train_command"),
    "train-default-lifter": ("hpe_ros.cli.lifters", "train_default_lifter_command"),
    "simulate-events": ("hpe_ros.cli.simulate", "simulate_command"),
    "export": ("hpe_ros.cli.export", "export_command"),
    "weights": ("hpe_ros.cli.weights", "weights_command"),
    "bench": ("hpe_ros.cli.bench", "bench_command"),
    "demo": ("hpe_ros.cli.demo", "demo_command"),
}


def _dispatch(args: argparse.Namespace) -> int:
    module, function = _COMMANDS[args.command]
    return getattr(importlib.import_module(module), function)(args)


if __name__ == "__main__":
    sys.exit(main())
