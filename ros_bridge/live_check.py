"""Drive a running policy node with a bag's inputs over real ROS 2 and record what it sends.

Runs in a Python that has rclpy (a ROS 2 installation, or the community wheels). It starts the
installed node of a generated package on simulated time, becomes the node's ``/clock``, and for
each control step of the bag publishes that step's input messages, advances the clock by one
step (which fires the node's control timer once) and waits for the commands. The node is
enabled through its ``~/enable`` service, exactly as an operator would.

    python -m ros_bridge.live_check --prefix install/<pkg> --package <pkg> \\
        --profile generic_drone --bag sim_bag --out received.json

``received.json`` holds the commands per step, the enable answer and the diagnostics states;
compare them with ``agentic-rl ros replay`` of the same bag.
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


def _to_plain(msg: Any) -> Any:
    from .messages import to_builtin

    return to_builtin(msg)


def run(args: argparse.Namespace) -> dict[str, Any]:
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.node import Node
    from rosgraph_msgs.msg import Clock
    from std_srvs.srv import SetBool

    from . import bags
    from .node import _qos, fill, import_type
    from .params import EXECUTABLE, NODE_NAME
    from .profiles import load_profile

    profile = load_profile(args.profile)
    prefix = Path(args.prefix).resolve()
    site = next((prefix / "lib").glob("python3*/site-packages"))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")])
    env["AMENT_PREFIX_PATH"] = str(prefix)
    params = prefix / "share" / args.package / "config" / "params.yaml"
    node_proc = subprocess.Popen(
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
    result: dict[str, Any] = {"steps": [], "states": [], "enable": None, "node_log": ""}
    rclpy.init()
    harness = Node("agentic_rl_live_check")
    try:
        clock = harness.create_publisher(Clock, "/clock", 10)
        pubs = {
            role: harness.create_publisher(
                import_type(s.type), s.topic.replace("~", f"/{NODE_NAME}"), _qos(s.qos)
            )
            for role, s in profile.inputs.items()
        }
        received: list[tuple[str, Any]] = []
        for role, s in profile.outputs.items():
            harness.create_subscription(
                import_type(s.type),
                s.topic,
                lambda m, role=role: received.append((role, m)),
                _qos(s.qos),
            )
        states: list[str] = []
        harness.create_subscription(
            DiagnosticArray, "/diagnostics", lambda m: states.append(m.status[0].message), 10
        )
        enable = harness.create_client(SetBool, f"/{NODE_NAME}/enable")
        by_topic = {bags.resolve_topic(s.topic): role for role, s in profile.inputs.items()}
        # Group the bag's input messages by control step (same log time).
        steps: list[tuple[float, list[tuple[str, Any]]]] = []
        for m in bags.read_bag(args.bag, list(by_topic)):
            if not steps or abs(steps[-1][0] - m.t) > 1e-6:
                steps.append((m.t, []))
            steps[-1][1].append((by_topic[m.topic], m.msg))
        steps = steps[: args.steps]

        def spin_for(seconds: float, until: Any = None) -> bool:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                rclpy.spin_once(harness, timeout_sec=0.005)
                if until is not None and until():
                    return True
            return False

        def publish_step(t_ns: int, msgs: list[tuple[str, Any]]) -> None:
            for role, msg in msgs:
                cls = import_type(profile.inputs[role].type)
                pubs[role].publish(fill(cls(), _to_plain(msg)))
            spin_for(0.02)  # let the node take the inputs before its clock moves
            clock.publish(Clock(clock=_time(t_ns // 10**9, t_ns % 10**9)))

        # Discovery: wait until the node's subscriptions see our publishers.
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline and any(
            p.get_subscription_count() == 0 for p in pubs.values()
        ):
            spin_for(0.1)
        # One clock step per control step, a little longer than the timer period so that each
        # step crosses exactly one timer deadline (rcl never fires twice for one advance).
        step_ns = int(1e9 / float(args.control_hz)) + 1
        t_ns = 1000 * 10**9
        first = steps[0][1]
        # Warm-up on the first step's inputs until the node is READY and accepts the enable.
        while time.monotonic() < deadline:
            t_ns += step_ns
            publish_step(t_ns, first)
            spin_for(0.03)
            if enable.service_is_ready():
                fut = enable.call_async(SetBool.Request(data=True))
                spin_for(2.0, until=fut.done)
                if fut.done() and fut.result().success:
                    result["enable"] = fut.result().message
                    break
        if result["enable"] is None:
            raise RuntimeError("the node never accepted ~/enable (never READY?)")
        received.clear()
        for _, msgs in steps:
            n = len(received)
            t_ns += step_ns
            publish_step(t_ns, msgs)
            spin_for(args.timeout, until=lambda n=n: len(received) >= n + len(profile.outputs))
            result["steps"].append(
                {"outputs": [{"role": r, "msg": _to_plain(m)} for r, m in received[n:]]}
            )
        spin_for(0.2)
        result["states"] = sorted(set(states))
    finally:
        harness.destroy_node()
        rclpy.shutdown()
        node_proc.terminate()
        try:
            out, _ = node_proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            node_proc.kill()
            out, _ = node_proc.communicate()
        result["node_log"] = out[-4000:]
    return result


def _time(sec: int, nanosec: int) -> Any:
    from builtin_interfaces.msg import Time

    return Time(sec=sec, nanosec=nanosec)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prefix", required=True, help="colcon install prefix of the package")
    ap.add_argument("--package", required=True)
    ap.add_argument("--profile", required=True)
    ap.add_argument("--bag", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--control-hz", type=float, required=True, help="the bundle's control rate")
    args = ap.parse_args(argv)
    Path(args.out).write_text(json.dumps(run(args), indent=1, default=str))


if __name__ == "__main__":
    main()
