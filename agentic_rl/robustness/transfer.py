"""Sim-to-sim transfer check: the policy in physics it was not trained in, and the gap.

Reality is not one of the simulator's randomization draws: a payload adds mass, motors wear,
prop guards add drag, the floor pushes back (ground effect), and the deployed runtime filters
actions. Each of these is a named :class:`PhysicsConfig` here; the check evaluates the policy
in every one over the same seeded episodes as nominal physics and reports the success gap
(nominal minus config), so a user sees before flying which change the policy does not survive.

Drone tasks get configurations written for the Crazyflie (other motor constants, mass, drag,
ground effect on, motor lag, the ROS runtime's action filter, and all of them at once); any
other task gets one configuration per randomization parameter just beyond its default range.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

import sims
from agentic_rl.robustness.rollout import ActFn, EpisodeRunner, PolicyUnderTest
from agentic_rl.seeds import SWEEP
from sims.spec import TaskSpec


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PhysicsConfig(_Model):
    """A physics configuration to evaluate in.

    Attributes:
        name: short identifier.
        description: what it stands for on a real robot.
        params: randomization parameters pinned to these values (others nominal).
        env_kwargs: task constructor arguments (e.g. ``{"ground_effect": True}``).
        action_filter: put the ROS runtime's action filter (clip + slew-rate limit, from
            ``ros_bridge.safety``) between policy and simulator, as on the robot.
    """

    name: str
    description: str
    params: dict[str, float] = Field(default_factory=dict)
    env_kwargs: dict[str, Any] = Field(default_factory=dict)
    action_filter: bool = False


class TransferRow(_Model):
    """The policy in one configuration."""

    config: PhysicsConfig
    success_rate: float
    gap: float = Field(description="Nominal success minus success here (positive = worse).")
    termination_reasons: dict[str, int] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict)
    in_training_ranges: bool | None = Field(
        None,
        description="Whether the training randomization covered this physics (None: unknown).",
    )


class TransferResult(_Model):
    """The ``transfer`` part of ``robustness.json``."""

    task_id: str
    episodes: int
    seed: int
    nominal_success: float
    nominal_metrics: dict[str, float] = Field(default_factory=dict)
    rows: list[TransferRow] = Field(default_factory=list)
    wall_time: float = 0.0

    @property
    def worst(self) -> TransferRow | None:
        """The configuration with the largest gap."""
        return max(self.rows, key=lambda r: r.gap, default=None)


#: Drone configurations: values chosen as plausible real deviations *outside* the spec's
#: default randomization ranges (mass 0.8-1.2, motors 0.85-1.15, drag 0.5-1.5, lag 20-50 ms).
DRONE_CONFIGS: tuple[PhysicsConfig, ...] = (
    PhysicsConfig(
        name="payload",
        description="+25% mass: a 7 g deck or marker set on the 27 g Crazyflie.",
        params={"mass": 1.25},
    ),
    PhysicsConfig(
        name="worn_motors",
        description="-20% thrust and torque coefficients: worn brushed motors, chipped props.",
        params={"motor_thrust": 0.8, "motor_torque": 0.8},
    ),
    PhysicsConfig(
        name="strong_motors",
        description="+20% thrust and torque coefficients: new motors or larger props.",
        params={"motor_thrust": 1.2, "motor_torque": 1.2},
    ),
    PhysicsConfig(
        name="prop_guards",
        description="2.5x linear drag: prop guards and a cage.",
        params={"drag": 2.5},
    ),
    PhysicsConfig(
        name="ground_effect",
        description="Ground effect on (Cheeseman-Bennett, up to +50% thrust near the floor).",
        env_kwargs={"ground_effect": True},
    ),
    PhysicsConfig(
        name="slow_motors",
        description="80 ms motor time constant (a sluggish ESC or a heavier rotor).",
        params={"motor_lag": 0.08},
    ),
    PhysicsConfig(
        name="ros_filter",
        description="The ROS runtime's action filter (clip, 20/s slew-rate limit) in the loop.",
        action_filter=True,
    ),
    PhysicsConfig(
        name="all_together",
        description="Payload, worn motors, prop guards, ground effect, 20 ms latency, "
        "onboard-estimate sensor noise and the ROS action filter at once.",
        params={
            "mass": 1.15,
            "motor_thrust": 0.9,
            "motor_torque": 0.9,
            "drag": 2.0,
            "action_delay": 0.02,
            "sensor_noise": 1.0,
        },
        env_kwargs={"ground_effect": True},
        action_filter=True,
    ),
)

_DRONE_PARAMS = {"mass", "motor_thrust", "motor_torque", "drag", "motor_lag"}


def _accepts(task_id: str, kwarg: str) -> bool:
    cls = sims.task_class(task_id)
    return kwarg in inspect.signature(cls.__init__).parameters


def default_configs(spec: TaskSpec) -> list[PhysicsConfig]:
    """The configurations :func:`transfer_check` uses when none are given.

    Drone tasks (the Crazyflie parameters present, ``ground_effect`` accepted) get
    :data:`DRONE_CONFIGS`; any other task one configuration per randomization parameter at
    1.5x its default range's extent from nominal (clipped to the hard limit), on the side that
    moves away from nominal the most, plus the ROS action filter.
    """
    names = {p.name for p in spec.randomization}
    if names >= _DRONE_PARAMS and _accepts(spec.id, "ground_effect"):
        return list(DRONE_CONFIGS)
    configs = []
    for p in spec.randomization:
        up, down = p.high - p.nominal, p.nominal - p.low
        if up >= down:
            value = min(p.hard_high, p.nominal + 1.5 * up)
        else:
            value = max(p.hard_low, p.nominal - 1.5 * down)
        if value == p.nominal:
            continue
        configs.append(
            PhysicsConfig(
                name=f"{p.name}_beyond",
                description=f"{p.name} = {value:g} {p.unit}, beyond the default range "
                f"[{p.low:g}, {p.high:g}]: {p.description}",
                params={p.name: float(f"{value:.6g}")},
            )
        )
    configs.append(
        PhysicsConfig(
            name="ros_filter",
            description="The ROS runtime's action filter (clip, slew-rate limit) in the loop.",
            action_filter=True,
        )
    )
    return configs


def ros_action_filter(spec: TaskSpec) -> Callable[[ActFn], ActFn]:
    """Per-episode wrapper: the policy's action through ``ros_bridge``'s :class:`ActionFilter`
    with the runtime's default safety settings, as the deployed node would send it."""
    from ros_bridge.safety import ActionFilter, SafetyConfig

    low, high = np.asarray(spec.action.low), np.asarray(spec.action.high)
    dt = 1.0 / spec.control_hz

    def wrap(act: ActFn) -> ActFn:
        flt = ActionFilter(SafetyConfig(), low, high, dt)

        def filtered(obs: np.ndarray) -> np.ndarray:
            return flt.apply(act(obs)).action

        return filtered

    return wrap


