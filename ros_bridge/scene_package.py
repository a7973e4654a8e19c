"""Adds the scene node and a policy library to a generated ROS 2 package.

Called by :func:`ros_bridge.package.generate_package` when it is given a library folder (the
one ``agentic-rl library`` manages: ``entries/<name>/bundle/`` and a trained ``selector/``, the
scene-classifier bundle). The package then carries every policy under
``share/<pkg>/library/<name>/``, the scene-classifier bundle under
``share/<pkg>/library/selector/``, the ``selector_node`` executable (module ``scene_node``),
its parameters in ``config/selector.yaml`` and ``launch/selector.launch.xml``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import yaml

from .scene_bundle import load_scene_bundle
from .scene_types import SelectorFileError
from .switcher import load_switcher

#: Modules the scene node needs next to the vendored runtime core.
SELECTOR_VENDORED = (
    "scene_types.py",
    "scene_images.py",
    "scene_net.py",
    "scene_text.py",
    "scene_choice.py",
    "scene_bundle.py",
    "switcher.py",
    "scene_node.py",
)
#: The executable's name in the package (``ros2 run <pkg> selector_node``) and its module.
SELECTOR_EXECUTABLE = "selector_node"
SELECTOR_MODULE = "scene_node"
SELECTOR_DEPENDS = ("sensor_msgs", "std_msgs")


def add_selector(
    root: Path,
    name: str,
    library: str | Path,
    default_bundle: str | Path,
    profile: Any,
    goal: list[float] | None = None,
) -> list[str]:
    """Put the library's policies, its selector and the selector node into package ``root``.

    Policies the robot runtime cannot run on this profile (a task whose observation needs a
    measurement the profile does not give, another robot) are left out.

    Returns:
        One line per policy left out, with the reason.

    Raises:
        ValueError: when the library has no policies or no trained selector, or when no
            policy fits the profile.
    """
    lib = Path(library)
    entries = sorted(
        d for d in (lib / "entries").glob("*") if (d / "bundle" / "bundle.json").is_file()
    )
    if not entries:
        raise ValueError(
            f"no policies in the library {lib}; add some with `agentic-rl library add`"
        )
    sel_dir = lib / "selector"
    if not (sel_dir / "selector.json").is_file():
        raise ValueError(
            f"the library {lib} has no trained selector; run `agentic-rl library train-selector`"
        )
    try:
        meta = load_scene_bundle(sel_dir).meta
    except SelectorFileError as exc:
        raise ValueError(str(exc)) from None
    tasks = {json.loads((d / "bundle" / "bundle.json").read_text())["task"]["id"] for d in entries}
    missing = sorted(tasks - set(meta.classes))
    if missing:
        raise ValueError(
            f"the library's selector was trained without {missing}; run `agentic-rl library "
            "train-selector` again"
        )
    from .bundle import load_bundle
    from .runtime import Runtime

    skipped, usable = [], []
    for d in entries:
        try:
            Runtime(load_bundle(d / "bundle"), profile, goal=goal)
            usable.append(d)
        except ValueError as exc:  # ObservationError, AdapterError, BundleError
            skipped.append(f"{d.name}: {exc}")
    if not usable:
        raise ValueError(
            f"no library policy runs on profile {profile.name!r}: " + "; ".join(skipped)
        )
    entries = usable
    src = Path(__file__).resolve().parent
    pkg_dir = root / name
    for module in SELECTOR_VENDORED:
        shutil.copy2(src / module, pkg_dir / module)
    out = root / "library"
    default_hash = _sha(Path(default_bundle) / "weights.npz")
    active = entries[0].name
    for d in entries:
        dest = out / d.name
        dest.mkdir(parents=True)
        for f in sorted((d / "bundle").iterdir()):
            if f.is_file():  # reports and plots (subfolders) stay behind, as for models/
                shutil.copy2(f, dest / f.name)
            elif f.name == "tasklib":  # the task's own vendored functions, as for models/
                shutil.copytree(f, dest / f.name, ignore=shutil.ignore_patterns("__pycache__"))
        if _sha(d / "bundle" / "weights.npz") == default_hash:
            active = d.name
    (out / "selector").mkdir()
    for f in ("selector.json", meta.classifier.onnx, meta.classifier.weights):
        shutil.copy2(sel_dir / f, out / "selector" / f)
    load_switcher(out, profile, active=active, goal=goal)  # validates every pairing
    params = {
        "selector": {
            "active": active,
            "image_topic": "/camera/image_raw",
            "instruction_topic": "~/instruction",
            "image_max_age_s": 2.0,
            "select_on_image": False,
        }
    }
    (root / "config" / "selector.yaml").write_text(
        "# Selector node parameters (read after params.yaml by selector.launch.xml).\n"
        + yaml.safe_dump({"/**": {"ros__parameters": params}}, sort_keys=False)
    )
    (root / "launch" / "selector.launch.xml").write_text(_LAUNCH.replace("@PACKAGE@", name))
    _patch_setup(root / "setup.py", name, [d.name for d in entries])
    _patch_package_xml(root / "package.xml")
    with (root / "README.md").open("a") as fh:
        fh.write(_README.format(name=name, names=", ".join(d.name for d in entries), active=active))
        if skipped:
            fh.write("\nLeft out (the runtime cannot run them on this profile):\n\n")
            fh.write("".join(f"- {line}\n" for line in skipped))
    return skipped


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


def _patch_setup(path: Path, name: str, entries: list[str]) -> None:
    text = path.read_text()
    script = f'"policy_node = {name}.node:main"'
    data_end = "    ],\n    install_requires"
    if script not in text or data_end not in text:
        raise ValueError(f"{path} does not have the layout the selector expects; regenerate it")
    text = text.replace(
        script, f'{script}, "{SELECTOR_EXECUTABLE} = {name}.{SELECTOR_MODULE}:main"'
    )
    rows = "".join(
        f'        *tree("library/{d}", "share/" + package_name + "/library/{d}"),\n'
        for d in [*entries, "selector"]
    )
    text = text.replace(data_end, rows + data_end)
    path.write_text(text)


def _patch_package_xml(path: Path) -> None:
    text = path.read_text()
    have = {d for d in SELECTOR_DEPENDS if f"<exec_depend>{d}</exec_depend>" in text}
    lines = "".join(
        f"  <exec_depend>{d}</exec_depend>\n" for d in SELECTOR_DEPENDS if d not in have
    )
    path.write_text(text.replace("\n  <export>", f"{lines}\n  <export>", 1))


_LAUNCH = """<?xml version="1.0"?>
<!--
  Run the library of policies with the scene selector (generated by agentic-rl).

    ros2 launch @PACKAGE@ selector.launch.xml
    ros2 topic pub -1 /agentic_rl_policy/instruction std_msgs/msg/String "{data: 'fly through the gates'}"
    ros2 service call /agentic_rl_policy/enable std_srvs/srv/SetBool "{data: true}"

  The active policy changes only while the vehicle is READY or FALLBACK, and never enables
  itself.
