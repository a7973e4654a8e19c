"""The adapter base class: goal and input bookkeeping shared by every robot.

An adapter keeps the latest robot state decoded from its inputs (always in the task's
conventions: ENU world, FLU body, (x, y, z, w) quaternions, joints in the policy's order) and
hands it out as a typed :class:`~ros_bridge.measurement.Measurement` (no task field names: the
task's own ``from_measurement`` maps it to what its observation reads), turns
a normalized policy action into the stack's command messages, says what to send while idle
(READY), when the operator takes control back (disable) and on a fault (FALLBACK), and, for
the bag tools, encodes a simulated state as the messages the real stack would publish (the
exact inverse of decoding).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..bundle import PolicyBundle
from ..measurement import Measurement
from ..messages import Output, header, vec3, xyz
from ..profiles import Profile
from ..targets import fits, mismatch


class AdapterError(ValueError):
    """A bundle and profile that do not fit together, or a message the adapter cannot use."""


class JointIndex:
    """Where ``wanted`` joints sit in a JointState's name list (cached per name list)."""

    def __init__(self, wanted: list[str], setting: str) -> None:
        self.wanted = wanted
        self.setting = setting
        self._cache: tuple[tuple[str, ...], list[int]] | None = None

    def __call__(self, names: Any) -> list[int]:
        """Indices of the wanted joints in ``names``.

        Raises:
            AdapterError: naming the joints the message lacks and the setting to fix.
        """
        names = tuple(names)
        if self._cache is None or self._cache[0] != names:
            lookup = {n: i for i, n in enumerate(names)}
            missing = [j for j in self.wanted if j not in lookup]
            if missing:
                raise AdapterError(
                    f"JointState lacks joints {missing} (has {list(names)}); set "
                    f"{self.setting} to your robot's joint names"
                )
            self._cache = (names, [lookup[j] for j in self.wanted])
        return self._cache[1]


class Adapter:
    """Base class: latest goal and input bookkeeping shared by every robot."""

    robot: ClassVar[str]

    def __init__(self, profile: Profile, bundle: PolicyBundle) -> None:
        self.profile = profile
        self.bundle = bundle
        self.params = dict(profile.params)
        self.command_model = bundle.command
        # the command the task declares (its action mode; a joint group's command interface)
        command = {"kind": bundle.meta.action.mode, **self.command_model}
        if not fits(profile, command):
            raise AdapterError(mismatch(profile, command, bundle.task_id))
        self.goal: np.ndarray | None = None
        self.dt = 1.0 / bundle.control_hz

    def required_inputs(self) -> list[str]:
        """Input roles that must be fresh before the policy may run."""
        return [r for r, spec in self.profile.inputs.items() if spec.required]

    def state_roles(self) -> set[str]:
        """Input roles carrying the measured state (checked for plausibility)."""
        return set(self.profile.inputs) - {"goal"}

    def decode(self, role: str, msg: Any, t: float) -> None:
        """Fold one message into the state. Raises AdapterError for an unusable message."""
        if role == "goal":
            self.goal = np.array(vec3(msg.point))
            return
        self._decode(role, msg, t)

    def _decode(self, role: str, msg: Any, t: float) -> None:
        raise NotImplementedError

    def snapshot(self) -> dict[str, Any]:
        """The adapter's attributes (decoding replaces arrays, never changes them in place, so
        a shallow copy is the state before a message; restored around a rejected sample)."""
        return dict(vars(self))

    def restore(self, snap: dict[str, Any]) -> None:
        vars(self).update(snap)

    def measurement(self) -> Measurement:
        """The latest decoded state, typed (unmeasured attributes ``None``)."""
        raise NotImplementedError

    def probe(self) -> Measurement:
        """A neutral sample of everything this profile measures (a level robot at rest), to
        check when the runtime is built that the task's observation can run on it."""
        raise NotImplementedError

    def has_state(self) -> bool:
        raise NotImplementedError

    def control_granted(self, t: float) -> tuple[bool | None, str]:
        """Whether the robot stack lets the policy fly now: (True, ""), (False, why: the pilot
        or the vehicle says no), or (None, why: the stack's status is unknown or stale)."""
        return True, ""

    def on_activate(self, t: float) -> None:
        """Called when the policy takes control (resets integrators of a command variant)."""

    def command(self, action: np.ndarray, t: float) -> list[Output]:
        raise NotImplementedError

    def idle(self, t: float) -> list[Output]:
        """What to send in READY (before the explicit enable, and after disable)."""
        return []

    def release(self, t: float) -> list[Output]:
        """What to send once when the operator disables the policy (ACTIVE -> READY)."""
        return []

    def fallback(self, t: float, entering: bool) -> list[Output]:
        """What to send in FALLBACK; ``entering`` is True on its first tick."""
        return []

    def encode_inputs(
        self, m: Measurement, t: float, goal: Any = None
    ) -> list[tuple[str, dict[str, Any]]]:
        """Messages (role, fields) the robot stack would publish for a simulated measurement
        (and ``goal``, a world position, on the goal topic when the profile has one)."""
        raise NotImplementedError

    def goal_input(self, goal: Any, t: float, frame: str) -> list[tuple[str, dict[str, Any]]]:
        """The goal message for ``goal`` (none without a goal or a goal topic)."""
        if goal is None or "goal" not in self.profile.inputs:
            return []
        return [("goal", {"header": header(t, frame), "point": xyz(goal)})]

    def _out(self, role: str, data: dict[str, Any]) -> Output:
        return Output("topic", role, self.profile.outputs[role].type, data)