def _inside(
    config: PhysicsConfig, spec: TaskSpec, ranges: Mapping[str, tuple[float, float]] | None
) -> bool | None:
    if ranges is None:
        return None
    if config.env_kwargs or config.action_filter:
        return False  # the trainer never builds envs with these
    for name, value in config.params.items():
        lo, hi = ranges.get(name, (spec.param(name).nominal,) * 2)
        if not lo <= value <= hi:
            return False
    return True


def transfer_check(
    policy: PolicyUnderTest,
    configs: list[PhysicsConfig] | None = None,
    *,
    episodes: int = 20,
    seed: int = SWEEP.base,
    progress: bool = False,
) -> TransferResult:
    """Evaluate a policy in physics configurations it was not trained in.

    Args:
        policy: the policy under test.
        configs: the configurations; default :func:`default_configs` of the task.
        episodes: seeded episodes per configuration (the same seeds everywhere).
        seed: first episode seed.
        progress: print one line per configuration (for the CLI).

    Returns:
        A :class:`TransferResult` with each configuration's success and its gap to nominal.
    """
    start = time.perf_counter()
    spec = sims.get_spec(policy.task_id, policy.action_mode)
    configs = default_configs(spec) if configs is None else configs
    seeds = range(seed, seed + episodes)
    train_ranges = policy.train_ranges()
    runners: dict[str, EpisodeRunner] = {}

    def runner_for(config: PhysicsConfig) -> EpisodeRunner:
        # one env per distinct constructor configuration (building one costs a world build)
        key = repr(sorted(config.env_kwargs.items())) + str(config.action_filter)
        if key not in runners:
            actor = ros_action_filter(spec) if config.action_filter else None
            runners[key] = EpisodeRunner(policy, config.env_kwargs, actor)
        return runners[key]

    try:
        nominal = runner_for(PhysicsConfig(name="nominal", description="")).run(seeds)
        result = TransferResult(
            task_id=spec.id,
            episodes=episodes,
            seed=seed,
            nominal_success=nominal.success_rate,
            nominal_metrics=nominal.mean_metrics(),
        )
        for config in configs:
            ev = runner_for(config).run(seeds, config.params or None)
            row = TransferRow(
                config=config,
                success_rate=ev.success_rate,
                gap=nominal.success_rate - ev.success_rate,
                termination_reasons=ev.termination_reasons,
                metrics=ev.mean_metrics(),
                in_training_ranges=_inside(config, spec, train_ranges),
            )
            result.rows.append(row)
            if progress:
                print(
                    f"  {config.name:>14}: {row.success_rate:.0%} success "
                    f"(gap {row.gap:+.0%} vs nominal)",
                    flush=True,
                )
    finally:
        for r in runners.values():
            r.close()
    result.wall_time = time.perf_counter() - start
    return result
