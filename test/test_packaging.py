"""ROS packaging: package.xml declares what the code imports; the launch file is valid Python."""

from __future__ import annotations

import ast
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCES = sorted((REPO / "hpe_ros").rglob("*.py")) + sorted((REPO / "launch").glob("*.py"))

# third-party modules -> their rosdep keys
ROSDEP_KEYS = {"numpy": "python3-numpy", "yaml": "python3-yaml", "scipy": "python3-scipy",
               "PIL": "python3-pil", "tqdm": "python3-tqdm", "cv2": "python3-opencv",
               "cv_bridge": "cv_bridge"}
# installed by pip (no rosdep key, or optional): package.xml names them in a comment
PIP_ONLY = {"torch", "rosbags", "mediapipe", "ai_edge_litert", "onnxruntime", "tensorrt", "matplotlib",
            "skimage", "h5py", "motmetrics", "pycocotools", "tflite2onnx", "ray", "joblib",
            "munkres"}
# read from bags only, through rosbags' definitions; never imported, never published
BAG_ONLY = {"dvs_msgs", "event_array_msgs"}
TYPE_NAME = re.compile(r"^([a-z][a-z0-9_]*)/(?:msg|srv|action)/[A-Z][A-Za-z0-9]*$")


def _is_ros_package(name: str) -> bool:
    return name in ("rclpy", "launch", "launch_ros") or name.endswith(("_msgs", "_interfaces", "_srvs"))


def _imports_and_type_names() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    imports: dict[str, set[str]] = {}
    type_names: dict[str, set[str]] = {}
    for path in SOURCES:
        where = str(path.relative_to(REPO))
        for node in ast.walk(ast.parse(path.read_text(), filename=where)):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                names = []
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    match = TYPE_NAME.match(node.value)
                    if match:
                        type_names.setdefault(match.group(1), set()).add(where)
            for name in names:
                imports.setdefault(name.split(".")[0], set()).add(where)
    return imports, type_names


def _declared() -> tuple[set[str], str]:
    text = (REPO / "package.xml").read_text()
    root = ET.fromstring(text)
    tags = ("depend", "exec_depend", "build_depend", "test_depend")
    return {element.text.strip() for tag in tags for element in root.iter(tag) if element.text}, text


def test_every_ros_package_the_code_uses_is_declared() -> None:
    imports, type_names = _imports_and_type_names()
    declared, _ = _declared()
    used = {name: files for name, files in {**type_names, **imports}.items() if _is_ros_package(name)}
    used = {name: files for name, files in used.items() if name not in BAG_ONLY}
    assert {"rclpy", "sensor_msgs", "hpe_ros_msgs", "rcl_interfaces", "lifecycle_msgs"} <= set(used)
    missing = {name: sorted(files)[:3] for name, files in used.items() if name not in declared}
    assert not missing, f"used but not in package.xml: {missing}"
    assert not BAG_ONLY & set(imports), "a bag-only message package is imported; declare it in package.xml"


def test_every_third_party_module_is_declared_or_named_pip_only() -> None:
    imports, _ = _imports_and_type_names()
    declared, text = _declared()
    third_party = {name for name in imports
                   if name not in sys.stdlib_module_names and name != "hpe_ros" and not _is_ros_package(name)}
    unknown = third_party - set(ROSDEP_KEYS) - PIP_ONLY
    assert not unknown, f"classify these imports in test_packaging.py and package.xml: {sorted(unknown)}"
    assert not {ROSDEP_KEYS[name] for name in third_party & set(ROSDEP_KEYS)} - declared
    comment = " ".join(re.findall(r"<!--(.*?)-->", text, flags=re.S))
    assert all(re.search(rf"\b{name}\b", comment) for name in third_party & PIP_ONLY), comment


def test_rviz_is_declared_for_the_launch_option() -> None:
    declared, _ = _declared()
    assert "rviz2" in declared and "launch_ros" in declared


def test_the_launch_file_compiles_and_declares_every_argument_it_reads() -> None:
    path = REPO / "launch" / "pose.launch.py"
    tree = ast.parse(path.read_text(), filename=str(path))
    compile(tree, str(path), "exec")

    def string_args(call_name: str) -> set[str]:
        return {node.args[0].value for node in ast.walk(tree)
                if isinstance(node, ast.Call) and getattr(node.func, "id", None) == call_name
                and node.args and isinstance(node.args[0], ast.Constant)}

    declared, read = string_args("DeclareLaunchArgument"), string_args("LaunchConfiguration")
    assert read <= declared, f"read but not declared: {read - declared}"
    assert {"namespace", "image_topic", "fixed_frame", "rviz"} <= read
    assert "hpe_ros.rviz" in path.read_text() and "write_rviz_config" in path.read_text()
