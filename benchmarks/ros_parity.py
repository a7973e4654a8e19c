"""Sim -> robot parity of every built-in task and both examples on every profile that fits.

For each pair: export a policy (random weights, deterministic; the network does not matter to
parity, only that the commands depend on the observation), `record-sim` simulated episodes as
the profile's messages, `replay` them through the robot runtime (decode, the task's vendored
functions, policy, filters) and compare every command and action at its time.

Target (issue 18): max |sim - replay| <= 1e-5 on every pair. Baseline measured in the same
run: the RMS of the commands themselves (what an error would be compared with).

    python benchmarks/ros_parity.py            # table, and the ros_parity section of RESULTS.md
    python benchmarks/ros_parity.py --json
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TARGET = 1e-5
#: Example task packages (on sys.path for this run) and their class paths.
EXAMPLES = {
    "agentic_rl_altitude.task:DroneAltitude": ROOT / "examples" / "custom_task",
    "agentic_rl_cartpole.task:CartPole": ROOT / "examples" / "cartpole",
}
#: Exact parity needs the gyro in the odometry: Crazyswarm2's Python server carries it.
DRONE_PROFILES = {
    "px4": {},
    "mavros": {},
    "crazyflie": {"params.backend": "python"},
    "generic_drone": {},
}
DRONE_TASKS = ("DroneHover", "DroneGates", "DroneObstacles", "DroneWallLanding",
               "DroneTrajectory", "DroneOrbit", "agentic_rl_altitude.task:DroneAltitude")  # fmt: skip
ARM_TASKS = {"ArmReach": "joint_delta", "ArmPush": "ee_delta", "ArmPickPlace": "ee_delta"}
#: A random arm policy moves fast: its velocity and slew limits are opened so that parity is
#: measured alone (the limits act identically on both sides, but cut the test's reach).
ARM_SETS = {"safety.velocity_scale": 1.0, "safety.slew_rate": 1e3}


def pairs() -> list[tuple[str, str | None, str, dict[str, Any]]]:
    """(task, action mode, profile, profile overrides) of every pair that fits."""
    out = [(t, None, p, {"safety.slew_from_zero": 0.0, **o})
           for t in DRONE_TASKS for p, o in DRONE_PROFILES.items()]  # fmt: skip
    out += [(t, m, p, ARM_SETS) for t, m in ARM_TASKS.items() for p in ("arm_jtc", "arm_forward")]
    out.append(("agentic_rl_cartpole.task:CartPole", None, "joint_group",
                {"safety.slew_from_zero": 0.0}))  # fmt: skip
    return out


def random_policy(obs_size: int, act_size: int, seed: int = 5, scale: float = 0.3) -> Any:
    """A deterministic 32x32 tanh policy with random weights."""
    from agentic_rl.ppo.networks import Policy

    rng = np.random.default_rng(seed)
    sizes = [obs_size, 32, 32, act_size]
    actor = [(rng.normal(0, scale / np.sqrt(a), (a, b)), rng.normal(0, 0.01, b))
             for a, b in itertools.pairwise(sizes)]  # fmt: skip
    ones = np.ones(act_size)
    return Policy(actor, "tanh", np.zeros(obs_size), np.ones(obs_size), 10.0, -ones, ones)


def commands(bag: Path) -> dict[tuple[str, float], np.ndarray]:
    """Command vectors and normalized actions of a bag by (topic, time)."""
    from ros_bridge.bags import commands_at_ticks

    return commands_at_ticks(bag)


def measure(episodes: int, work: Path) -> list[dict[str, Any]]:
    import sims
    from agentic_rl.export import export_bundle
    from agentic_rl.export.simbag import record_sim
    from ros_bridge import load_bundle, load_profile
    from ros_bridge.bags import replay

    bundles: dict[tuple[str, str | None], Path] = {}
    rows = []
    for i, (task, mode, profile, sets) in enumerate(pairs()):
        if (task, mode) not in bundles:
            spec = sims.get_spec(task, mode)
            policy = random_policy(spec.obs_size, spec.action.shape[0])
            bundles[(task, mode)] = export_bundle(
                policy, task, work / f"bundle{i}", golden_episodes=1, action_mode=mode
            )
        bundle = bundles[(task, mode)]
        t0 = time.process_time()
        record_sim(bundle, work / f"sim{i}", profile=profile, episodes=episodes, seed=5,
                   overrides=sets)  # fmt: skip
        res = replay(load_bundle(bundle), load_profile(profile).with_overrides(sets),
                     work / f"sim{i}", work / f"rep{i}")  # fmt: skip
        sim, rep = commands(work / f"sim{i}"), commands(work / f"rep{i}")
        missing = [k for k in sim if k not in rep]
        err = max(float(np.abs(sim[k] - rep[k]).max()) for k in sim if k in rep)
        values = np.concatenate([v for v in sim.values()])
        rows.append({
            "task": task.split(":")[-1],
            "profile": profile,
            "commands": len(sim),
            "max_error": err,
            "command_rms": float(np.sqrt(np.mean(values**2))),
            "complete": not missing and not res.faults,
            "cpu_s": time.process_time() - t0,
            "meets_target": err <= TARGET and not missing and not res.faults,
        })  # fmt: skip
    return rows


def table(rows: list[dict[str, Any]], episodes: int) -> str:
    lines = [
        f"Random-weight policies (32x32 tanh), {episodes} simulated episodes per pair; "
        "`python benchmarks/ros_parity.py`.",
        "",
        "| task | profile | commands | max \\|sim - replay\\| | command RMS (baseline) | target |",
        "|---|---|---:|---:|---:|---|",
    ]
    for r in rows:
        ok = "ok" if r["meets_target"] else "MISSED"
        lines.append(
            f"| {r['task']} | {r['profile']} | {r['commands']} | {r['max_error']:.1e} | "
            f"{r['command_rms']:.2f} | {ok} |"
        )
    worst = max(r["max_error"] for r in rows)
    met = sum(r["meets_target"] for r in rows)
    lines += ["", f"Worst {worst:.1e} (target <= {TARGET:g}); {met} of {len(rows)} pairs meet it."]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--episodes", type=int, default=2, help="simulated episodes per pair")
    ap.add_argument("--json", action="store_true", help="print JSON")
    args = ap.parse_args()
    sys.path[:0] = [str(p) for p in EXAMPLES.values()]
    work = Path(tempfile.mkdtemp(prefix="ros_parity_"))
    try:
        rows = measure(args.episodes, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    text = table(rows, args.episodes)
    print(text)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _bench import write_section

    write_section("ros_parity", text, heading="## ROS parity: record-sim -> replay, every task")


if __name__ == "__main__":
    main()
