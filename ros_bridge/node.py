"""The ROS 2 node that runs a PolicyBundle: a thin rclpy shell around the runtime core.

Uses only rclpy APIs present since ROS 2 Humble. The node subscribes to the profile's inputs,
ticks the runtime at the policy's control rate on the node clock (ROS time, so
``use_sim_time`` with ``ros2 bag play --clock`` works), publishes its outputs, calls services
fire-and-forget, publishes ``/diagnostics`` and offers two services:

* ``~/enable`` (std_srvs/SetBool): true hands control to the policy (READY -> ACTIVE; on PX4
  and MAVROS only while the vehicle is armed and in its offboard mode), false takes it back.
  Nothing else ever enables the policy, and the node never arms a vehicle or switches its
  flight mode (PX4's FALLBACK ends with a land command, see the profile).
* ``~/reset`` (std_srvs/Trigger): leave STOPPED after a fault.

The ``layout`` parameter (a JSON file or text) gives the course of tasks that observe one.

This file is vendored into every generated package next to the runtime core (relative
imports), and also runs from the repository as ``python -m ros_bridge.node``.
"""

from __future__ import annotations

import importlib
import re
import time
from pathlib import Path
from typing import Any

from .bundle import load_bundle
from .messages import Output
from .params import CORE_PARAMETERS, NODE_NAME
from .profiles import Profile, Qos, load_profile
from .runtime import Runtime
from .taskobs import read_layout

_SEQ = re.compile(r"^sequence<([\w/]+)(?:, \d+)?>$")
_INTS = {"int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"}


def import_type(name: str) -> type:
    """The rclpy class of ``pkg/msg/Name`` or ``pkg/srv/Name``.

    Raises:
        ImportError: naming the ROS package to install or build.
    """
    pkg, kind, cls = name.split("/")
    try:
        module = importlib.import_module(f"{pkg}.{kind}")
    except ImportError:
        raise ImportError(
            f"ROS interface package {pkg!r} is not available; build it in your workspace "
            f"(e.g. px4_msgs, crazyflie_interfaces) or install ros-<distro>-{pkg.replace('_', '-')}"
        ) from None
    return getattr(module, cls)


def fill(msg: Any, data: dict[str, Any]) -> Any:
    """Set fields of an rclpy message from nested dicts (the runtime's output format)."""
    types = msg.get_fields_and_field_types()
    for key, value in data.items():
        kind = types[key]
        if isinstance(value, dict):
            fill(getattr(msg, key), value)
            continue
        m = _SEQ.match(kind)
        if m and "/" in m.group(1):
            cls = import_type(m.group(1).replace("/", "/msg/", 1))
            setattr(msg, key, [fill(cls(), v) for v in value])
            continue
        base = kind.split("[")[0].split("<")[-1].rstrip(">")
        if isinstance(value, (list, tuple)):
            if base in ("float", "double"):
                value = [float(v) for v in value]
            elif base in _INTS:
                value = [int(v) for v in value]
        elif base in ("float", "double"):
            value = float(value)
        elif base == "octet":
            value = bytes([int(value)])
        elif base == "boolean":
            value = bool(value)
        elif base in _INTS:
            value = int(value)
        setattr(msg, key, value)
    return msg


def _share_dir(package: str) -> Path:
    """The package's share directory (ament index, else relative to this installed file)."""
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory(package))
    except Exception:  # not installed through ament, or the index is not sourced
        # lib/pythonX.Y/site-packages/<pkg>/node.py -> <prefix>/share/<pkg>
        return Path(__file__).resolve().parents[4] / "share" / package


