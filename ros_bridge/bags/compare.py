"""Sim-to-real agreement of two bags: trajectory RMSE, command error, success agreement.

Reads any bag the robot stacks write (embedded definitions first, see :mod:`.io`): positions
from odometry, pose, PX4 VehicleOdometry or VehicleLocalPosition, joint states; commands from
every profile's output types.

When one bag is ``ros replay`` of the other (a simulated bag replayed through the runtime), the
two carry commands at the very same ticks, and :func:`command_parity` compares them tick by
tick: the parity check between simulator and robot runtime, with no resampling in between.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import frames
from .io import ACTION_TOPIC, EPISODE_TOPIC, BagError, read_bag


def position_of(typename: str, msg: Any) -> np.ndarray | None:
    """The robot's position (ENU, m) or joint angles carried by an input message."""
    if typename == "px4_msgs/msg/VehicleOdometry":
        return frames.ned_to_enu(msg.position)
    if typename == "px4_msgs/msg/VehicleLocalPosition":
        return frames.ned_to_enu([msg.x, msg.y, msg.z])
    if typename == "nav_msgs/msg/Odometry":
        p = msg.pose.pose.position
        return np.array([p.x, p.y, p.z])
    if typename == "geometry_msgs/msg/PoseStamped":
        p = msg.pose.position
        return np.array([p.x, p.y, p.z])
    if typename == "sensor_msgs/msg/JointState":
        return np.asarray(msg.position, np.float64)
    return None


def command_of(typename: str, msg: Any) -> np.ndarray | None:
    """The command carried by an output message as a vector (velocity + yaw rate, or joints)."""
    if typename == "px4_msgs/msg/TrajectorySetpoint":
        # velocity setpoints; a position hold (FALLBACK) carries NaN velocity and yaw rate
        return np.concatenate([frames.ned_to_enu(msg.velocity), [-float(msg.yawspeed)]])
    if typename == "geometry_msgs/msg/TwistStamped":
        msg = msg.twist
        typename = "geometry_msgs/msg/Twist"
    if typename == "geometry_msgs/msg/Twist":
        return np.array([msg.linear.x, msg.linear.y, msg.linear.z, msg.angular.z])
    if typename == "crazyflie_interfaces/msg/FullState":
        tw = msg.twist
        return np.array([tw.linear.x, tw.linear.y, tw.linear.z, tw.angular.z])
    if typename == "crazyflie_interfaces/msg/Hover":
        return np.array([msg.vx, msg.vy, msg.yaw_rate, msg.z_distance])
    if typename == "trajectory_msgs/msg/JointTrajectory":
        return np.asarray(msg.points[0].positions, np.float64) if msg.points else None
    if typename == "std_msgs/msg/Float64MultiArray":
        return np.asarray(msg.data, np.float64)
    return None


@dataclass
class Episode:
    start: float
    success: bool | None = None
    times: list[float] = field(default_factory=list)
    positions: list[np.ndarray] = field(default_factory=list)
    cmd_times: list[float] = field(default_factory=list)
    commands: list[np.ndarray] = field(default_factory=list)


def episodes_of(path: str | Path) -> list[Episode]:
    """Split a bag into episodes (at simulated-bag markers; a real log is one episode)."""
    eps: list[Episode] = []
    for m in read_bag(path):
        if m.topic == EPISODE_TOPIC:
            info = json.loads(m.msg.data)
            if info.get("event") == "start":
                eps.append(Episode(start=m.t))
            elif info.get("event") == "end" and eps:
                eps[-1].success = bool(info.get("success"))
            continue
        if m.topic == ACTION_TOPIC:  # the policy's normalized actions, not a robot command
            continue
        pos = position_of(m.type, m.msg)
        cmd = command_of(m.type, m.msg) if pos is None else None
        if pos is None and cmd is None:
            continue
        if not eps:
            eps.append(Episode(start=m.t))
        ep = eps[-1]
        if pos is not None:
            ep.times.append(m.t - ep.start)
            ep.positions.append(pos)
        else:
            ep.cmd_times.append(m.t - ep.start)
            ep.commands.append(cmd)
    return eps


def commands_at_ticks(path: str | Path) -> dict[tuple[str, float], np.ndarray]:
    """Every command and normalized policy action of a bag, by (topic, time to the us)."""
    out: dict[tuple[str, float], np.ndarray] = {}
    for m in read_bag(path):
        if m.topic == ACTION_TOPIC:
            out[(m.topic, round(m.t, 6))] = np.asarray(m.msg.data, np.float64)
        elif m.topic != EPISODE_TOPIC and position_of(m.type, m.msg) is None:
            cmd = command_of(m.type, m.msg)
            if cmd is not None:
                out[(m.topic, round(m.t, 6))] = np.asarray(cmd, np.float64)
    return out


