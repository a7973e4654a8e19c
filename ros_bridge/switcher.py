"""Switching between library policies on the robot: the scene node's core, no ROS imports.

A :class:`PolicySwitcher` holds one :class:`~ros_bridge.runtime.Runtime` per library policy,
all fed the same input messages and ticked on the same clock, so every standby policy has
passed its self-test and is READY when it is chosen. Only the *active* runtime's commands go
out, and only the active runtime can be enabled.

Which policy is active changes only while the vehicle is in a safe state:

* READY: the policy is not flying (nothing was enabled, or it was disabled);
* FALLBACK: the policy has already lost control and the hold commands are going out.

A choice made in any other state (ACTIVE above all: never mid-manoeuvre) waits, pending, and
is applied on the first tick the active runtime is READY or FALLBACK. A switch never enables
anything: the new policy starts READY and needs the operator's explicit enable, like any
policy. The choice comes from the scene selector (:mod:`ros_bridge.scene_choice`, over the
scene-classifier bundle :mod:`ros_bridge.scene_bundle` reads): on each
instruction, with the freshest camera image; an "unsure" selection changes nothing.

The switcher quacks like a Runtime (``on_message``, ``tick``, ``enable``, ``disable``,
``reset``, ``diagnostics``, ``state``, ``fault``), so the policy node drives it unchanged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .messages import Output
from .runtime import Runtime
from .safety import State
from .scene_choice import SceneSelector
from .scene_images import image_from_msg
from .scene_types import Selection

#: States of the active runtime in which the active policy may change.
SAFE_STATES = (State.READY, State.FALLBACK)


@dataclass
class SwitchEvent:
    """A requested change of the active policy and what became of it.

    Attributes:
        t: when it was requested (s).
        target: the policy asked for.
        reason: why (the selection's verdict, or "operator").
        applied_at: when it took effect, ``None`` while pending or if superseded.
        from_policy: the policy active before it took effect.
        from_state: the outgoing runtime's state at that moment (READY or FALLBACK).
    """

    t: float
    target: str
    reason: str
    applied_at: float | None = None
    from_policy: str | None = None
    from_state: str | None = None


@dataclass
class SwitcherLog:
    """Everything the switcher decided, for diagnostics and tests."""

    events: list[SwitchEvent] = field(default_factory=list)
    refusals: list[tuple[float, str]] = field(default_factory=list)
    selections: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class PolicySwitcher:
    """Runs a library of policies on one robot and switches between them safely.

    Args:
        runtimes: policy name -> its runtime (same robot profile, same control rate).
        active: the policy active at start.
        selector: the scene selector that turns image + instruction into a choice (``None``:
            switches only through :meth:`request`).
        image_max_age_s: an image older than this is not used for a selection.
        select_on_image: also select on every image (default: only on instructions, so a
            policy never changes without someone asking).

    Raises:
        ValueError: for an unknown active policy or runtimes at different control rates.
    """

    def __init__(
        self,
        runtimes: dict[str, Runtime],
        active: str,
        selector: SceneSelector | None = None,
        *,
        image_max_age_s: float = 2.0,
        select_on_image: bool = False,
    ) -> None:
        if active not in runtimes:
            raise ValueError(f"active policy {active!r} is not one of {sorted(runtimes)}")
        rates = {name: rt.bundle.control_hz for name, rt in runtimes.items()}
        if len(set(rates.values())) > 1:
            raise ValueError(
                f"the policies run at different control rates {rates}; the node ticks at one "
                "rate, so put only policies of one rate in the package"
            )
        if selector is not None:
            unknown = sorted({c.name for c in selector.cards} - set(runtimes))
            if unknown:
                raise ValueError(f"the selector chooses policies without a runtime: {unknown}")
        self.runtimes = dict(runtimes)
        self.active = active
        self.selector = selector
        self.image_max_age_s = float(image_max_age_s)
        self.select_on_image = bool(select_on_image)
        self.pending: SwitchEvent | None = None
        self.log = SwitcherLog()
        self.last_selection: Selection | None = None
        self._image: tuple[float, np.ndarray] | None = None

    # ------------------------------------------------------------------ Runtime interface
    @property
    def rt(self) -> Runtime:
        """The active runtime."""
        return self.runtimes[self.active]

    @property
    def state(self) -> State:
        return self.rt.state

    @property
    def fault(self) -> str:
        return self.rt.fault

    @property
    def bundle(self) -> Any:
        return self.rt.bundle

    @property
    def profile(self) -> Any:
        return self.rt.profile

    @property
    def policy(self) -> Any:
        return self.rt.policy

    @property
    def watchdog(self) -> Any:
        return self.rt.watchdog

    def on_message(self, role: str, msg: Any, t: float) -> None:
        """Hand an input message to every runtime (standby ones stay warm)."""
        for rt in self.runtimes.values():
            rt.on_message(role, msg, t)

    def tick(self, t: float) -> list[Output]:
        """Apply a pending switch if the state allows, tick every runtime, return the active
        runtime's commands (standby runtimes' idle commands are dropped)."""
        self._apply_pending(t)
        outs: list[Output] = []
        for name, rt in self.runtimes.items():
            got = rt.tick(t)
            if name == self.active:
                outs = got
        return outs

    def enable(self, t: float) -> tuple[bool, str]:
        """Enable the active policy; refused while a switch is pending (the operator would
        enable a policy that is about to be replaced)."""
        if self.pending is not None:
            return False, (
                f"a switch to {self.pending.target!r} is pending; disable, let it apply, then "
                "enable"
            )
        ok, text = self.rt.enable(t)
        return ok, f"{self.active}: {text}"

    def disable(self, t: float) -> tuple[bool, str]:
        ok, text = self.rt.disable(t)
        if ok:
            self._apply_pending(t)  # READY now: a waiting switch takes effect at once
        return ok, f"{self.active}: {text}"

    def reset(self) -> tuple[bool, str]:
        ok, text = self.rt.reset()
        return ok, f"{self.active}: {text}"

    def diagnostics(self, t: float, name: str = "agentic_rl_policy") -> dict[str, Any]:
        """The active runtime's diagnostics plus the switcher's own values."""
        data = self.rt.diagnostics(t, name=name)
        values = data["status"][0]["values"]
        values.append({"key": "active_policy", "value": self.active})
        values.append(
            {"key": "pending_policy", "value": self.pending.target if self.pending else ""}
        )
        values.append({"key": "policies", "value": ",".join(self.runtimes)})
        sel = self.last_selection
        if sel is not None:
            values.append(
                {"key": "last_selection", "value": sel.reasons[-1] if sel.reasons else ""}
            )
        data["status"][0]["message"] += f" [{self.active}]"
        return data

    # ------------------------------------------------------------------ selection
    def on_image(self, msg: Any, t: float) -> Selection | None:
        """Keep the latest camera image (a ``sensor_msgs/Image`` or an RGB array)."""
        img = msg if isinstance(msg, np.ndarray) else image_from_msg(msg)
        self._image = (t, img)
        if self.select_on_image:
            return self.on_instruction("", t)
        return None

    def on_instruction(self, text: str, t: float) -> Selection | None:
        """Select with the instruction and the freshest image; request the chosen policy.

        Returns the selection (``None`` without a selector or any usable input).
        """
        if self.selector is None:
            return None
        image = None
        fresh = self._image is not None and t - self._image[0] <= self.image_max_age_s
        if fresh and self.selector.net is not None:  # a text-only selector ignores images
            image = self._image[1]
        if image is None and not text.strip():
            return None
        sel = self.selector.select(image, text)
        self.log.selections += 1
        self.last_selection = sel
        if sel.unsure or sel.choice is None:
            self.log.refusals.append((t, "; ".join(sel.reasons)))
            return sel
        self.request(sel.choice, t, sel.reasons[-1])
        return sel

    def request(self, target: str, t: float, reason: str = "operator") -> str:
        """Ask for ``target`` to become the active policy.

        Returns:
            "active" (already), "switched" (applied now) or "pending" (waits for a safe state).

        Raises:
            KeyError: for a policy the switcher does not run.
        """
        if target not in self.runtimes:
            raise KeyError(f"no policy {target!r}; the package has {sorted(self.runtimes)}")
        if target == self.active:
            self.pending = None  # a newer choice cancels an older pending one
            return "active"
        if self.pending is not None:
            self.log.events.append(self.pending)  # superseded, never applied
        self.pending = SwitchEvent(t=t, target=target, reason=reason)
        return "switched" if self._apply_pending(t) else "pending"

    def _apply_pending(self, t: float) -> bool:
        ev = self.pending
        if ev is None or self.rt.state not in SAFE_STATES:
            return False
        ev.applied_at, ev.from_policy, ev.from_state = t, self.active, self.rt.state.value
        incoming = self.runtimes[ev.target]
        if incoming.state is State.STOPPED:
            # A standby policy stopped on a fault it had while it was active earlier (it flies
            # nothing now); re-arm its checks so it self-tests again before it can be enabled.
            incoming.reset()
        self.active = ev.target
        self.pending = None
        self.log.events.append(ev)
        return True


def load_switcher(
    library_dir: str | Path,
    profile: Any,
    *,
    active: str | None = None,
    goal: list[float] | None = None,
    backend: str = "auto",
) -> PolicySwitcher:
    """A switcher over the library a generated package carries (``share/<pkg>/library``).

    Args:
        library_dir: folder of ``<name>/`` PolicyBundles and the ``selector/`` folder.
        profile: the robot profile (overrides applied).
        active: the policy active at start (default: the first, by name).
        goal: default goal for every runtime.
        backend: policy and scene-classifier backend (auto, onnxruntime or numpy).

    Raises:
        ValueError: when the folder holds no policy or ``active`` is not one of them.
    """
    from .bundle import load_bundle
    from .scene_bundle import load_scene_bundle, load_selector

    root = Path(library_dir)
    names = sorted(d.name for d in root.iterdir() if (d / "bundle.json").is_file())
    if not names:
        raise ValueError(f"no policies under {root}; generate the package with a library")
    runtimes = {
        n: Runtime(load_bundle(root / n), profile, goal=goal, backend=backend) for n in names
    }
    selector = None
    if (root / "selector" / "selector.json").is_file():
        policies = load_scene_bundle(root / "selector").meta.policies
        cards = [c for c in policies if c.name in runtimes]
        selector = load_selector(root / "selector", cards=cards, backend=backend)
    return PolicySwitcher(runtimes, active or names[0], selector)


#: Topic of operator enable/disable commands in test and field bags (``std_msgs/Bool``).
ENABLE_TOPIC = "/agentic_rl/enable"


@dataclass
class SwitchReplay:
    """What a bag replay through a switcher did, tick by tick.

    Attributes:
        timeline: (t, active policy, active runtime state) per tick.
        log: the switcher's events, refusals and selection count.
    """

    timeline: list[tuple[float, str, str]] = field(default_factory=list)
    log: SwitcherLog = field(default_factory=SwitcherLog)

    def states_at_switches(self) -> list[str]:
        """The outgoing runtime's state at every applied switch."""
        return [e.from_state or "" for e in self.log.events if e.applied_at is not None]


