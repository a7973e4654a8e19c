"""Replay a recorded input bag through the runtime core on the bag's own clock.

The runtime gets exactly what the node would get on the robot (same decode, plausibility
filter, vehicle-status gate, watchdog, policy and filters); the commands it would have sent go
to an output bag with ``/diagnostics`` and the policy's normalized actions.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..bundle import PolicyBundle
from ..profiles import Profile
from ..runtime import Runtime
from ..safety import State
from .io import (
    ACTION_TOPIC,
    ACTION_TYPE,
    DIAGNOSTICS_TOPIC,
    EPISODE_TOPIC,
    BagError,
    BagWriter,
    bag_topics,
    build,
    px4_version_of,
    read_bag,
    resolve_topic,
)


@dataclass
class ReplayResult:
    """Summary of a replay."""

    ticks: int = 0
    active_ticks: int = 0
    commands: int = 0
    episodes: int = 0
    final_state: str = ""
    faults: list[str] = field(default_factory=list)
    states: dict[str, int] = field(default_factory=dict)
    safety: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def replay(
    bundle: PolicyBundle,
    profile: Profile,
    bag_in: str | Path,
    bag_out: str | Path,
    *,
    goal: list[float] | None = None,
    layout: dict[str, Any] | None = None,
    enable: bool = True,
    storage: str = "mcap",
    backend: str = "auto",
    diagnostics_hz: float = 1.0,
) -> ReplayResult:
    """Run the runtime on a recorded input bag on the bag's clock; write its commands.

    Ticks run at the policy's control rate from the first input message on. Each message is
    handed to the runtime before the first tick at or after its log time. With ``enable`` the
    policy is enabled as soon as the runtime is READY, and again at each episode start marked
    in a simulated bag (the simulator resets there, and so does the policy's memory).

    Returns:
        A :class:`ReplayResult`; the output bag holds the profile's output topics, service
        requests and ``/diagnostics``.
    """
    rt = Runtime(bundle, profile, goal=goal, backend=backend, layout=layout)
    by_topic = {resolve_topic(s.topic): role for role, s in profile.inputs.items()}
    wanted = [*by_topic, EPISODE_TOPIC]
    present = bag_topics(bag_in)
    needed = [resolve_topic(profile.inputs[r].topic) for r in rt.adapter.required_inputs()]
    missing = [t for t in needed if t not in present]
    if missing:
        raise BagError(
            f"bag {bag_in} lacks profile {profile.name!r}'s input topics {missing}; it has "
            f"{sorted(present)} (point a role at another topic with --set topics.<role>=..."
            + (
                ", or --set params.state_input=local_position for a PX4 bag of "
                "VehicleLocalPosition + VehicleAttitude)"
                if profile.adapter == "px4"
                else ")"
            )
        )
    goal_topic = resolve_topic(profile.inputs["goal"].topic) if "goal" in profile.inputs else ""
    sim_bag = EPISODE_TOPIC in present  # a simulated bag: each episode marker holds its course
    if rt.observation.needs_goal and goal is None and goal_topic not in present and not sim_bag:
        raise BagError(
            f"{bundle.task_id} observes a goal, and neither --goal x,y,z nor the bag's "
            f"{goal_topic or 'goal'} topic gives one: the policy would never start"
        )
    px4_version = px4_version_of(profile)
    dt = 1.0 / bundle.control_hz
    result = ReplayResult()
    t0: float | None = None
    k = 0  # ticks run; tick k is at t0 + k * dt (no accumulated rounding over long bags)
    next_diag = -math.inf
    pending_enable = enable
    last_input = 0.0
    action_layout = build(ACTION_TYPE, {}, px4_version).layout
    action_msg = type(build(ACTION_TYPE, {}, px4_version))
    with BagWriter(bag_out, storage, px4_version) as out:

        def run_ticks(until: float) -> None:
            nonlocal k, next_diag, pending_enable
            while t0 is not None and t0 + k * dt <= until:
                t = t0 + k * dt
                outs = rt.tick(t)
                if pending_enable and rt.state is State.READY:
                    ok, _ = rt.enable(t)
                    if ok:
                        pending_enable = False
                        outs = rt.tick(t)
                for o in outs:
                    out.write_output(profile, o, t)
                    result.commands += 1
                if rt.state is State.ACTIVE and rt.last_action is not None:
                    # built directly (no field dict to convert): one per tick of a long bag
                    action = action_msg(layout=action_layout, data=rt.last_action.copy())
                    out.write(ACTION_TOPIC, ACTION_TYPE, action, t)
                result.ticks += 1
                result.active_ticks += rt.state is State.ACTIVE
                result.states[rt.state.value] = result.states.get(rt.state.value, 0) + 1
                if t >= next_diag:
                    out.write(
                        DIAGNOSTICS_TOPIC,
                        "diagnostic_msgs/msg/DiagnosticArray",
                        rt.diagnostics(t),
                        t,
                    )
                    next_diag = t + 1.0 / diagnostics_hz
                k += 1

        for m in read_bag(bag_in, wanted, px4_version):
            if t0 is None and m.topic != EPISODE_TOPIC:
                t0 = m.t  # the clock starts with the first input
            # A message is handed over before the first tick at or after its log time (bag
            # stamps are whole nanoseconds, hence the microsecond of slack).
            run_ticks(m.t - 1e-6)
            if m.topic == EPISODE_TOPIC:
                info = json.loads(m.msg.data)
                if info.get("event") == "start":
                    result.episodes += 1
                    rt.new_episode()  # the simulator reset the world
                    if info.get("layout"):
                        rt.observation.set_layout(info["layout"])  # this episode's course
                    if enable:
                        rt.disable(m.t)
                        if rt.state is State.STOPPED:
                            rt.reset()
                        pending_enable = True
                continue
            rt.on_message(by_topic[m.topic], m.msg, m.t)
            last_input = m.t
        if t0 is not None:
            run_ticks(last_input)  # the bag's last inputs get their tick, then the replay ends
    c = rt.counters
    result.final_state = rt.state.value
    result.faults = list(c.faults)
    result.safety = {
        "clipped": c.clipped,
        "slew_limited": c.slew_limited,
        "fenced": c.fenced,
        "joint_limited": c.joint_limited,
        "rejected_messages": c.rejected_messages,
        "implausible": c.implausible,
        "refused_by_vehicle": c.refused_by_vehicle,
    }
    return result