def command_parity(replayed: str | Path, sim: str | Path) -> dict[str, Any] | None:
    """Tick-matched command difference between a replay and the simulated bag it replayed.

    Returns:
        ``{"commands", "missing", "max_abs", "worst_topic", "worst_t"}`` over every command and
        action of ``sim`` (``missing``: those the replay has no command for at that tick), or
        ``None`` when the bags share no command tick (a real flight against a simulation).
    """
    rep, ref = commands_at_ticks(replayed), commands_at_ticks(sim)
    shared = [k for k in ref if k in rep]
    if not shared:
        return None
    diffs = {}
    for k in shared:
        if rep[k].shape != ref[k].shape:
            raise BagError(
                f"{k[0]} carries {rep[k].shape} in one bag and {ref[k].shape} in the other"
            )
        diffs[k] = float(np.max(np.abs(rep[k] - ref[k]), initial=0.0))
    worst = max(diffs, key=diffs.__getitem__)
    return {
        "commands": len(shared),
        "missing": len(ref) - len(shared),
        "max_abs": diffs[worst],
        "worst_topic": worst[0],
        "worst_t": worst[1],
    }


def _resampled_rmse(
    t_a: list[float], x_a: list[np.ndarray], t_b: list[float], x_b: list[np.ndarray], hz: float
) -> float | None:
    if len(t_a) < 2 or len(t_b) < 2:
        return None
    end = min(t_a[-1], t_b[-1])
    start = max(t_a[0], t_b[0])
    if end <= start:
        return None
    grid = np.arange(start, end, 1.0 / hz)
    a, b = np.asarray(x_a), np.asarray(x_b)
    if a.shape[1:] != b.shape[1:]:
        raise BagError(
            f"the two bags carry differently sized vectors: {a.shape[1:]} vs {b.shape[1:]}"
        )
    ia = np.stack([np.interp(grid, t_a, a[:, k]) for k in range(a.shape[1])], 1)
    ib = np.stack([np.interp(grid, t_b, b[:, k]) for k in range(b.shape[1])], 1)
    return float(np.sqrt(np.mean(np.sum((ia - ib) ** 2, axis=1))))


def compare(real: str | Path, sim: str | Path, *, hz: float = 50.0) -> dict[str, Any]:
    """Sim-to-real agreement of two bags, episode by episode (in order).

    Returns:
        ``{"episodes", "trajectory_rmse", "command_rmse", "success_agreement",
        "per_episode": [...], "command_parity"}``; a metric is ``None`` when neither bag pair
        has the data (e.g. success needs episode markers in both bags; ``command_parity``
        needs commands at the same ticks, see :func:`command_parity`).
    """
    ra, sa = episodes_of(real), episodes_of(sim)
    n = min(len(ra), len(sa))
    if n == 0:
        raise BagError(
            f"no robot positions found in {real if not ra else sim}: the bags need odometry, "
            "pose or joint-state topics"
        )
    per = []
    for i in range(n):
        r, s = ra[i], sa[i]
        per.append(
            {
                "episode": i,
                "trajectory_rmse": _resampled_rmse(r.times, r.positions, s.times, s.positions, hz),
                "command_rmse": _resampled_rmse(
                    r.cmd_times, r.commands, s.cmd_times, s.commands, hz
                ),
                "success_real": r.success,
                "success_sim": s.success,
                "duration_real": r.times[-1] if r.times else 0.0,
                "duration_sim": s.times[-1] if s.times else 0.0,
            }
        )

    def mean(key: str) -> float | None:
        vals = [p[key] for p in per if p[key] is not None]
        return float(np.mean(vals)) if vals else None

    pairs = [
        (p["success_real"], p["success_sim"])
        for p in per
        if None not in (p["success_real"], p["success_sim"])
    ]
    return {
        "episodes": n,
        "episodes_real": len(ra),
        "episodes_sim": len(sa),
        "trajectory_rmse": mean("trajectory_rmse"),
        "command_rmse": mean("command_rmse"),
        "success_agreement": float(np.mean([a == b for a, b in pairs])) if pairs else None,
        "success_rate_real": float(np.mean([a for a, _ in pairs])) if pairs else None,
        "success_rate_sim": float(np.mean([b for _, b in pairs])) if pairs else None,
        "per_episode": per,
        "command_parity": command_parity(real, sim),
    }
