"""Drive a running policy node over real ROS 2 and record what it sends.

Runs in a Python that has rclpy (a ROS 2 installation, or the community wheels). It starts the
installed node of a generated package on simulated time and becomes the node's ``/clock``:
each control step it publishes that step's input messages, advances the clock by one step
(which fires the node's control timer once) and collects what the node sent. The node is
enabled and disabled through its ``~/enable`` service, exactly as an operator would, and the
profile's services (Crazyswarm2's ``land``...) are served here, so every call is recorded.

Two ways to give the steps:

* ``--bag``: a record-sim bag's inputs, step by step (commands are compared with the
  simulator's; the node is enabled once, after a warm-up)::

      python -m ros_bridge.live_check --prefix install/<pkg> --package <pkg> \\
          --profile generic_drone --control-hz 48 --bag sim_bag --out received.json

* ``--scenario``: a JSON file ``{"steps": [{"inputs": [[role, fields], ...],
  "call": "enable" | "disable" | null}, ...]}`` (fields as the runtime's dicts): the vehicle's
  status, missing inputs and the operator's calls per step, for the safety gating tests.

``received.json`` holds per step the commands (``outputs``), the service calls the node made
(``services``), the node's state from ``/diagnostics`` after the step (``state``) and the answer
to that step's call (``response``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

#: Nanoseconds of simulated time before the first step.
T0_NS = 1000 * 10**9


def _to_plain(msg: Any) -> Any:
    from .messages import to_builtin

    return to_builtin(msg)


def _start_node(args: argparse.Namespace) -> subprocess.Popen[str]:
    from .params import EXECUTABLE

    prefix = Path(args.prefix).resolve()
    site = next((prefix / "lib").glob("python3*/site-packages"))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")])
    env["AMENT_PREFIX_PATH"] = os.pathsep.join([str(prefix), env.get("AMENT_PREFIX_PATH", "")])
    params = prefix / "share" / args.package / "config" / "params.yaml"
    return subprocess.Popen(
        [
            sys.executable,
            str(prefix / "lib" / args.package / EXECUTABLE),
            "--ros-args",
            "--params-file",
            str(params),
            "-p",
            "use_sim_time:=true",
            "-p",
            "diagnostics_hz:=50.0",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


class Harness:
    """The test side of the graph: the node's clock, inputs, enable client, services and
    subscriptions to everything it sends."""

    def __init__(
        self, profile_name: str, control_hz: float, timeout: float, node_proc: Any = None
    ) -> None:
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.node import Node
        from rosgraph_msgs.msg import Clock
        from std_srvs.srv import SetBool

        from .node import _qos, import_type
        from .params import NODE_NAME
        from .profiles import load_profile

        self.profile = load_profile(profile_name)
        self.timeout = timeout
        self.node_proc = node_proc
        self.node = Node("agentic_rl_live_check")
        self._clock = self.node.create_publisher(Clock, "/clock", 10)
        self._clock_cls = Clock
        self.pubs = {
            role: self.node.create_publisher(
                import_type(s.type), s.topic.replace("~", f"/{NODE_NAME}"), _qos(s.qos)
            )
            for role, s in self.profile.inputs.items()
        }
        self.received: list[tuple[str, Any]] = []
        self.calls: list[tuple[str, Any]] = []
        self._subs = [
            self.node.create_subscription(
                import_type(s.type),
                s.topic,
                lambda m, role=role: self.received.append((role, m)),
                _qos(s.qos),
            )
            for role, s in self.profile.outputs.items()
        ]
        self._servers = [
            self.node.create_service(
                import_type(s.type),
                s.service,
                lambda req, resp, role=role: self._serve(role, req, resp),
            )
            for role, s in self.profile.services.items()
        ]
        self.diag: list[tuple[float, str]] = []
        self.node.create_subscription(
            DiagnosticArray,
            "/diagnostics",
            lambda m: self.diag.append(
                (m.header.stamp.sec + m.header.stamp.nanosec * 1e-9, m.status[0].message)
            ),
            10,
        )
        self._set_bool = SetBool
        self.enable = self.node.create_client(SetBool, f"/{NODE_NAME}/enable")
        # One clock step per control step, a little longer than the timer period so that each
        # step crosses exactly one timer deadline (rcl never fires twice for one advance).
        self.step_ns = int(1e9 / float(control_hz)) + 1
        self.t_ns = T0_NS

    def _serve(self, role: str, request: Any, response: Any) -> Any:
        self.calls.append((role, request))
        if hasattr(response, "success"):
            response.success = True
        return response

    def spin_for(self, seconds: float, until: Any = None) -> bool:
        import rclpy

        end = time.monotonic() + seconds
        while time.monotonic() < end:
            rclpy.spin_once(self.node, timeout_sec=0.005)
            if until is not None and until():
                return True
        return False

    def wait_for_node(self) -> None:
        """Discovery: until the node's subscriptions see our publishers and ours see its."""
        deadline = time.monotonic() + self.timeout
        outputs = [s.topic for s in self.profile.outputs.values()]
        while time.monotonic() < deadline and (
            any(p.get_subscription_count() == 0 for p in [*self.pubs.values(), self._clock])
            or any(self.node.count_publishers(t) == 0 for t in [*outputs, "/diagnostics"])
            or not self.enable.service_is_ready()
        ):
            self.spin_for(0.1)

    def publish(self, msgs: list[tuple[str, Any]]) -> None:
        """Publish input messages (rosbags or rclpy messages, or field dicts)."""
        from .node import fill, import_type

        for role, msg in msgs:
            cls = import_type(self.profile.inputs[role].type)
            data = msg if isinstance(msg, dict) else _to_plain(msg)
            self.pubs[role].publish(fill(cls(), data))
        self.spin_for(0.02)  # let the node take the inputs before its clock moves

    def call_enable(self, on: bool) -> tuple[bool, str] | None:
        fut = self.enable.call_async(self._set_bool.Request(data=on))
        self.spin_for(self.timeout, until=fut.done)
        if not fut.done():
            return None
        return bool(fut.result().success), str(fut.result().message)

    def advance(self) -> float:
        """One control step of simulated time; returns it (s) once the node has ticked."""
        from builtin_interfaces.msg import Time

        self.t_ns += self.step_ns
        t = self.t_ns * 1e-9
        now = self._clock_cls(clock=Time(sec=self.t_ns // 10**9, nanosec=self.t_ns % 10**9))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            # The same time again if a clock message was lost: it fires no timer twice.
            self._clock.publish(now)
            # The node publishes /diagnostics after its control tick (its timer comes first).
            if self.spin_for(0.5, until=lambda: bool(self.diag) and self.diag[-1][0] >= t - 1e-6):
                return t
        died = self.node_proc is not None and self.node_proc.poll() is not None
        raise RuntimeError(
            ("the node exited" if died else "the node stopped ticking")
            + f" at t = {t:.3f} s (no /diagnostics for that step)"
        )

    def take(self) -> dict[str, Any]:
        """What arrived since the last call: commands, service calls, the latest state."""
        out = {
            "outputs": [{"role": r, "msg": _to_plain(m)} for r, m in self.received],
            "services": [{"role": r, "request": _to_plain(m)} for r, m in self.calls],
            "state": self.diag[-1][1] if self.diag else "",
        }
        self.received.clear()
        self.calls.clear()
        return out


def _bag_steps(args: argparse.Namespace, profile: Any) -> list[list[tuple[str, Any]]]:
    """The bag's input messages grouped by control step (same log time)."""
    from . import bags

    by_topic = {bags.resolve_topic(s.topic): role for role, s in profile.inputs.items()}
    steps: list[tuple[float, list[tuple[str, Any]]]] = []
    for m in bags.read_bag(args.bag, list(by_topic)):
        if not steps or abs(steps[-1][0] - m.t) > 1e-6:
            steps.append((m.t, []))
        steps[-1][1].append((by_topic[m.topic], m.msg))
    return [msgs for _, msgs in steps[: args.steps]]


def run(args: argparse.Namespace) -> dict[str, Any]:
    import rclpy

    node_proc = _start_node(args)
    result: dict[str, Any] = {"steps": [], "states": [], "enable": None, "node_log": ""}
    rclpy.init()
    h = Harness(args.profile, args.control_hz, args.timeout, node_proc)
    try:
        h.wait_for_node()
        if args.scenario:
            _run_scenario(h, json.loads(Path(args.scenario).read_text()), result)
        else:
            _run_bag(h, _bag_steps(args, h.profile), result)
        h.spin_for(0.2)
    except Exception as exc:  # reported with the node's log, which says why
        result["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        result["states"] = sorted({s for _, s in h.diag})
        h.node.destroy_node()
        rclpy.shutdown()
        node_proc.terminate()
        try:
            out, _ = node_proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            node_proc.kill()
            out, _ = node_proc.communicate()
        result["node_log"] = out[-6000:]
    return result


def _run_bag(h: Harness, steps: list[list[tuple[str, Any]]], result: dict[str, Any]) -> None:
    """Warm up on the first step's inputs until the node accepts the enable, then one clock
    step per bag step, waiting each time for one message per output."""
    deadline = time.monotonic() + h.timeout
    while time.monotonic() < deadline and result["enable"] is None:
        h.publish(steps[0])
        h.advance()
        answer = h.call_enable(True)
        if answer and answer[0]:
            result["enable"] = answer[1]
    if result["enable"] is None:
        raise RuntimeError("the node never accepted ~/enable (never READY?)")
    h.take()
    n_out = len(h.profile.outputs)
    for msgs in steps:
        h.publish(msgs)
        h.advance()
        h.spin_for(h.timeout, until=lambda: len(h.received) >= n_out)
        result["steps"].append(h.take())


def _run_scenario(h: Harness, scenario: dict[str, Any], result: dict[str, Any]) -> None:
    """Each step: publish its inputs, make its call (waiting for the answer), advance the
    clock one step and collect what the node sent (a short settle catches late commands)."""
    for step in scenario["steps"]:
        h.publish([(role, fields) for role, fields in step.get("inputs", [])])
        call = step.get("call")
        response = None
        if call in ("enable", "disable"):
            response = h.call_enable(call == "enable")
            if response is None:
                raise RuntimeError(f"no answer to ~/enable ({call})")
        elif call:
            raise ValueError(f"unknown call {call!r}: enable or disable")
        t = h.advance()
        h.spin_for(0.03)
        result["steps"].append({"t": t, "response": response, **h.take()})


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prefix", required=True, help="colcon install prefix of the package")
    ap.add_argument("--package", required=True)
    ap.add_argument("--profile", required=True)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--bag", help="a record-sim bag: its inputs, step by step")
    src.add_argument("--scenario", help="a JSON file of steps (inputs and enable calls)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=100, help="bag steps to run")
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--control-hz", type=float, required=True, help="the bundle's control rate")
    args = ap.parse_args(argv)
    result = run(args)
    Path(args.out).write_text(json.dumps(result, indent=1, default=str))
    if "error" in result:
        raise SystemExit(f"{result['error']}\n--- node log ---\n{result['node_log']}")


if __name__ == "__main__":
    main()