-->
<launch>
  <arg name="namespace" default=""/>
  <arg name="params_file" default="$(find-pkg-share @PACKAGE@)/config/params.yaml"/>
  <arg name="selector_params" default="$(find-pkg-share @PACKAGE@)/config/selector.yaml"/>
  <arg name="use_sim_time" default="false"/>
  <node pkg="@PACKAGE@" exec="selector_node" name="agentic_rl_policy" namespace="$(var namespace)"
        output="screen">
    <param from="$(var params_file)"/>
    <param from="$(var selector_params)"/>
    <param name="use_sim_time" value="$(var use_sim_time)"/>
  </node>
</launch>
"""

_README = """
## Policy library and scene selector

This package also carries the policies {names} (`share/{name}/library/`) and the offline
scene selector (`library/selector/`: the scene classifier as `model.onnx`, run by onnxruntime,
with `classifier.npz` as the numpy fallback). `ros2 launch {name} selector.launch.xml` runs `selector_node`: the policy
node above, starting with `{active}`, plus a `sensor_msgs/Image` subscription
(`selector.image_topic`) and a `std_msgs/String` instruction topic (`selector.instruction_topic`).
Each instruction is matched, with the latest image, against the policies' tasks; the chosen
policy becomes active only while the vehicle is READY or FALLBACK (never mid-manoeuvre) and
must still be enabled with `~/enable`. `~/active_policy` announces the active policy; an
unsure selection changes nothing. Settings: `config/selector.yaml`.
"""
