"""Generate an ament_python ROS 2 package that runs a PolicyBundle on a robot profile.

The package is self-contained: the runtime core is vendored (copied) next to the node, the
bundle goes to ``share/<pkg>/models``, a params file with the profile's topics, QoS and safety
limits to ``share/<pkg>/config``, and the launch files of this repository's ``launch/`` folder
to ``share/<pkg>/launch``. ``colcon build`` installs the node as ``lib/<pkg>/policy_node``.
"""

from __future__ import annotations

import getpass
import re
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import yaml

from .bundle import load_bundle
from .params import EXECUTABLE, NODE_NAME, nested
from .profiles import PROFILE_DIR, load_profile
from .readme import render_readme
from .runtime import Runtime

#: Runtime-core modules copied into the generated package (no rosbags, no generator).
VENDORED = (
    "bundle.py",
    "frames.py",
    "kinematics.py",
    "measurement.py",
    "messages.py",
    "meta.py",
    "node.py",
    "observation.py",
    "params.py",
    "plausibility.py",
    "profiles.py",
    "runtime.py",
    "safety.py",
    "targets.py",
    "taskobs.py",
)
#: Runtime-core subpackages copied whole (one module per robot stack).
VENDORED_PACKAGES = ("robots",)
#: Where the launch files live: the repository's launch/ folder (installed copies fall back
#: to the package's own copy under ros_bridge/launch when present).
LAUNCH_DIRS = (
    Path(__file__).resolve().parent.parent / "launch",
    Path(__file__).resolve().parent / "launch",
)
PACKAGE_NAME = re.compile(r"^[a-z][a-z0-9_]*[a-z0-9]$")
#: ROS packages providing the standard messages the node always uses.
BASE_DEPENDS = ("rclpy", "std_srvs", "diagnostic_msgs", "python3-numpy", "python3-yaml")


class PackageError(ValueError):
    """A package that cannot be generated as asked."""


def default_package_name(task_id: str, profile: str) -> str:
    """``agentic_rl/DroneHover-v0`` + ``px4`` -> ``dronehover_px4_policy``."""
    short = task_id.split("/")[-1].rsplit("-v", 1)[0].lower()
    return re.sub(r"[^a-z0-9_]", "_", f"{short}_{Path(profile).stem}_policy")


def default_maintainer() -> tuple[str, str]:
    """The package.xml maintainer: git's ``user.name``/``user.email``, else login@host."""

    def git(key: str) -> str:
        try:
            out = subprocess.run(
                ["git", "config", "--get", key], capture_output=True, text=True, timeout=5
            )
        except (OSError, subprocess.SubprocessError):
            return ""
        return out.stdout.strip() if out.returncode == 0 else ""

    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name (some containers)
        user = "ros"
    name = git("user.name") or user
    email = git("user.email") or f"{user}@{socket.gethostname() or 'localhost'}"
    return name, email


def launch_dir() -> Path:
    for d in LAUNCH_DIRS:
        if d.is_dir() and any(d.glob("*.launch.xml")):
            return d
    raise PackageError(f"no launch files found in {[str(d) for d in LAUNCH_DIRS]}")


