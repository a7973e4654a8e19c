"""Simulated rollouts of a PolicyBundle written as a rosbag2 with a robot profile's topics.

The bag looks like a flight log of the real stack: each control step writes the messages the
profile's inputs carry (encoded from the simulator's state by the profile's adapter, the exact
inverse of what the runtime decodes) and the commands the policy sent, at the policy's control
rate on a simulated clock. Episode starts and outcomes are marked on ``/agentic_rl/episode``.
Replaying the inputs through ``ros_bridge.bags.replay`` must reproduce the commands; comparing
the bag against a real flight with ``ros_bridge.bags.compare`` measures the sim-to-real gap.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from agentic_rl import seeds
from sims.rollout import run_episodes


@dataclass
class RecordResult:
    """What :func:`record_sim` wrote."""

    bag: str
    episodes: int
    steps: int
    successes: list[bool] = field(default_factory=list)
    termination_reasons: list[str] = field(default_factory=list)


class _Measured(gym.Wrapper):
    """Keeps each episode's layout and what the robot measures after the reset and each step
    (the task's ``to_measurement`` of its robot state)."""

    def __init__(self, env: Any, measure: Callable[[dict[str, Any]], Any]) -> None:
        super().__init__(env)
        self.measure = measure
        self.episodes: list[tuple[dict[str, Any], list[Any]]] = []

    def reset(self, **kwargs: Any) -> Any:
        out = self.env.reset(**kwargs)
        task = self.env.unwrapped
        layout = json.loads(json.dumps(getattr(task, "layout", {}) or {}))
        self.episodes.append((layout, [self.measure(task.robot_state())]))
        return out

    def step(self, action: Any) -> Any:
        out = self.env.step(action)
        self.episodes[-1][1].append(self.measure(self.env.unwrapped.robot_state()))
        return out


def record_sim(
    bundle_dir: str | Path,
    out: str | Path,
    *,
    task: str | None = None,
    profile: str = "generic_drone",
    episodes: int = 1,
    seed: int = seeds.RECORD.base,
    storage: str = "mcap",
    randomize: bool = False,
    overrides: dict[str, Any] | None = None,
) -> RecordResult:
    """Roll the bundle's policy out in simulation and write a rosbag2.

    Args:
        bundle_dir: the PolicyBundle folder.
        out: the bag folder to create.
        task: task to simulate (default: the bundle's task).
        profile: robot profile name or YAML path whose topics the bag uses.
        episodes: number of episodes, seeds ``seed, seed + 1, ...``.
        seed: first episode seed.
        storage: ``mcap``, ``sqlite3`` or ``sqlite3-humble``.
        randomize: sample the task's domain randomization each episode.
        overrides: flat profile overrides (``topics.odometry`` ...).

    Returns:
        A :class:`RecordResult`.
    """
    import sims
    from ros_bridge import bags, load_bundle, load_profile
    from ros_bridge.measurement import Measurement
    from ros_bridge.observation import GOAL_KEY
    from ros_bridge.robots import make_adapter

    bundle = load_bundle(bundle_dir)
    prof = load_profile(profile)
    if overrides:
        prof = prof.with_overrides(overrides)
    # The command side uses an adapter of its own, fed the same messages that go into the bag,
    # so the recorded commands are exactly what the profile sends for the simulator's actions.
    adapter = make_adapter(prof, bundle)
    policy = bundle.make_policy()
    task_id = task or sims.recall(bundle.task_id, bundle.meta.task.path)
    env = sims.make(task_id, action_mode=bundle.meta.action.mode, randomize=randomize)
    if env.task_spec.obs_size != bundle.obs_size:
        env.close()
        raise ValueError(
            f"task {task_id} has {env.task_spec.obs_size} observation values; the bundle's "
            f"policy takes {bundle.obs_size}"
        )
    to_measurement = env.unwrapped.to_measurement
    if to_measurement is None:
        env.close()
        raise ValueError(
            f"task {task_id} declares no to_measurement (robot state -> measurement), so its "
            "simulated states cannot be written as robot messages"
        )
    dt = 1.0 / bundle.control_hz
    inputs = {role: (bags.resolve_topic(s.topic), s.type, s.qos) for role, s in prof.inputs.items()}
    measured = _Measured(env, lambda rs: Measurement.from_values(to_measurement(rs)))
    try:
        runs = run_episodes(
            measured,
            lambda obs: np.asarray(policy(obs), np.float64),
            range(seed, seed + episodes),
            record=True,
        )
    finally:
        env.close()
    result = RecordResult(bag=str(out), episodes=episodes, steps=sum(r.length for r in runs))
    # Bag stamps are unsigned: start the simulated clock at 1 s so markers before t can exist.
    t = 1.0
    with bags.BagWriter(out, storage, bags.px4_version_of(prof)) as writer:

        def write_state(m: Any, goal: Any, now: float) -> None:
            for role, data in adapter.encode_inputs(m, now, goal):
                topic, typename, qos = inputs[role]
                msg = bags.build(typename, data, writer.px4_version)
                writer.write(topic, typename, msg, now, qos)
                adapter.decode(role, msg, now)

        for ep, run in enumerate(runs):
            # each episode's course (goal, gates, ...), for the replay to observe the same one
            layout, states = measured.episodes[ep]
            goal = layout.get(GOAL_KEY)
            marker = {
                "event": "start",
                "episode": ep,
                "seed": run.seed,
                "task": task_id,
                "layout": layout,
            }
            writer.write(
                bags.EPISODE_TOPIC, "std_msgs/msg/String", {"data": json.dumps(marker)}, t - dt / 2
            )
            write_state(states[0], goal, t)
            adapter.on_activate(t)
            for action, state in zip(run.actions, states[1:], strict=True):
                writer.write(
                    bags.ACTION_TOPIC,
                    "std_msgs/msg/Float64MultiArray",
                    {"data": action.tolist()},
                    t,
                )
                for o in adapter.command(action, t):
                    writer.write_output(prof, o, t)
                t += dt
                write_state(state, goal, t)
            end = {
                "event": "end",
                "episode": ep,
                "success": run.success,
                "termination_reason": run.reason,
                "task_metrics": run.metrics,
            }
            writer.write(
                bags.EPISODE_TOPIC, "std_msgs/msg/String", {"data": json.dumps(end)}, t + dt / 4
            )
            result.successes.append(run.success)
            result.termination_reasons.append(str(run.reason))
            t += dt
    return result
