#!/usr/bin/env bash
# Builds ROS 2 interface packages with plain cmake into a Python venv that holds the
# ros-jazzy PyPI wheels (no ROS install needed). Usage: build_interfaces.sh VENV PKG_DIR...
# A PKG_DIR is either a full interface package (package.xml + CMakeLists.txt, like msg/)
# or a folder of .msg files named after the package (a package.xml and CMakeLists.txt are
# written for it in the build folder).
set -euo pipefail
venv=$(cd "$1" && pwd); shift
py="$venv/bin/python"
build_root="$venv/build-interfaces"
mkdir -p "$build_root"

# The wheels' generated cmake exports name the wheel builder's Python include paths;
# point them at this venv's Python and numpy headers.
py_inc=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
np_inc=$("$py" -c 'import numpy; print(numpy.get_include())')
for f in $(grep -l 'cp311-cp311' "$venv"/share/*/cmake/*rosidl_generator_pyExport*.cmake || true); do
  sed -i -E "s#INTERFACE_INCLUDE_DIRECTORIES \"[^\"]*cp311-cp311[^\"]*\"#INTERFACE_INCLUDE_DIRECTORIES \"$py_inc;$np_inc\"#" "$f"
done

write_package_files() {  # $1 = source folder of .msg files, $2 = destination package folder
  local name deps msgs
  name=$(basename "$1")
  mkdir -p "$2/msg"
  cp "$1"/*.msg "$2/msg/"
  # dependencies: every package named as pkg/Type in the .msg files
  deps=$(grep -hoE '^[a-z_0-9]+/[A-Za-z0-9_]+' "$1"/*.msg | cut -d/ -f1 | sort -u | tr '\n' ' ')
  msgs=$(cd "$2" && ls msg/*.msg | sed 's/.*/  "&"/')
  {
    echo '<?xml version="1.0"?>'
    echo '<package format="3">'
    echo "  <name>$name</name><version>0.0.0</version>"
    echo "  <description>$name interfaces, built for a wheel-based venv</description>"
    echo '  <maintainer email="maintainers@hpe-ros.invalid">none</maintainer><license>Apache-2.0</license>'
    echo '  <buildtool_depend>ament_cmake</buildtool_depend>'
    echo '  <buildtool_depend>rosidl_default_generators</buildtool_depend>'
    for d in $deps; do echo "  <depend>$d</depend>"; done
    echo '  <exec_depend>rosidl_default_runtime</exec_depend>'
    echo '  <member_of_group>rosidl_interface_packages</member_of_group>'
    echo '  <export><build_type>ament_cmake</build_type></export>'
    echo '</package>'
  } > "$2/package.xml"
  {
    echo 'cmake_minimum_required(VERSION 3.16)'
    echo "project($name)"
    echo 'find_package(ament_cmake REQUIRED)'
    echo 'find_package(rosidl_default_generators REQUIRED)'
    for d in $deps; do echo "find_package($d REQUIRED)"; done
    echo 'rosidl_generate_interfaces(${PROJECT_NAME}'
    echo "$msgs"
    [ -n "$deps" ] && echo "  DEPENDENCIES $deps"
    echo ')'
    echo 'ament_export_dependencies(rosidl_default_runtime)'
    echo 'ament_package()'
  } > "$2/CMakeLists.txt"
}

for src in "$@"; do
  src=$(cd "$src" && pwd)
  if [ -f "$src/package.xml" ]; then
    pkg_dir="$src"
    name=$(sed -n 's:.*<name>\(.*\)</name>.*:\1:p' "$src/package.xml" | head -1)
  else
    name=$(basename "$src")
    pkg_dir="$build_root/$name-src"
    rm -rf "$pkg_dir"
    write_package_files "$src" "$pkg_dir"
  fi
  echo "building interfaces: $name"
  AMENT_PREFIX_PATH="$venv" CMAKE_PREFIX_PATH="$venv" \
    cmake -S "$pkg_dir" -B "$build_root/$name" -DCMAKE_INSTALL_PREFIX="$venv" \
      -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
      -DPython3_EXECUTABLE="$py" -DPYTHON_EXECUTABLE="$py" > "$build_root/$name.log" 2>&1 \
    || { tail -40 "$build_root/$name.log"; exit 1; }
  cmake --build "$build_root/$name" -j 2 >> "$build_root/$name.log" 2>&1 \
    || { tail -40 "$build_root/$name.log"; exit 1; }
  cmake --install "$build_root/$name" >> "$build_root/$name.log" 2>&1 \
    || { tail -40 "$build_root/$name.log"; exit 1; }
done
