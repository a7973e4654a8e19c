"""The generated node's ROS parameters: the fixed ones here, plus the profile's flat settings.

Kept apart from ``node.py`` (which imports rclpy) so that the package generator and the tests
can check launch and params files against the parameters the node really declares.
"""

from __future__ import annotations

from typing import Any

from .profiles import Profile

#: Default node name (launch files may rename it).
NODE_NAME = "agentic_rl_policy"
#: Name of the console script installed under lib/<package>/.
EXECUTABLE = "policy_node"

#: Parameters every node declares: name -> (default, description).
CORE_PARAMETERS: dict[str, tuple[Any, str]] = {
    "bundle_dir": ("", "PolicyBundle folder; empty: the package's share/<pkg>/models."),
    "profile": ("", "Robot profile name (built-in) or path to a profile YAML."),
    "goal": ([0.0], "Default goal [x, y, z] in the task frame until ~/goal arrives; [0.0] = none."),
    "layout": (
        "",
        "The course: a layout JSON file or JSON text (keys as bundle.json task.layout); "
        "empty: the bundle's default layout, its goal from ~/goal or the goal parameter.",
    ),
    "backend": ("auto", "Policy backend: auto (onnxruntime if installed), onnxruntime, numpy."),
    "diagnostics_hz": (1.0, "Rate of /diagnostics messages."),
}


def declared_parameters(profile: Profile) -> dict[str, Any]:
    """Every parameter name the node declares for ``profile``, with its default."""
    return {**{k: v[0] for k, v in CORE_PARAMETERS.items()}, **profile.flat()}


def nested(flat: dict[str, Any]) -> dict[str, Any]:
    """Dotted names -> nested dicts, the layout of a ROS 2 params YAML file."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        *heads, last = key.split(".")
        for h in heads:
            node = node.setdefault(h, {})
        node[last] = value
    return out


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts -> dotted names (the inverse of :func:`nested`)."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out
