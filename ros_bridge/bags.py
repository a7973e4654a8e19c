"""rosbag2 tools: write bags, replay a bag through the runtime, compare sim and real bags.

Uses ``rosbags`` (pure Python; ``pip install agentic-rl[ros]``), never a ROS installation.
Bags are MCAP (the default since ROS 2 Iron) or sqlite3; ``sqlite3-humble`` writes sqlite3
with Humble's metadata and schema versions for robots still on Humble.

* :func:`replay`: feed a recorded input bag to :class:`~ros_bridge.runtime.Runtime` on the
  bag's own clock and write the commands it would have sent;
* :func:`compare`: sim-to-real agreement between two bags (trajectory RMSE, success agreement,
  command error).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from . import frames
from .bundle import PolicyBundle
from .messages import Output
from .msgdefs import EXTRA_MSGS
from .profiles import Profile, Qos
from .runtime import Runtime
from .safety import State

STORAGES = ("mcap", "sqlite3", "sqlite3-humble")
#: Topic on which simulated bags mark episode boundaries and outcomes (std_msgs/String JSON).
EPISODE_TOPIC = "/agentic_rl/episode"
DIAGNOSTICS_TOPIC = "/diagnostics"
#: Normalized policy actions (the simulator's in simulated bags, the runtime's in replays).
ACTION_TOPIC = "/agentic_rl/action"


class BagError(ValueError):
    """A bag that cannot be written, read or used as asked."""


def _rosbags() -> Any:
    try:
        import rosbags  # noqa: F401
    except ImportError:
        raise BagError(
            "the bag tools need rosbags: pip install 'agentic-rl[ros]' (or pip install rosbags)"
        ) from None
    import rosbags.rosbag2 as rb

    return rb


@lru_cache(maxsize=1)
def typestore() -> Any:
    """A rosbags typestore: ROS 2 Humble's message set plus px4_msgs and crazyflie_interfaces."""
    _rosbags()
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    ts = get_typestore(Stores.ROS2_HUMBLE)
    types: dict[str, Any] = {}
    for name, text in EXTRA_MSGS.items():
        types.update(get_types_from_msg(text, name))
    ts.register(types)
    return ts


_NUMPY = {
    "bool": np.bool_,
    "byte": np.uint8,
    "char": np.uint8,
    "int8": np.int8,
    "uint8": np.uint8,
    "int16": np.int16,
    "uint16": np.uint16,
    "int32": np.int32,
    "uint32": np.uint32,
    "int64": np.int64,
    "uint64": np.uint64,
    "float32": np.float32,
    "float64": np.float64,
}


def build(typename: str, data: dict[str, Any] | None = None) -> Any:
    """A rosbags message of ``typename`` from nested field values (others get defaults).

    Raises:
        BagError: for a field the type does not have.
    """
    return _builder(typename)(data)


@cache
def _builder(typename: str) -> Any:
    """A compiled constructor for one message type (replays build tens of thousands)."""
    ts = typestore()
    if typename not in ts.fielddefs:
        raise BagError(f"unknown message type {typename!r} (not in the bag tools' typestore)")
    _, fields = ts.fielddefs[typename]
    cls = ts.types[typename]
    makers = [(name, _maker(kind.name, spec)) for name, (kind, spec) in fields]
    names = frozenset(name for name, _ in makers)

    def make(data: dict[str, Any] | None) -> Any:
        if not data:
            return cls(**{n: mk(None) for n, mk in makers})
        if not names.issuperset(data):
            raise BagError(
                f"{typename} has no fields {sorted(set(data) - names)}; fields: {sorted(names)}"
            )
        return cls(**{n: mk(data.get(n)) for n, mk in makers})

    return make


def _maker(kind: str, spec: Any) -> Any:
    """A converter from a plain value (or None for the default) to one field's value."""
    if kind == "BASE":
        base = spec[0]
        if base == "string":
            return lambda v: "" if v is None else str(v)
        if base == "bool":
            return lambda v: bool(v)
        if base in ("float32", "float64"):
            return lambda v: 0.0 if v is None else float(v)
        return lambda v: 0 if v is None else int(v)
    if kind == "NAME":
        return lambda v: _builder(spec)(v)
    (ekind, espec), count = spec
    if ekind.name == "BASE" and espec[0] != "string":
        dtype = _NUMPY[espec[0]]
        return lambda v: np.asarray(v, dtype) if v is not None else np.zeros(count, dtype)
    if ekind.name == "BASE":
        return lambda v: [str(x) for x in v] if v is not None else [""] * count
    if ekind.name == "NAME":
        return lambda v: [_builder(espec)(x) for x in (v or [])]
    raise BagError(f"unsupported field kind {ekind.name}")


