"""Our PPO against Stable-Baselines3 PPO on the same task, seeds and machine, in one run.

SB3 runs with its defaults (``PPO("MlpPolicy", env)``: 1 env, 2048-step rollouts, 64-sample
minibatches, 10 epochs); ours with the task's preset. Both get one torch thread, the same env
steps, the same reward and the same seeds, and both are evaluated by the same deterministic
evaluation on held-out seeds. Both also get one BLAS thread for numpy (with more, OpenBLAS
spin-waits on a busy machine and bills either side for it). The headline ratio is in steps
per CPU-second of each process, which other jobs on a shared machine do not skew; wall-clock
figures are printed next to it. Target (issue #16): >= 5x SB3 at equal success. The result
goes into ``benchmarks/RESULTS.md`` between ``<!-- sb3:begin -->`` and ``<!-- sb3:end -->``
unless ``--no-write``.

    python benchmarks/ppo_vs_sb3.py --task DroneHover --steps 200000 [--seeds 0 1] [--json]

Needs the ``bench`` extra (``pip install 'agentic-rl[bench]'``) for stable-baselines3.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from _bench import train_timed, write_section
from threadpoolctl import threadpool_limits

from agentic_rl import seeds
from agentic_rl.ppo import evaluate
from agentic_rl.ppo.config import parse_overrides
from agentic_rl.ppo.envs import canonical_task_id, env_factory, load_reward


@dataclass
class Run:
    """One training run of one implementation."""

    impl: str
    seed: int
    steps: int
    wall_s: float
    cpu_s: float
    success_rate: float
    metrics: dict[str, float]

    @property
    def steps_per_s(self) -> float:
        return self.steps / self.wall_s

    @property
    def cpu_steps_per_s(self) -> float:
        """Steps per CPU second of this process: robust to other jobs on the machine."""
        return self.steps / self.cpu_s


def run_ours(
    task_id: str,
    reward: str,
    steps: int,
    seed: int,
    eval_seeds: range,
    out: str,
    overrides: dict[str, Any] | None = None,
) -> Run:
    result, _, wall, cpu = train_timed(
        task_id, steps, seed, f"{out}/ours_seed{seed}", reward=reward, overrides=overrides
    )
    ev = evaluate(result.policy, task_id, seeds=eval_seeds)
    return Run("ours", seed, result.steps, wall, cpu, ev.success_rate, ev.mean_metrics())


class PlainInfo(gym.Wrapper):
    """Hands SB3 a plain-dict state snapshot.

    Our envs expose ``info["state"]`` as a read-only ``mappingproxy``, which SB3's DummyVecEnv
    cannot ``deepcopy``; SB3 gets a dict copy instead (a cost only the SB3 side pays, one
    dict per step, negligible next to the physics).
    """

    def step(self, action: Any) -> tuple[Any, ...]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        if "state" in info:
            info = {**info, "state": dict(info["state"])}
        return obs, reward, terminated, truncated, info

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        if "state" in info:
            info = {**info, "state": dict(info["state"])}
        return obs, info


def run_sb3(task_id: str, reward: str, steps: int, seed: int, eval_seeds: range) -> Run:
    try:
        from stable_baselines3 import PPO as SB3PPO
        from stable_baselines3.common.env_util import make_vec_env
    except ImportError:
        sys.exit("stable-baselines3 is not installed: pip install 'agentic-rl[bench]'")
    torch.set_num_threads(1)  # the same single thread our trainer uses
    threadpool_limits(1, user_api="blas")
    factory = env_factory(task_id, reward_fn=load_reward(task_id, reward))

    def make() -> gym.Env:
        return PlainInfo(factory())

    t0, c0 = time.perf_counter(), time.process_time()
    env = make_vec_env(make, n_envs=1, seed=seed)
    model = SB3PPO("MlpPolicy", env, seed=seed, device="cpu", verbose=0)
    model.learn(total_timesteps=steps)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    env.close()

    def act(obs: np.ndarray) -> np.ndarray:
        return model.predict(obs, deterministic=True)[0]

    ev = evaluate(act, task_id, seeds=eval_seeds)
    return Run("sb3", seed, model.num_timesteps, wall, cpu, ev.success_rate, ev.mean_metrics())


#: This benchmark's section of RESULTS.md.
SECTION = "sb3"


def write_results(report: dict[str, Any]) -> None:
    """Replace (or append) the SB3 comparison section of RESULTS.md with this run."""
    import os
    import platform
    from datetime import UTC, datetime

    ours, sb3 = report["ours"], report["sb3"]
    seeds = " ".join(str(s) for s in report["seeds"])
    lines = [
        "## Our PPO vs Stable-Baselines3 PPO",
        "",
        f"`python benchmarks/ppo_vs_sb3.py --task {report['task'].split('/')[-1]} "
        f"--steps {report['steps']} --seeds {seeds}`, "
        f"{platform.machine()}, {os.cpu_count()} cores (shared), one torch and one BLAS "
        f"thread each, {report['eval_episodes']} held-out evaluation episodes, "
        f"{datetime.now(UTC).strftime('%Y-%m-%d')}.",
        "",
        "| impl | steps/s (CPU) | steps/s (wall) | success |",
        "| --- | ---: | ---: | ---: |",
        *(
            f"| {name} | {r['cpu_steps_per_s']:.0f} | {r['steps_per_s']:.0f} | "
            f"{r['success_rate']:.0%} |"
            for name, r in (("ours", ours), ("SB3", sb3))
        ),
        "",
        f"Speed ratio {report['cpu_speed_ratio']:.2f}x in CPU seconds "
        f"({report['speed_ratio']:.2f}x wall); success difference "
        f"{report['success_delta']:+.0%}.",
    ]
    write_section(SECTION, "\n".join(lines))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="DroneHover")
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--reward", default="reference", help="reference | sparse | path")
    parser.add_argument("--eval-episodes", type=int, default=100)
    parser.add_argument("--out", default="runs/bench/ppo_vs_sb3")
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], help="PPO config key=value"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args(argv)
    task_id = canonical_task_id(args.task)
    # run 0 of the evaluation stream: the episodes `agentic-rl train --seed 0` evaluates on
    eval_seeds = seeds.EVALUATION.seeds(args.eval_episodes)
    overrides = parse_overrides(args.overrides)
    runs: list[Run] = []
    for seed in args.seeds:
        # SB3 first, then ours, for every seed: both see the same machine load in turn.
        runs.append(run_sb3(task_id, args.reward, args.steps, seed, eval_seeds))
        runs.append(
            run_ours(task_id, args.reward, args.steps, seed, eval_seeds, args.out, overrides)
        )
        if not args.json:
            for r in runs[-2:]:
                print(
                    f"seed {seed} {r.impl:>4}: {r.steps_per_s:7.0f} steps/s  {r.wall_s:6.1f} s  "
                    f"({r.cpu_steps_per_s:.0f} steps per CPU s)  "
                    f"success {r.success_rate:.0%}  {r.metrics}",
                    flush=True,
                )

    def summary(impl: str) -> dict[str, Any]:
        mine = [r for r in runs if r.impl == impl]
        return {
            "steps_per_s": float(np.mean([r.steps_per_s for r in mine])),
            "cpu_steps_per_s": float(np.mean([r.cpu_steps_per_s for r in mine])),
            "wall_s": float(np.mean([r.wall_s for r in mine])),
            "success_rate": float(np.mean([r.success_rate for r in mine])),
            "per_seed": [
                r.__dict__ | {"steps_per_s": r.steps_per_s, "cpu_steps_per_s": r.cpu_steps_per_s}
                for r in mine
            ],
        }

    ours, sb3 = summary("ours"), summary("sb3")
    report = {
        "task": task_id,
        "steps": args.steps,
        "seeds": args.seeds,
        "reward": args.reward,
        "eval_episodes": args.eval_episodes,
        "ours": ours,
        "sb3": sb3,
        "speed_ratio": ours["steps_per_s"] / sb3["steps_per_s"],
        # the same ratio in CPU seconds, which other jobs on a shared machine do not skew
        "cpu_speed_ratio": ours["cpu_steps_per_s"] / sb3["cpu_steps_per_s"],
        "success_delta": ours["success_rate"] - sb3["success_rate"],
    }
    if not args.no_write:
        write_results(report)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"{task_id}, {args.steps:,} steps, seeds {args.seeds}: "
            f"ours {ours['steps_per_s']:.0f} steps/s, sb3 {sb3['steps_per_s']:.0f} steps/s, "
            f"speed_ratio {report['speed_ratio']:.2f} (CPU {report['cpu_speed_ratio']:.2f}); "
            f"success ours {ours['success_rate']:.0%} "
            f"vs sb3 {sb3['success_rate']:.0%}"
        )
    return report


if __name__ == "__main__":
    main()
