"""Plausibility of a drone's measured state, checked before anything reaches the policy.

Real estimators glitch: visual odometry reports 22 m/s for one sample, an estimator reset
moves the position by metres, a vehicle carried by hand leaves the flight box. A network
trained in simulation has never seen such inputs and answers them with full-scale commands.
So every state sample is checked here first; an implausible one is dropped as if it never
arrived: it updates nothing, and the input watchdog sees the topic go stale (WAIT_INPUTS in
READY, FALLBACK when the policy is active).

Checks, each against a ``safety.*`` limit:

* finite position, velocity and a unit attitude quaternion;
* position inside the task's flight box grown by ``plausible_margin_m``;
* speed at most ``plausible_speed_mps``;
* rate of change against the last accepted sample (``dt`` before): the position is at most
  ``plausible_accel_mps2 * dt**2 / 2 + plausible_jump_m`` from where that sample's velocity
  would have carried it, the velocity changed at most
  ``plausible_accel_mps2 * dt + plausible_jump_mps``.

After an estimator reset every new sample disagrees with the last accepted one. Once that one
is older than ``rebase_s`` (twice the staleness limit: the runtime has stopped using it) the
next sample that passes the absolute checks is accepted as the new reference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PlausibilityLimits:
    """Bounds of a plausible state sample (see the module docstring)."""

    low: tuple[float, float, float]
    high: tuple[float, float, float]
    max_speed: float
    max_accel: float
    jump_m: float
    jump_mps: float
    rebase_s: float


class PlausibilityFilter:
    """Accepts or rejects position/velocity samples, remembering the last accepted one."""

    def __init__(self, limits: PlausibilityLimits) -> None:
        self.limits = limits
        self._last: tuple[float, np.ndarray, np.ndarray] | None = None

    def reset(self) -> None:
        """Forget the last accepted sample (a simulated bag's episode start moved the robot)."""
        self._last = None

    @staticmethod
    def check_attitude(quat: np.ndarray) -> str:
        """Why an attitude is implausible (non-finite, not a unit quaternion), or ``""``."""
        # plain floats: this runs on every message, and numpy's per-call cost dominates
        norm = math.sqrt(sum(float(c) * float(c) for c in quat))
        if not math.isfinite(norm):
            return "non-finite attitude"
        return f"attitude quaternion of norm {norm:.3g}" if abs(norm - 1.0) > 0.05 else ""

    def check(self, pos: np.ndarray, vel: np.ndarray, t: float) -> str:
        """Why the sample at ``t`` is implausible, or ``""`` when it is accepted (and kept)."""
        lim = self.limits
        px, py, pz = (float(c) for c in pos)
        vx, vy, vz = (float(c) for c in vel)
        if not all(math.isfinite(c) for c in (px, py, pz, vx, vy, vz)):
            return "non-finite position or velocity"
        lo, hi = lim.low, lim.high
        if not (lo[0] <= px <= hi[0] and lo[1] <= py <= hi[1] and lo[2] <= pz <= hi[2]):
            return (
                f"position {[round(px, 2), round(py, 2), round(pz, 2)]} outside the plausible box"
            )
        speed = math.sqrt(vx * vx + vy * vy + vz * vz)
        if speed > lim.max_speed:
            return f"speed {speed:.3g} m/s > {lim.max_speed:g}"
        if self._last is not None:
            t0, (qx, qy, qz), (ux, uy, uz) = self._last
            dt = max(t - t0, 0.0)
            if dt <= lim.rebase_s:
                jump = math.sqrt(
                    (px - qx - ux * dt) ** 2 + (py - qy - uy * dt) ** 2 + (pz - qz - uz * dt) ** 2
                )
                if jump > 0.5 * lim.max_accel * dt * dt + lim.jump_m:
                    return f"position jumped {jump:.3g} m in {dt:.3g} s"
                dv = math.sqrt((vx - ux) ** 2 + (vy - uy) ** 2 + (vz - uz) ** 2)
                if dv > lim.max_accel * dt + lim.jump_mps:
                    return f"velocity jumped {dv:.3g} m/s in {dt:.3g} s"
        self._last = (t, (px, py, pz), (vx, vy, vz))
        return ""