def replay_switching(
    switcher: PolicySwitcher,
    bag: str | Path,
    *,
    image_topic: str = "/camera/image_raw",
    instruction_topic: str = "/agentic_rl_policy/instruction",
    enable_topic: str = ENABLE_TOPIC,
) -> SwitchReplay:
    """Drive a switcher from a recorded bag on the bag's clock (no ROS needed).

    The bag holds the profile's input topics, camera images, instructions and the operator's
    enable commands (``std_msgs/Bool`` on ``enable_topic``: true enables, false disables).
    Ticks run at the policies' control rate from the first message on; each message is handed
    over before the first tick at or after its log time, as in ``ros_bridge.bags.replay``.
    """
    # the bag reader needs rosbags, a development-machine dependency: imported here so the
    # switcher itself stays vendorable into the robot's package
    from .bags import read_bag, resolve_topic

    profile = switcher.profile
    by_topic = {resolve_topic(s.topic): role for role, s in profile.inputs.items()}
    dt = 1.0 / switcher.bundle.control_hz
    out = SwitchReplay(log=switcher.log)
    t0: float | None = None
    k = 0

    def run_ticks(until: float) -> None:
        nonlocal k
        while t0 is not None and t0 + k * dt <= until:
            t = t0 + k * dt
            switcher.tick(t)
            out.timeline.append((t, switcher.active, switcher.state.value))
            k += 1

    last = 0.0
    for m in read_bag(bag):
        if t0 is None:
            t0 = m.t
        run_ticks(m.t - 1e-6)
        if m.topic in by_topic:
            switcher.on_message(by_topic[m.topic], m.msg, m.t)
        elif m.topic == image_topic:
            switcher.on_image(m.msg, m.t)
        elif m.topic == instruction_topic:
            switcher.on_instruction(str(m.msg.data), m.t)
        elif m.topic == enable_topic:
            (switcher.enable if bool(m.msg.data) else switcher.disable)(m.t)
        last = m.t
    run_ticks(last)
    return out
