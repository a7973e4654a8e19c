"""The runtime core: messages in, safe commands out. No ROS imports and no clocks.

The caller (the rclpy node, the bag replayer, a test) hands every input message to
:meth:`Runtime.on_message` with its receive time, and calls :meth:`Runtime.tick` at the policy's
control rate with the current time; ``tick`` returns the :class:`~ros_bridge.messages.Output`
records to publish or call. Time is always passed in, so a bag replays on its own clock and a
test can step time by hand.

Per message: decode -> plausibility filter (drones: an implausible sample is dropped and counts
as stale). Per tick: vehicle status gate (armed and in the offboard mode, where the profile
reads a status) -> staleness watchdog -> observation (exactly as in training: units, frames, order; the
normalization is inside the policy) -> NaN guard -> drone tilt kill / geofence -> policy
(onnxruntime or numpy) -> action filter (clip, slew, fence, joint limits) -> adapter command.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import frames
from .bundle import PolicyBundle
from .frames import tilt as tilt_of
from .messages import Output, header
from .observation import NotReady, ObservationBuilder
from .plausibility import PlausibilityFilter, PlausibilityLimits
from .profiles import Profile
from .robots import AdapterError, ArmAdapter, DroneAdapter, make_adapter
from .safety import ActionFilter, SafetyConfig, State, Watchdog, fence_velocity, limit_joints

#: DiagnosticStatus levels.
OK, WARN, ERROR = 0, 1, 2


@dataclass
class Counters:
    """Running counts reported in diagnostics."""

    ticks: int = 0
    active_ticks: int = 0
    clipped: int = 0
    slew_limited: int = 0
    fenced: int = 0
    joint_limited: int = 0
    rejected_messages: int = 0
    implausible: int = 0
    refused_by_vehicle: int = 0
    faults: list[str] = field(default_factory=list)


class Runtime:
    """Runs a PolicyBundle on a robot profile.

    Args:
        bundle: the loaded bundle.
        profile: the robot profile (with any parameter overrides already applied).
        goal: default goal position in the task's world frame (until a goal message arrives);
            ``None`` waits for a goal message when the task observes a goal.
        backend: policy backend: ``auto`` (onnxruntime if installed), ``onnxruntime``, ``numpy``.
        layout: the course for tasks that observe one (a layout as in ``bundle.json``);
            ``None``: the bundle's default layout, with the goal from ``goal`` or a message.

    Raises:
        AdapterError, ObservationError, ValueError: when bundle, profile and settings do not
            fit together (with the reason and the fix).
    """

    def __init__(
        self,
        bundle: PolicyBundle,
        profile: Profile,
        *,
        goal: list[float] | np.ndarray | None = None,
        backend: str = "auto",
        layout: dict[str, Any] | None = None,
    ) -> None:
        self.bundle = bundle
        self.profile = profile
        self.adapter = make_adapter(profile, bundle)
        self.config = SafetyConfig.from_dict(profile.safety)
        self.watchdog = Watchdog(self.adapter.required_inputs(), self.config.staleness_s)
        default_goal = None if goal is None else np.asarray(goal, np.float64)
        self.observation = ObservationBuilder(bundle, self.adapter, default_goal, layout)
        self.policy = bundle.make_policy(backend)
        self.dt = 1.0 / bundle.control_hz
        self.filter = ActionFilter(self.config, bundle.action_low, bundle.action_high, self.dt)
        self.state = State.WAIT_INPUTS
        self.fault = ""
        self.self_test_error = float("nan")
        self.counters = Counters()
        self.last_obs: np.ndarray | None = None
        self.last_action: np.ndarray | None = None
        self._fallback_since = 0.0
        self._waiting_for = ""
        self._pending: list[Output] = []
        self.plausibility: PlausibilityFilter | None = None
        if isinstance(self.adapter, DroneAdapter):
            box = bundle.command["flight_box"]
            m = self.config.geofence_margin_m
            self.fence_low = np.asarray(box["low"], np.float64) + m
            self.fence_high = np.asarray(box["high"], np.float64) - m
            self.breach_low = self.fence_low - self.config.geofence_breach_m
            self.breach_high = self.fence_high + self.config.geofence_breach_m
            self.tilt_kill = np.radians(self.config.tilt_kill_deg)
            c = self.config
            grow = c.plausible_margin_m
            self.plausibility = PlausibilityFilter(
                PlausibilityLimits(
                    low=tuple(float(v) - grow for v in box["low"]),
                    high=tuple(float(v) + grow for v in box["high"]),
                    max_speed=c.plausible_speed_mps,
                    max_accel=c.plausible_accel_mps2,
                    jump_m=c.plausible_jump_m,
                    jump_mps=c.plausible_jump_mps,
                    # twice the staleness limit: the watchdog has flagged the topic by then
                    rebase_s=2.0 * c.staleness_s,
                )
            )
        if isinstance(self.adapter, ArmAdapter):
            a = self.adapter
            lo = a.lower + self.config.joint_margin_rad
            hi = a.upper - self.config.joint_margin_rad
            step = a.vel_limit * self.config.velocity_scale * self.dt

            def limit(target: np.ndarray) -> np.ndarray:
                out, changed = limit_joints(target, a.q, lo, hi, step)
                self.counters.joint_limited += changed
                return out

            a.target_filter = limit

    # ------------------------------------------------------------------ inputs and commands
    def on_message(self, role: str, msg: Any, t: float) -> None:
        """Take one input message (rclpy or rosbags) received at time ``t`` (s).

        Raises:
            KeyError: for a role the profile does not have.
        """
        if role not in self.profile.inputs:
            raise KeyError(f"profile {self.profile.name!r} has no input {role!r}")
        a = self.adapter
        checked = self.plausibility is not None and role in a.state_roles()
        before = a.snapshot() if checked else None
        # decoding replaces arrays: identity tells which ones this message set
        pos, vel, att = (a.pos, a.vel, a.quat) if checked else (None, None, None)
        try:
            a.decode(role, msg, t)
        except AdapterError as exc:
            # An unusable message is not a sample: the watchdog then sees the topic go stale.
            if before is not None:
                a.restore(before)
            self.counters.rejected_messages += 1
            self._note(f"rejected {role} message: {exc}")
            return
        if before is not None and a.has_state():
            why = self.plausibility.check_attitude(a.quat)
            if not why and (a.pos is not pos or a.vel is not vel):
                why = self.plausibility.check(a.pos, a.vel, t)
            if why:
                # Never reaches the network: the state stays as it was, the topic goes stale.
                a.restore(before)
                self.counters.implausible += 1
                self._note(f"implausible {role} sample dropped: {why}")
                return
        if before is not None and a.quat is not att:
            a.quat = frames.bullet_sign(a.quat)  # the sign the simulator would report
        self.watchdog.seen(role, t)

    def new_episode(self) -> None:
        """A simulated bag's episode start: the world was reset, so the next state sample is
        no continuation of the last (the plausibility filter starts afresh)."""
        if self.plausibility is not None:
            self.plausibility.reset()

    def enable(self, t: float) -> tuple[bool, str]:
        """Hand control to the policy (READY -> ACTIVE). Returns (accepted, reason)."""
        if self.state is not State.READY:
            return False, f"cannot enable in state {self.state.value}; it needs READY"
        stale = self.watchdog.stale(t)
        if stale:
            return False, f"inputs are stale: {stale}"
        granted, why = self.adapter.control_granted(t)
        if not granted:
            self.counters.refused_by_vehicle += 1
            return False, f"{why}: arm and switch to the offboard mode first, then enable"
        try:
            self.observation.build()
        except NotReady as exc:
            return False, f"no {exc} yet"
        self.adapter.on_activate(t)
        self.observation.start()  # zero last action, step 0, the task's events start afresh
        # The slew limit starts from a zero action (the vehicle's hold), or, with
        # safety.slew_from_zero = 0, from the policy's first action (as in simulation).
        zero = np.zeros(self.bundle.action_size)
        self.filter.reset(zero if self.config.slew_from_zero else None)
        self.state = State.ACTIVE
        return True, "policy active"

    def disable(self, t: float) -> tuple[bool, str]:
        """Take control back from the policy (ACTIVE -> READY)."""
        if self.state is not State.ACTIVE:
            return False, f"not active (state {self.state.value})"
        self.state = State.READY
        # e.g. the Crazyflie lands: its firmware cuts the motors 2 s after the last setpoint
        self._pending = self.adapter.release(t)
        return True, "policy disabled"

    def reset(self) -> tuple[bool, str]:
        """Leave STOPPED (after a fault was understood): back to WAIT_INPUTS."""
        if self.state is not State.STOPPED:
            return False, f"reset only leaves STOPPED (state {self.state.value})"
        self.state = State.WAIT_INPUTS
        self.fault = ""
        return True, "reset"

    def tick(self, t: float) -> list[Output]:
        """Advance the state machine to time ``t`` and return what to send."""
        self.counters.ticks += 1
        s = self.state
        if s is State.WAIT_INPUTS:
            stale = self.watchdog.stale(t)
            self._waiting_for = ", ".join(stale)
            if stale or not self.adapter.has_state():
                return []
            self.state = State.SELF_TEST
            s = State.SELF_TEST
        if s is State.SELF_TEST:
            ok, msg = self.self_test()
            if not ok:
                self._stop(msg)
                return []
            self.state = State.READY
            s = State.READY
        if s is State.READY:
            pending, self._pending = self._pending, []
            if self.watchdog.stale(t):
                self.state = State.WAIT_INPUTS
                return pending
            return pending + self.adapter.idle(t)
        if s is State.ACTIVE:
            return self._active(t)
        if s is State.FALLBACK:
            if t - self._fallback_since >= self.config.fallback_s:
                self.state = State.STOPPED
                return []
            return self.adapter.fallback(t, False)
        return []

    # ------------------------------------------------------------------ internals
    def self_test(self) -> tuple[bool, str]:
        """Run the golden pairs through the policy (and onnxruntime against numpy)."""
        b = self.bundle
        got = self.policy(b.golden_obs)
        err = float(np.max(np.abs(got - b.golden_action))) if got.size else 0.0
        cross = float(np.max(np.abs(got - self.policy.numpy(b.golden_obs)))) if got.size else 0.0
        self.self_test_error = max(err, cross)
        if not np.isfinite(self.self_test_error) or self.self_test_error > b.golden_atol:
            return False, (
                f"self-test failed: policy output differs from the simulator's golden actions "
                f"by {self.self_test_error:.3g} (> {b.golden_atol}); the bundle files may be "
                "corrupt or the runtime's numerics differ"
            )
        return True, "self-test passed"

    def _active(self, t: float) -> list[Output]:
        granted, why = self.adapter.control_granted(t)
        if granted is None:
            return self._fallback(t, why)
        if not granted:
            # The pilot (or the vehicle's own failsafe) took over: the policy lets go at once.
            self.state = State.READY
            self._note(f"policy released: {why}")
            return self.adapter.release(t) + self.adapter.idle(t)
        stale = self.watchdog.stale(t)
        if stale:
            return self._fallback(t, f"stale inputs: {stale}")
        try:
            obs = self.observation.build()
        except NotReady as exc:
            return self._fallback(t, f"lost {exc}")
        if not np.all(np.isfinite(obs)):
            bad = [
                f.name
                for f in self.bundle.fields
                if not np.all(np.isfinite(obs[f.offset : f.offset + f.size]))
            ]
            return self._fallback(t, f"non-finite observation fields {bad}")
        a = self.adapter
        if isinstance(a, DroneAdapter):
            tilt = tilt_of(a.quat)
            if tilt > self.tilt_kill:
                self._stop(
                    f"tilt kill: tilt {np.degrees(tilt):.0f} deg > {self.config.tilt_kill_deg:g}"
                )
                return []
            if np.any(a.pos < self.breach_low) or np.any(a.pos > self.breach_high):
                return self._fallback(t, f"geofence breach at {np.round(a.pos, 2).tolist()}")
        action = self.policy(obs)
        if not np.all(np.isfinite(action)):
            return self._fallback(t, "policy produced a non-finite action")
        res = self.filter.apply(action)
        act = res.action
        if isinstance(a, DroneAdapter):
            v, fenced = fence_velocity(act[:3], a.pos, self.fence_low, self.fence_high)
            if fenced:
                act = np.concatenate([v, act[3:]])
                self.filter.prev = act.copy()
                self.counters.fenced += 1
        self.counters.clipped += res.clipped
        self.counters.slew_limited += res.slew_limited
        self.counters.active_ticks += 1
        out = a.command(act, t)
        self.observation.advance(act)
        self.last_obs, self.last_action = obs, act
        return out

    def _fallback(self, t: float, reason: str) -> list[Output]:
        self.state = State.FALLBACK
        self.fault = reason
        self._note(reason)
        self._fallback_since = t
        return self.adapter.fallback(t, True)

    def _stop(self, reason: str) -> None:
        self.state = State.STOPPED
        self.fault = reason
        self._note(reason)

    def _note(self, text: str) -> None:
        faults = self.counters.faults
        faults.append(text)
        del faults[:-20]  # keep the latest few for diagnostics

    # ------------------------------------------------------------------ diagnostics
    def diagnostics(self, t: float, name: str = "agentic_rl_policy") -> dict[str, Any]:
        """A ``diagnostic_msgs/DiagnosticArray`` (as fields) describing the runtime now."""
        level = {
            State.WAIT_INPUTS: WARN,
            State.SELF_TEST: OK,
            State.READY: OK,
            State.ACTIVE: OK,
            State.FALLBACK: ERROR,
            State.STOPPED: ERROR if self.fault else WARN,
        }[self.state]
        message = self.state.value + (f": {self.fault}" if self.fault else "")
        if self.state is State.WAIT_INPUTS and self._waiting_for:
            message += f" (waiting for {self._waiting_for})"
        c = self.counters
        ages = self.watchdog.ages(t)
        values = {
            "state": self.state.value,
            "task": self.bundle.task_id,
            "profile": self.profile.name,
            "backend": self.policy.backend,
            "self_test_max_error": f"{self.self_test_error:.3g}",
            "ticks": str(c.ticks),
            "active_ticks": str(c.active_ticks),
            "clipped": str(c.clipped),
            "slew_limited": str(c.slew_limited),
            "fenced": str(c.fenced),
            "joint_limited": str(c.joint_limited),
            "rejected_messages": str(c.rejected_messages),
            "implausible": str(c.implausible),
            "refused_by_vehicle": str(c.refused_by_vehicle),
            **{f"age.{role}": f"{age:.3f}" for role, age in ages.items()},
            "last_fault": c.faults[-1] if c.faults else "",
        }
        return {
            "header": header(t, ""),
            "status": [
                {
                    "level": level,
                    "name": name,
                    "message": message,
                    "hardware_id": self.profile.name,
                    "values": [{"key": k, "value": v} for k, v in values.items()],
                }
            ],
        }