class BagWriter:
    """Write messages given as field dicts to a rosbag2 folder.

    Args:
        path: the bag folder to create (must not exist).
        storage: ``mcap``, ``sqlite3`` or ``sqlite3-humble``.
    """

    def __init__(self, path: str | Path, storage: str = "mcap") -> None:
        rb = _rosbags()
        if storage not in STORAGES:
            raise BagError(f"storage must be one of {STORAGES}, got {storage!r}")
        self.path = Path(path)
        if self.path.exists():
            raise BagError(f"{self.path} exists; rosbag2 writes a new folder, choose another name")
        self.storage = storage
        plugin = rb.StoragePlugin.MCAP if storage == "mcap" else rb.StoragePlugin.SQLITE3
        self._writer = rb.Writer(self.path, version=8, storage_plugin=plugin)
        self._conns: dict[str, Any] = {}
        self._ts = typestore()

    def __enter__(self) -> BagWriter:
        self._writer.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self._writer.close()
        if self.storage == "sqlite3-humble":
            _downgrade_to_humble(self.path)

    def write(
        self,
        topic: str,
        typename: str,
        data: dict[str, Any] | Any,
        t: float,
        qos: Qos | None = None,
    ) -> None:
        """Write one message (a field dict or a rosbags message) at time ``t`` (s)."""
        conn = self._conns.get(topic)
        if conn is None:
            conn = self._writer.add_connection(
                topic, typename, typestore=self._ts, offered_qos_profiles=_qos_profiles(qos)
            )
            self._conns[topic] = conn
        msg = build(typename, data) if isinstance(data, dict) else data
        self._writer.write(conn, round(t * 1e9), self._ts.serialize_cdr(msg, typename))

    def write_output(self, profile: Profile, out: Output, t: float) -> None:
        """Write a runtime output to its profile topic (service calls to '<service>/_request')."""
        if out.kind == "service":
            spec = profile.services[out.role]
            topic = _resolve_topic(spec.service) + "/_request"
            self.write(topic, spec.type + "_Request", out.data, t)
        else:
            spec = profile.outputs[out.role]
            self.write(_resolve_topic(spec.topic), spec.type, out.data, t, spec.qos)


def _qos_profiles(qos: Qos | None) -> list[Any]:
    if qos is None:
        return []
    from rosbags.interfaces import (
        Qos as RQos,
    )
    from rosbags.interfaces import (
        QosDurability,
        QosHistory,
        QosLiveliness,
        QosReliability,
        QosTime,
    )

    return [
        RQos(
            QosHistory.KEEP_LAST,
            qos.depth,
            QosReliability.RELIABLE
            if qos.reliability == "reliable"
            else QosReliability.BEST_EFFORT,
            QosDurability.VOLATILE
            if qos.durability == "volatile"
            else QosDurability.TRANSIENT_LOCAL,
            QosTime(0, 0),
            QosTime(0, 0),
            QosLiveliness.AUTOMATIC,
            QosTime(0, 0),
            False,
        )
    ]


def _downgrade_to_humble(path: Path) -> None:
    """Rewrite a sqlite3 bag's metadata (v8 -> v5) and schema (4 -> 3) as ROS 2 Humble writes them.

    Humble's rosbag2 (0.15) knows metadata up to version 5 and sqlite schema up to 3; the newer
    fields (custom_data, ros_distro, type_description_hash) are dropped, which Humble never
    reads anyway.
    """
    import sqlite3

    import yaml

    meta_path = path / "metadata.yaml"
    meta = yaml.safe_load(meta_path.read_text())
    info = meta["rosbag2_bagfile_information"]
    info["version"] = 5
    for key in ("custom_data", "ros_distro"):
        info.pop(key, None)
    for t in info["topics_with_message_count"]:
        t["topic_metadata"].pop("type_description_hash", None)
    text = yaml.safe_dump(meta, sort_keys=False)
    meta_path.write_text(text)
    for db in path.glob("*.db3"):
        con = sqlite3.connect(db)
        try:
            con.execute("UPDATE schema SET schema_version = 3, ros_distro = 'humble'")
            con.execute("UPDATE metadata SET metadata_version = 5, metadata = ?", (text,))
            con.commit()
        finally:
            con.close()


