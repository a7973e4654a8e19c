"""ROS runtime benchmark: per-tick cost on each drone profile, and replay speed of a long bag.

Targets (issue 7): a runtime tick (observation + inference + safety + command) under 200 us
for the drone policies, and the replay of a 10-minute 50 Hz bag under 10 s.

Baselines measured in the same run:

* tick: one bare policy call (onnxruntime, or numpy) on a single observation, the floor any
  tick must pay; the ratio says what the runtime adds on top;
* replay: reading and deserializing the same bag with rosbags, the floor of any replay.

    python benchmarks/ros_runtime.py            # table
    python benchmarks/ros_runtime.py --json     # machine-readable
    python benchmarks/ros_runtime.py --bundle runs/.../best --minutes 10
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _bench import write_section

#: This benchmark's section of RESULTS.md, and the heading above it.
SECTION, HEADING = "ros_runtime", "## ROS runtime: tick cost and replay speed"

TICK_TARGET_US = 200.0
REPLAY_TARGET_S = 10.0
DRONE_PROFILES = ("px4", "mavros", "crazyflie", "generic_drone")


def make_bundle(out: Path) -> Path:
    """A DroneHover bundle with the default PPO network size (64x64 tanh), random weights."""
    import sims
    from agentic_rl.export import export_bundle
    from agentic_rl.ppo.networks import ActorCritic

    spec = sims.get_spec("DroneHover")
    policy = ActorCritic(spec.obs_size, 4).numpy()
    from agentic_rl.ppo.networks import Policy

    rng = np.random.default_rng(0)
    actor = [(w + rng.normal(0, 0.05, w.shape), b) for w, b in policy.actor]
    deploy = Policy(
        actor,
        "tanh",
        np.zeros(spec.obs_size),
        np.ones(spec.obs_size),
        10.0,
        -np.ones(4),
        np.ones(4),
    )
    return export_bundle(deploy, "DroneHover", out, golden_episodes=1)


CIRCLE_RATE = 0.5  # rad/s


#: The goal the hover policy is given (world, m).
GOAL = np.array([0.0, 0.0, 1.0])


def circle_state(t: float) -> Any:
    """What a drone flying a 1 m circle at 1 m height, yawing along it, measures (ENU, FLU)."""
    from ros_bridge import frames
    from ros_bridge.measurement import Measurement

    w = CIRCLE_RATE
    return Measurement(
        position=np.array([math.cos(w * t), math.sin(w * t), 1.0]),
        orientation=frames.yaw_to_quat(w * t + math.pi / 2),
        velocity=np.array([-w * math.sin(w * t), w * math.cos(w * t), 0.0]),
        body_rates=np.array([0.0, 0.0, w]),
    )


def bench_ticks(bundle_dir: Path, backend: str, n: int) -> dict[str, Any]:
    from ros_bridge import Runtime, load_bundle, load_profile
    from ros_bridge.bags import build

    bundle = load_bundle(bundle_dir)
    policy = bundle.make_policy(backend)
    obs = bundle.golden_obs[0]
    for _ in range(200):
        policy(obs)
    t0 = time.perf_counter_ns()
    for _ in range(n):
        policy(obs)
    base_us = (time.perf_counter_ns() - t0) / n / 1e3
    out: dict[str, Any] = {"backend": policy.backend, "bare_inference_us": base_us, "profiles": {}}
    for name in DRONE_PROFILES:
        rt = Runtime(bundle, load_profile(name), goal=GOAL, backend=backend)
        dt = rt.dt
        msgs = []
        # one full lap of the circle, so that cycling through the samples stays continuous
        # (a jump would be dropped by the plausibility filter)
        for k in range(round(2 * math.pi / CIRCLE_RATE / dt)):
            t = k * dt
            msgs.append(
                [
                    (role, build(rt.profile.inputs[role].type, data))
                    for role, data in rt.adapter.encode_inputs(circle_state(t), t, GOAL)
                ]
            )
        # two samples: the Crazyflie's C++ odometry has no rates (they come from differencing)
        for k in (0, 1):
            for role, m in msgs[k]:
                rt.on_message(role, m, k * dt)
        rt.tick(dt)
        ok, why = rt.enable(dt)
        if not ok:
            raise RuntimeError(f"{name}: {why}")
        ticks, decode = [], []
        for k in range(2, n + 2):
            t = k * dt
            step = msgs[k % len(msgs)]
            d0 = time.perf_counter_ns()
            for role, m in step:
                rt.on_message(role, m, t)
            d1 = time.perf_counter_ns()
            rt.tick(t)
            d2 = time.perf_counter_ns()
            decode.append((d1 - d0) / 1e3)
            ticks.append((d2 - d1) / 1e3)
        if rt.state.value != "ACTIVE":
            raise RuntimeError(f"{name}: runtime left ACTIVE: {rt.fault}")
        ticks.sort()
        med = statistics.median(ticks)
        out["profiles"][name] = {
            "tick_median_us": med,
            "tick_p99_us": ticks[int(0.99 * len(ticks))],
            "decode_median_us": statistics.median(decode),
            "ratio_to_bare_inference": med / base_us,
            "ratio_to_target": med / TICK_TARGET_US,
            "meets_target": med < TICK_TARGET_US,
        }
    return out


def write_long_bag(bundle_dir: Path, path: Path, minutes: float, hz: float) -> int:
    """A generic_drone input bag (Odometry + Imu + goal) of ``minutes`` at ``hz``."""
    from ros_bridge import load_bundle, load_profile
    from ros_bridge.bags import BagWriter, build, resolve_topic
    from ros_bridge.robots import make_adapter

    prof = load_profile("generic_drone")
    adapter = make_adapter(prof, load_bundle(bundle_dir))
    steps = int(minutes * 60 * hz)
    with BagWriter(path) as w:
        for k in range(steps):
            t = 1.0 + k / hz
            for role, data in adapter.encode_inputs(circle_state(t), t, GOAL):
                spec = prof.inputs[role]
                w.write(resolve_topic(spec.topic), spec.type, build(spec.type, data), t, spec.qos)
    return steps


def bench_replay(bundle_dir: Path, minutes: float, hz: float, work: Path) -> dict[str, Any]:
    from ros_bridge import load_bundle, load_profile
    from ros_bridge.bags import read_bag, replay

    bag = work / "long_in"
    t0 = time.perf_counter()
    steps = write_long_bag(bundle_dir, bag, minutes, hz)
    write_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    n_read = sum(1 for _ in read_bag(bag))
    read_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = replay(
        load_bundle(bundle_dir),
        load_profile("generic_drone"),
        bag,
        work / "long_out",
        goal=[0, 0, 1],
    )
    replay_s = time.perf_counter() - t0
    if res.final_state != "ACTIVE":
        raise RuntimeError(f"replay ended in {res.final_state}: {res.faults[-3:]}")
    return {
        "bag_minutes": minutes,
        "bag_hz": hz,
        "input_steps": steps,
        "input_messages": n_read,
        "ticks": res.ticks,
        "commands": res.commands,
        "write_bag_s": write_s,
        "read_only_baseline_s": read_s,
        "replay_s": replay_s,
        "ratio_to_read_baseline": replay_s / read_s,
        "ratio_to_target": replay_s / REPLAY_TARGET_S,
        "meets_target": replay_s < REPLAY_TARGET_S,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", type=Path, help="PolicyBundle (default: a 64x64 DroneHover policy)")
    ap.add_argument("--ticks", type=int, default=5000, help="timed ticks per profile")
    ap.add_argument("--minutes", type=float, default=10.0, help="length of the replayed bag")
    ap.add_argument("--hz", type=float, default=50.0, help="input rate of the replayed bag")
    ap.add_argument("--json", action="store_true", help="print JSON")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ros_bench_"))
    load_start = os.getloadavg()[0]
    try:
        bundle = args.bundle or make_bundle(work / "bundle")
        report = {
            "targets": {"tick_us": TICK_TARGET_US, "replay_s": REPLAY_TARGET_S},
            "ticks": [bench_ticks(bundle, b, args.ticks) for b in ("onnxruntime", "numpy")],
            "replay": bench_replay(bundle, args.minutes, args.hz, work),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report["load"] = (load_start, os.getloadavg()[0])
    if args.bundle is None:  # the default policy: comparable from run to run
        write_results(report, args)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    from rich.table import Table

    from agentic_rl.cli.console import make_console

    table = Table(title=f"runtime tick (target < {TICK_TARGET_US:g} us), median over {args.ticks}")
    for col in (
        "backend",
        "profile",
        "tick us",
        "p99 us",
        "decode us",
        "x bare inference",
        "target",
    ):
        table.add_column(col, justify="right")
    for b in report["ticks"]:
        for name, r in b["profiles"].items():
            table.add_row(
                f"{b['backend']} (bare {b['bare_inference_us']:.1f} us)",
                name,
                f"{r['tick_median_us']:.1f}",
                f"{r['tick_p99_us']:.1f}",
                f"{r['decode_median_us']:.1f}",
                f"{r['ratio_to_bare_inference']:.2f}",
                "ok" if r["meets_target"] else "MISSED",
            )
    console = make_console()
    console.print(table)
    r = report["replay"]
    console.print(
        f"replay of a {r['bag_minutes']:g}-minute {r['bag_hz']:g} Hz bag ({r['input_messages']} "
        f"messages, {r['ticks']} ticks): {r['replay_s']:.2f} s (target < {REPLAY_TARGET_S:g} s: "
        f"{'ok' if r['meets_target'] else 'MISSED'}); read-only baseline {r['read_only_baseline_s']:.2f} s "
        f"(x{r['ratio_to_read_baseline']:.2f})"
    )


def write_results(report: dict[str, Any], args: argparse.Namespace) -> None:
    """Put this run's figures into this benchmark's section of RESULTS.md."""
    r = report["replay"]
    lines = [
        f"`python benchmarks/ros_runtime.py --ticks {args.ticks} --minutes {args.minutes:g}`; "
        f"load average {report['load'][0]:.1f} -> {report['load'][1]:.1f}; "
        f"{datetime.date.today().isoformat()}. Baselines measured in the same run: a bare policy "
        "call, and a read-only pass over the replayed bag.",
        "",
        "| backend | profile | tick median (us) | p99 (us) | decode (us) | x bare call | "
        f"target < {TICK_TARGET_US:g} us |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for b in report["ticks"]:
        for name, t in b["profiles"].items():
            lines.append(
                f"| {b['backend']} (bare {b['bare_inference_us']:.1f} us) | {name} | "
                f"{t['tick_median_us']:.1f} | {t['tick_p99_us']:.1f} | "
                f"{t['decode_median_us']:.1f} | {t['ratio_to_bare_inference']:.2f} | "
                f"{'ok' if t['meets_target'] else '**missed**'} |"
            )
    lines += [
        "",
        f"Replay of a {r['bag_minutes']:g}-minute {r['bag_hz']:g} Hz bag ({r['input_messages']:,} "
        f"messages, {r['ticks']:,} ticks): **{r['replay_s']:.2f} s** wall (target < "
        f"{REPLAY_TARGET_S:g} s: {'ok' if r['meets_target'] else '**missed**'}); read-only "
        f"baseline {r['read_only_baseline_s']:.2f} s (x{r['ratio_to_read_baseline']:.2f}).",
    ]
    write_section(SECTION, "\n".join(lines), heading=HEADING)


if __name__ == "__main__":
    main()