def generate_package(
    bundle_dir: str | Path,
    profile: str | Path,
    out: str | Path,
    *,
    package_name: str | None = None,
    goal: list[float] | None = None,
    overrides: dict[str, Any] | None = None,
    maintainer: str | None = None,
    maintainer_email: str | None = None,
    version: str = "0.1.0",
    selector: str | Path | None = None,
) -> Path:
    """Write the ROS 2 package for ``bundle_dir`` on ``profile`` into ``out/<package>``.

    Args:
        bundle_dir: PolicyBundle folder.
        profile: built-in profile name or profile YAML path.
        out: parent folder (e.g. your workspace's ``src``); the package is a subfolder.
        package_name: ROS package name (default from task and profile).
        goal: default goal [x, y, z] written to the params file.
        overrides: flat profile overrides (``topics.odometry``, ``safety.staleness_s`` ...).
        maintainer, maintainer_email: package.xml maintainer (default: ``git config
            user.name`` / ``user.email``, else the login name at this host).
        version: package.xml version.
        selector: a policy library folder (``agentic-rl library``): adds its policies and the
            ``selector_node`` (see :mod:`.scene_package`).

    Returns:
        The package folder.

    Raises:
        PackageError: for an invalid package name or an existing non-empty target.
        BundleError, ProfileError, AdapterError: when bundle and profile do not fit (checked
            by building the runtime once, so a broken pairing fails here, not on the robot).
    """
    bundle = load_bundle(bundle_dir)
    prof = load_profile(profile)
    default_name, default_email = default_maintainer()
    maintainer = maintainer or default_name
    maintainer_email = maintainer_email or default_email
    if overrides:
        prof = prof.with_overrides(overrides)
    Runtime(bundle, prof, goal=goal)  # validates the pairing (modes, fields, limits)
    name = package_name or default_package_name(bundle.task_id, str(profile))
    if not PACKAGE_NAME.match(name) or "__" in name:
        raise PackageError(
            f"{name!r} is not a valid ROS package name: lowercase letters, digits and single "
            "underscores, starting with a letter (REP 144)"
        )
    root = Path(out) / name
    if Path(out).exists() and not Path(out).is_dir():
        raise PackageError(f"--out {out} is a file; give the folder to create the package in")
    if root.exists() and any(root.iterdir()):
        raise PackageError(f"{root} exists and is not empty; remove it or choose another --out")
    src = Path(__file__).resolve().parent
    pkg_dir = root / name
    (pkg_dir / "profiles").mkdir(parents=True)
    for module in VENDORED:
        shutil.copy2(src / module, pkg_dir / module)
    for sub in VENDORED_PACKAGES:
        shutil.copytree(src / sub, pkg_dir / sub, ignore=shutil.ignore_patterns("__pycache__"))
    for yml in PROFILE_DIR.glob("*.yaml"):
        shutil.copy2(yml, pkg_dir / "profiles" / yml.name)
    if Path(str(profile)).suffix:  # a custom profile file travels with the package
        shutil.copy2(profile, pkg_dir / "profiles" / f"{prof.name}.yaml")
    (pkg_dir / "__init__.py").write_text(
        f'"""{name}: agentic-rl policy node for {bundle.task_id} on {prof.name} (generated)."""\n'
    )
    models = root / "models"
    models.mkdir()
    for f in sorted(Path(bundle_dir).iterdir()):
        if f.is_file():
            shutil.copy2(f, models / f.name)
        elif f.name == "tasklib":  # the task's own observe module, vendored by export
            shutil.copytree(f, models / f.name, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "resource").mkdir()
    (root / "resource" / name).write_text("")
    config = root / "config"
    config.mkdir()
    params: dict[str, Any] = {"profile": prof.name, "backend": "auto", "diagnostics_hz": 1.0}
    params["goal"] = [float(v) for v in goal] if goal else [0.0]
    params["layout"] = ""
    params.update(nested(prof.flat()))
    header = (
        f"# Parameters of the {NODE_NAME} node ({bundle.task_id} on profile {prof.name}).\n"
        "# Topics, QoS, adapter settings and safety limits come from the profile; edit them\n"
        "# here for your robot. goal: [x, y, z] in the task frame ([0.0] = wait for ~/goal).\n"
    )
    body = yaml.safe_dump({"/**": {"ros__parameters": params}}, sort_keys=False)
    (config / "params.yaml").write_text(header + body)
    (root / "launch").mkdir()
    for f in sorted(launch_dir().glob("*.launch.xml")):
        (root / "launch" / f.name).write_text(f.read_text().replace("@PACKAGE@", name))
    depends = sorted({t.split("/")[0] for t in _types(prof)} | set(BASE_DEPENDS))
    (root / "package.xml").write_text(
        _package_xml(name, version, bundle, prof, depends, maintainer, maintainer_email)
    )
    (root / "setup.py").write_text(
        _setup_py(name, version, maintainer, maintainer_email, bundle, prof)
    )
    (root / "setup.cfg").write_text(
        f"[develop]\nscript_dir=$base/lib/{name}\n[install]\ninstall_scripts=$base/lib/{name}\n"
    )
    (root / "README.md").write_text(render_readme(name, bundle, prof, depends))
    if selector is not None:
        from .scene_package import add_selector

        add_selector(root, name, selector, bundle_dir, prof, goal)
    return root


def _types(prof: Any) -> list[str]:
    return [
        s.type for s in (*prof.inputs.values(), *prof.outputs.values(), *prof.services.values())
    ]


def _package_xml(
    name: str, version: str, bundle: Any, prof: Any, depends: list[str], maint: str, email: str
) -> str:
    deps = "\n".join(f"  <exec_depend>{d}</exec_depend>" for d in depends)
    return f"""<?xml version="1.0"?>
<?xml-model href="http://download.ros.org/schema/package_format3.xsd" schematypens="http://www.w3.org/2001/XMLSchema"?>
<package format="3">
  <name>{name}</name>
  <version>{version}</version>
  <description>agentic-rl policy for {bundle.task_id} on the {prof.name} profile: runs the exported PolicyBundle with input watchdog, self-test and safety filter.</description>
  <maintainer email="{email}">{maint}</maintainer>
  <license>Apache-2.0</license>

{deps}

  <export>
    <build_type>ament_python</build_type>
  </export>
</package>
"""


def _setup_py(name: str, version: str, maint: str, email: str, bundle: Any, prof: Any) -> str:
    return f'''"""Install {name}: the node under lib/{name}, models, params and launch files under share."""

import os
from glob import glob

from setuptools import setup


def tree(src, dst):
    """data_files entries installing the folder src (with subfolders) as dst."""
    return [
        (os.path.normpath(os.path.join(dst, os.path.relpath(d, src))), [os.path.join(d, f) for f in fs])
        for d, _, fs in os.walk(src)
        if fs and "__pycache__" not in d
    ]

package_name = "{name}"

setup(
    name=package_name,
    version="{version}",
    packages=[package_name, *(package_name + "." + sub for sub in {list(VENDORED_PACKAGES)!r})],
    package_data={{package_name: ["profiles/*.yaml"]}},
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml", "README.md"]),
        ("share/" + package_name + "/launch", glob("launch/*.launch.xml")),
        ("share/" + package_name + "/config", glob("config/*.yaml")),
        *tree("models", "share/" + package_name + "/models"),
    ],
    install_requires=["setuptools"],
    zip_safe=False,
    maintainer="{maint}",
    maintainer_email="{email}",
    description="agentic-rl policy for {bundle.task_id} on the {prof.name} profile",
    license="Apache-2.0",
    entry_points={{"console_scripts": ["{EXECUTABLE} = {name}.node:main"]}},
)
'''
