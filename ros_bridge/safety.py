"""Safety: the runtime's state machine, input watchdog and the action filter.

States (the node never arms a vehicle and never switches flight modes by itself)::

    WAIT_INPUTS --all inputs fresh--> SELF_TEST --golden pairs match--> READY
    READY --explicit enable (vehicle armed and in its offboard mode)--> ACTIVE
    ACTIVE --disable, or the vehicle disarmed / left its offboard mode--> READY
    ACTIVE --stale input / NaN / geofence / joint limit / status lost--> FALLBACK
    FALLBACK --fallback_s--> STOPPED
    ACTIVE --tilt beyond tilt_kill--> STOPPED        SELF_TEST --mismatch--> STOPPED
    STOPPED --reset--> WAIT_INPUTS

Before that, every state sample passes the plausibility filter (:mod:`ros_bridge.plausibility`):
an implausible one is dropped and counts as stale. The filter runs on every ACTIVE tick, in this order: NaN/inf guard, clip to the training
action bounds, slew-rate limit, then the robot's limits (geofence and altitude box for drones:
no velocity further out of the box; joint position and velocity limits for arms).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from enum import Enum
from typing import Any

import numpy as np


class State(str, Enum):  # noqa: UP042 (StrEnum is 3.11+; we support 3.10)
    WAIT_INPUTS = "WAIT_INPUTS"
    SELF_TEST = "SELF_TEST"
    READY = "READY"
    ACTIVE = "ACTIVE"
    FALLBACK = "FALLBACK"
    STOPPED = "STOPPED"


@dataclass
class SafetyConfig:
    """Safety limits (profile defaults, overridable as ``safety.*`` ROS parameters).

    Attributes:
        staleness_s: an input older than this is stale (WAIT_INPUTS, or FALLBACK when active).
        slew_rate: largest change of a normalized action component per second.
        tilt_kill_deg: drones: tilt beyond this stops all commands at once.
        geofence_margin_m: drones: shrink (positive) or grow the task's flight box by this
            much; at its faces, velocity components pointing further out are zeroed.
        geofence_breach_m: drones: beyond the fenced box by more than this is a breach
            (FALLBACK).
        fallback_s: how long FALLBACK sends its hold commands before STOPPED.
        joint_margin_rad: arms: keep targets this far inside the URDF joint limits.
        velocity_scale: arms: fraction of the URDF joint velocity limits allowed.
        slew_from_zero: 1: after enable the slew limit starts from a zero action (a hold);
            0: from the policy's first action, as the simulator applied it.
        plausible_margin_m: drones: a position further than this outside the task's flight
            box is implausible (dropped).
        plausible_speed_mps: drones: a faster measured speed is implausible.
        plausible_accel_mps2: drones: a faster change of the measured velocity between two
            samples is implausible (plus ``plausible_jump_mps`` of noise).
        plausible_jump_m: drones: slack on the position change between two samples.
        plausible_jump_mps: drones: slack on the velocity change between two samples.
    """

    staleness_s: float = 0.2
    slew_rate: float = 20.0
    tilt_kill_deg: float = 60.0
    geofence_margin_m: float = 0.0
    geofence_breach_m: float = 0.3
    fallback_s: float = 2.0
    joint_margin_rad: float = 0.02
    velocity_scale: float = 0.5
    slew_from_zero: float = 1.0
    plausible_margin_m: float = 2.0
    plausible_speed_mps: float = 10.0
    plausible_accel_mps2: float = 50.0
    plausible_jump_m: float = 0.1
    plausible_jump_mps: float = 0.5

    @classmethod
    def from_dict(cls, values: dict[str, float]) -> SafetyConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown safety settings {unknown}; valid: {sorted(known)}")
        cfg = cls(**{k: float(v) for k, v in values.items()})
        for f in fields(cls):
            value = getattr(cfg, f.name)
            if not math.isfinite(value) or (value < 0 and f.name != "geofence_margin_m"):
                raise ValueError(
                    f"safety.{f.name} must be a finite non-negative number, got {value}"
                )
        return cfg


class Watchdog:
    """Per-topic staleness: the time of the latest sample of each input role."""

    def __init__(self, roles: list[str], limit_s: float) -> None:
        self.roles = list(roles)
        self.limit = limit_s
        self.last: dict[str, float] = {}

    def seen(self, role: str, t: float) -> None:
        self.last[role] = t

    def stale(self, t: float) -> list[str]:
        """Roles with no sample yet or one older than the limit."""
        return [r for r in self.roles if r not in self.last or t - self.last[r] > self.limit]

    def ages(self, t: float) -> dict[str, float]:
        return {r: (t - self.last[r]) if r in self.last else math.inf for r in self.roles}


@dataclass
class FilterResult:
    """What the filter did to one action."""

    action: np.ndarray
    clipped: bool = False
    slew_limited: bool = False
    fenced: bool = False
    limited: bool = False


class ActionFilter:
    """Clip, slew-limit and bound normalized actions.

    Args:
        config: the safety limits.
        low, high: the training action bounds.
        dt: control period, s.
    """

    def __init__(self, config: SafetyConfig, low: np.ndarray, high: np.ndarray, dt: float) -> None:
        self.config = config
        self.low = np.asarray(low, np.float64)
        self.high = np.asarray(high, np.float64)
        self.max_step = config.slew_rate * dt
        self.prev: np.ndarray | None = None

    def reset(self, previous: np.ndarray | None = None) -> None:
        """Forget the last action (the slew limit then starts from ``previous``)."""
        self.prev = None if previous is None else np.array(previous, np.float64)

    def apply(self, action: np.ndarray) -> FilterResult:
        """Clip to the bounds and limit the change from the last action (finite input only)."""
        # minimum/maximum and ndarray.any: np.clip's and np.any's wrappers cost more than
        # the arithmetic on a 4-vector, every tick
        a = np.minimum(np.maximum(action, self.low), self.high)
        res = FilterResult(a, clipped=bool((a != action).any()))
        if self.prev is not None:
            step = a - self.prev
            over = np.abs(step) > self.max_step
            if over.any():
                # only the components that move too fast change (prev + step != a in floats)
                res.action = np.where(over, self.prev + np.sign(step) * self.max_step, a)
                res.slew_limited = True
        self.prev = res.action.copy()
        return res


def fence_velocity(
    v: np.ndarray, pos: np.ndarray, low: np.ndarray, high: np.ndarray
) -> tuple[np.ndarray, bool]:
    """Zero the world-velocity components that point further out of the box [low, high].

    Returns the velocity and whether it was changed.
    """
    out = v.copy()
    outward = ((pos <= low) & (out < 0)) | ((pos >= high) & (out > 0))
    if not outward.any():
        return out, False
    out[outward] = 0.0
    return out, True


def limit_joints(
    target: np.ndarray,
    q: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    max_step: np.ndarray,
) -> tuple[np.ndarray, bool]:
    """Joint targets inside [lower, upper] and at most ``max_step`` from the measured ``q``."""
    out = np.clip(target, q - max_step, q + max_step)
    out = np.clip(out, lower, upper)
    return out, bool(np.any(out != target))


def describe(config: SafetyConfig) -> dict[str, Any]:
    return {f.name: getattr(config, f.name) for f in fields(config)}
