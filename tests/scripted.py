"""Scripted velocity-mode pilots for the drone tasks, used to exercise success criteria.

Each pilot maps a state snapshot to a normalized velocity-mode action. They are deliberately
simple feedback laws, not tuned policies: if one of them fails, a task became harder or broke.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

State = Mapping[str, np.ndarray]


def _to_action(env, v: np.ndarray, yaw_rate: float = 0.0) -> np.ndarray:
    """World velocity (m/s) and yaw rate (rad/s) -> normalized velocity-mode action."""
    return np.clip(
        np.array(
            [
                v[0] / env.MAX_SPEED,
                v[1] / env.MAX_SPEED,
                v[2] / env.MAX_VZ,
                yaw_rate / env.MAX_YAW_RATE,
            ]
        ),
        -1,
        1,
    )


def _limit(v: np.ndarray, speed: float) -> np.ndarray:
    n = np.linalg.norm(v)
    return v if n <= speed else v * speed / n


def hover(env, s: State) -> np.ndarray:
    return _to_action(env, 2.0 * s["goal_rel"])


def gates(env, s: State) -> np.ndarray:
    rel, n = s["gate_rel"], s["gate_normal"]
    along = -float(rel @ n)  # signed distance past the gate plane (negative before it)
    lateral = rel + along * n
    # line up with the gate axis first, then push through it
    forward = 1.0 if np.linalg.norm(lateral) < 0.12 or along > -0.3 else 0.3
    return _to_action(env, _limit(3.0 * lateral + forward * n, 1.2))


def obstacles(env, s: State) -> np.ndarray:
    v = _limit(1.5 * s["goal_rel"], 0.8)
    for dx, dy in s["obstacle_rel"]:
        d = math.hypot(dx, dy)
        if d < 0.6:  # repel from close pillars, sideways more than backwards
            push = (0.6 - d) / max(d - 0.16, 0.02) * 0.4
            v[:2] -= push * np.array([dx, dy]) / d
            v[:2] += 0.3 * np.array([-dy, dx]) / d * np.sign(dx * v[1] - dy * v[0] + 1e-9)
    return _to_action(env, _limit(v, 0.9))


def wall_landing(env, s: State) -> np.ndarray:
    wall, pad = s["wall_rel"], s["pad_rel"]
    if s["crossed"] < 0.5:
        climb = wall[2] + 0.35  # height to gain above the wall top
        v = np.array([0.8 if climb < 0.1 else 0.0, 0.0, 2.0 * climb])
    else:
        horiz = pad[:2]
        if np.linalg.norm(horiz) > 0.04:
            v = np.array([1.5 * horiz[0], 1.5 * horiz[1], 2.0 * (pad[2] + 0.4) * -1 * -1])
            v[2] = 2.0 * (0.4 - (-pad[2]))  # hold 0.4 m above the pad
        else:
            v = np.array([1.5 * horiz[0], 1.5 * horiz[1], -0.25])
    return _to_action(env, _limit(v, 0.9))


def trajectory(env, s: State) -> np.ndarray:
    # feed-forward the reference velocity and its change over the look-ahead, feed back error
    accel_ff = s["ref_ahead_rel"] - s["ref_rel"] - 0.5 * s["ref_vel"]
    return _to_action(env, s["ref_vel"] + 4.0 * s["ref_rel"] + 2.0 * accel_ff)


def orbit(env, s: State) -> np.ndarray:
    c = s["center_rel"]
    r = math.hypot(c[0], c[1])
    inward = np.array([c[0], c[1]]) / r
    tangent = np.array([inward[1], -inward[0]])
    vh = float(s["cmd_speed"]) * tangent + 2.0 * float(s["radius_error"]) * inward
    # centripetal feed-forward keeps the radius without a steady error
    vh += float(s["cmd_speed"]) ** 2 / r * inward * 0.3
    v = np.array([vh[0], vh[1], 2.0 * c[2]])
    yaw_rate = float(s["cmd_speed"]) / r + 3.0 * float(s["heading_error"])
    return _to_action(env, v, yaw_rate)


PILOTS: dict[str, Callable[..., np.ndarray]] = {
    "agentic_rl/DroneHover-v0": hover,
    "agentic_rl/DroneGates-v0": gates,
    "agentic_rl/DroneObstacles-v0": obstacles,
    "agentic_rl/DroneWallLanding-v0": wall_landing,
    "agentic_rl/DroneTrajectory-v0": trajectory,
    "agentic_rl/DroneOrbit-v0": orbit,
}


def fly(env, seed: int, pilot: Callable[..., np.ndarray] | None = None) -> dict:
    """Fly one episode with the task's pilot; return the final info."""
    pilot = pilot or PILOTS[env.task_spec.id]
    _, info = env.reset(seed=seed)
    while True:
        _, _, term, trunc, info = env.step(pilot(env, info["state"]))
        if term or trunc:
            return info