class PolicyNode:
    """Builds the rclpy node (created by :func:`main`; kept as a plain class so the module
    imports without rclpy for documentation and tests)."""

    def __init__(self) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.node import Node
        from std_srvs.srv import SetBool, Trigger

        node = Node(NODE_NAME, automatically_declare_parameters_from_overrides=False)
        self.node = node
        for name, (default, _) in CORE_PARAMETERS.items():
            node.declare_parameter(name, default)
        package = __name__.split(".")[0]
        profile_name = node.get_parameter("profile").value or "generic_drone"
        profile = load_profile(profile_name)
        # Declare every profile setting so a params file or --ros-args -p can override it.
        flat = profile.flat()
        for key, default in flat.items():
            node.declare_parameter(key, default)
        overrides = {k: node.get_parameter(k).value for k in flat}
        profile = profile.with_overrides(overrides)
        self.profile = profile
        bundle_dir = node.get_parameter("bundle_dir").value or str(_share_dir(package) / "models")
        bundle = load_bundle(bundle_dir)
        goal = list(node.get_parameter("goal").value)
        layout_text = str(node.get_parameter("layout").value or "")
        self.rt = Runtime(
            bundle,
            profile,
            goal=goal if len(goal) == 3 else None,
            backend=node.get_parameter("backend").value,
            layout=read_layout(layout_text) if layout_text else None,
        )
        self._types: dict[str, type] = {}
        self._pubs = {
            role: node.create_publisher(self._type(spec.type), spec.topic, _qos(spec.qos))
            for role, spec in profile.outputs.items()
        }
        self._clients = {
            role: node.create_client(self._type(spec.type), spec.service)
            for role, spec in profile.services.items()
        }
        self._subs = [
            node.create_subscription(
                self._type(spec.type),
                spec.topic,
                lambda msg, role=role: self.rt.on_message(role, msg, self._now()),
                _qos(spec.qos),
            )
            for role, spec in profile.inputs.items()
        ]
        self._check_message_layouts()
        self._diag = node.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._diag_cls = DiagnosticArray
        node.create_service(SetBool, "~/enable", self._on_enable)
        node.create_service(Trigger, "~/reset", self._on_reset)
        self._tick_us = 0.0
        self._timer = node.create_timer(1.0 / bundle.control_hz, self._on_tick)
        period = 1.0 / max(float(node.get_parameter("diagnostics_hz").value), 1e-3)
        self._diag_timer = node.create_timer(period, self._on_diagnostics)
        node.get_logger().info(
            f"{bundle.task_id} on profile {profile.name} ({self.rt.policy.backend}); "
            f"waiting for inputs {self.rt.watchdog.roles}; enable with ~/enable"
        )

    def _check_message_layouts(self) -> None:
        """Fail at start-up, with the fix, when the workspace's messages lack fields the
        profile sends (px4_msgs built for another PX4 release than ``params.px4_version``)."""
        for out in self.rt.adapter.idle(0.0):
            try:
                fill(self._type(out.type)(), out.data)
            except (KeyError, AttributeError) as exc:
                raise SystemExit(
                    f"{out.type} in this workspace has no field {exc}: its package is of "
                    "another release than the profile expects; for PX4 set params.px4_version "
                    "to the release your px4_msgs are built for (1.14 or 1.15+)"
                ) from None

    def _type(self, name: str) -> type:
        if name not in self._types:
            self._types[name] = import_type(name)
        return self._types[name]

    def _now(self) -> float:
        return self.node.get_clock().now().nanoseconds * 1e-9

    def _on_tick(self) -> None:
        start = time.perf_counter()
        before = self.rt.state
        outs = self.rt.tick(self._now())
        for out in outs:
            self._send(out)
        self._tick_us = (time.perf_counter() - start) * 1e6
        if self.rt.state is not before:
            log = self.node.get_logger()
            text = f"{before.value} -> {self.rt.state.value}" + (
                f": {self.rt.fault}" if self.rt.fault else ""
            )
            # two call sites: rclpy refuses one call site logging at two severities
            if self.rt.state.value in ("FALLBACK", "STOPPED"):
                log.error(text)
            else:
                log.info(text)

    def _send(self, out: Output) -> None:
        if out.kind == "topic":
            self._pubs[out.role].publish(fill(self._type(out.type)(), out.data))
            return
        client = self._clients[out.role]
        if not client.service_is_ready():
            self.node.get_logger().error(f"service {client.srv_name} is not available")
        req_cls = self._type(out.type).Request
        client.call_async(fill(req_cls(), out.data))

    def _on_diagnostics(self) -> None:
        data = self.rt.diagnostics(self._now(), name=self.node.get_fully_qualified_name())
        data["status"][0]["values"].append({"key": "tick_us", "value": f"{self._tick_us:.0f}"})
        self._diag.publish(fill(self._diag_cls(), data))

    def _on_enable(self, request: Any, response: Any) -> Any:
        now = self._now()
        ok, text = self.rt.enable(now) if request.data else self.rt.disable(now)
        response.success, response.message = ok, text
        self.node.get_logger().info(f"enable={request.data}: {text}")
        return response

    def _on_reset(self, request: Any, response: Any) -> Any:
        ok, text = self.rt.reset()
        response.success, response.message = ok, text
        return response


def _qos(q: Qos) -> Any:
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=q.depth,
        reliability=ReliabilityPolicy.RELIABLE
        if q.reliability == "reliable"
        else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.VOLATILE
        if q.durability == "volatile"
        else DurabilityPolicy.TRANSIENT_LOCAL,
    )


def main(args: list[str] | None = None) -> None:
    """Console-script entry point: ``ros2 run <package> policy_node``."""
    spin(lambda: PolicyNode().node, args)


def spin(make_node: Any, args: list[str] | None = None) -> None:
    """Run one node until Ctrl-C or SIGTERM: ``rclpy.init``, ``make_node()`` (returns the rclpy node),
    spin, then destroy it and shut down. The policy node's and the scene node's ``main``.

    Raises:
        SystemExit: with what to do, when rclpy is not importable (ROS 2 not sourced).
    """
    try:
        import rclpy
    except ImportError:
        raise SystemExit(
            "rclpy is not available: source your ROS 2 installation (e.g. "
            "/opt/ros/humble/setup.bash) before running the node"
        ) from None
    from rclpy.executors import ExternalShutdownException

    rclpy.init(args=args)
    node = make_node()
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass  # Ctrl-C, or SIGTERM from ros2 launch / systemd
    finally:
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()


__all__ = ["PolicyNode", "Profile", "fill", "import_type", "main"]

if __name__ == "__main__":
    main()