@dataclass
class BagMessage:
    topic: str
    type: str
    t: float
    msg: Any


def read_bag(path: str | Path, topics: list[str] | None = None) -> Iterator[BagMessage]:
    """Messages of a bag in time order (deserialized by rosbags).

    Raises:
        BagError: when the bag cannot be opened.
    """
    rb = _rosbags()
    ts = typestore()
    try:
        reader = rb.Reader(Path(path))
        reader.open()
    except Exception as exc:  # rosbags raises its own error types per storage
        raise BagError(f"cannot open bag {path}: {exc}") from None
    try:
        conns = [c for c in reader.connections if topics is None or c.topic in topics]
        for conn, stamp, raw in reader.messages(connections=conns):
            yield BagMessage(
                conn.topic, conn.msgtype, stamp * 1e-9, ts.deserialize_cdr(raw, conn.msgtype)
            )
    finally:
        reader.close()


def bag_topics(path: str | Path) -> dict[str, str]:
    """topic -> type of a bag."""
    rb = _rosbags()
    with rb.Reader(Path(path)) as reader:
        return {c.topic: c.msgtype for c in reader.connections}


# ---------------------------------------------------------------------------------- replay


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


def _resolve_topic(topic: str, namespace: str = "", node: str = "agentic_rl_policy") -> str:
    """A profile topic as recorded: '~/x' -> '/<node>/x', relative names under the namespace."""
    if topic.startswith("~/"):
        return f"{namespace.rstrip('/')}/{node}/{topic[2:]}"
    if not topic.startswith("/"):
        return f"{namespace.rstrip('/')}/{topic}"
    return topic


def replay(
    bundle: PolicyBundle,
    profile: Profile,
    bag_in: str | Path,
    bag_out: str | Path,
    *,
    goal: list[float] | None = None,
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
    rt = Runtime(bundle, profile, goal=goal, backend=backend)
    by_topic = {_resolve_topic(s.topic): role for role, s in profile.inputs.items()}
    wanted = [*by_topic, EPISODE_TOPIC]
    present = bag_topics(bag_in)
    needed = [_resolve_topic(profile.inputs[r].topic) for r in rt.adapter.required_inputs()]
    missing = [t for t in needed if t not in present]
    if missing:
        raise BagError(
            f"bag {bag_in} lacks profile {profile.name!r}'s input topics {missing}; it has "
            f"{sorted(present)} (point a role at another topic with --set topics.<role>=...)"
        )
    dt = 1.0 / bundle.control_hz
    result = ReplayResult()
    t0: float | None = None
    k = 0  # ticks run; tick k is at t0 + k * dt (no accumulated rounding over long bags)
    next_diag = -math.inf
    pending_enable = enable
    last_input = 0.0
    with BagWriter(bag_out, storage) as out:

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
                    out.write(
                        ACTION_TOPIC,
                        "std_msgs/msg/Float64MultiArray",
                        {"data": rt.last_action.tolist()},
                        t,
                    )
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

        for m in read_bag(bag_in, wanted):
            if t0 is None and m.topic != EPISODE_TOPIC:
                t0 = m.t  # the clock starts with the first input
            # A message is handed over before the first tick at or after its log time (bag
            # stamps are whole nanoseconds, hence the microsecond of slack).
            run_ticks(m.t - 1e-6)
            if m.topic == EPISODE_TOPIC:
                info = json.loads(m.msg.data)
                if info.get("event") == "start":
                    result.episodes += 1
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
    }
    return result


# ---------------------------------------------------------------------------------- compare


def position_of(typename: str, msg: Any) -> np.ndarray | None:
    """The robot's position (ENU, m) or joint angles carried by an input message."""
    if typename == "px4_msgs/msg/VehicleOdometry":
        return frames.ned_to_enu(msg.position)
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
        "per_episode": [...]}``; a metric is ``None`` when neither bag pair has the data
        (e.g. success needs episode markers in both bags).
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
    }


def sanitize_topic(name: str) -> str:
    """A topic name usable as a file name fragment."""
    return re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_")
