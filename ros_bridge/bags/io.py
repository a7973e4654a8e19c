"""Reading and writing rosbag2 folders with ``rosbags`` (pure Python, no ROS installation).

Bags are MCAP (the default since ROS 2 Iron) or sqlite3; ``sqlite3-humble`` writes sqlite3
with Humble's metadata and schema versions for robots still on Humble.

Reading uses the message definitions a bag embeds (MCAP schemas; sqlite3 bags from Iron on)
wherever it has them: a real robot's px4_msgs may be of another PX4 release than the vendored
ones, and only the bag knows its own layout. Types a bag does not define (a Humble sqlite3 bag
defines none) come from the default typestore: ROS 2 Humble's message set plus the vendored
robot interfaces (:mod:`ros_bridge.msgdefs`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from ..messages import Output
from ..msgdefs import DEFAULT_PX4_VERSION, definitions
from ..profiles import Profile, Qos

STORAGES = ("mcap", "sqlite3", "sqlite3-humble")
#: Topic on which simulated bags mark episode boundaries and outcomes (std_msgs/String JSON).
EPISODE_TOPIC = "/agentic_rl/episode"
DIAGNOSTICS_TOPIC = "/diagnostics"
#: Normalized policy actions (the simulator's in simulated bags, the runtime's in replays).
ACTION_TOPIC = "/agentic_rl/action"
ACTION_TYPE = "std_msgs/msg/Float64MultiArray"


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


@cache
def typestore(px4_version: str = DEFAULT_PX4_VERSION) -> Any:
    """ROS 2 Humble's message set plus the vendored robot interfaces (px4_msgs of a release)."""
    _rosbags()
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    ts = get_typestore(Stores.ROS2_HUMBLE)
    types: dict[str, Any] = {}
    for name, text in definitions(px4_version).items():
        for key, fields in get_types_from_msg(text, name).items():
            # rosbags files a parsed 'pkg/srv/X_Request' under 'pkg/srv/msg/X_Request': keep
            # the service request's own name, as the outputs and ROS 2's own stores name it
            types[name if key == name.replace("/srv/", "/srv/msg/") else key] = fields
    ts.register(types)
    return ts


def px4_version_of(profile: Profile) -> str:
    """The PX4 release a profile talks to (its ``params.px4_version``; the default otherwise)."""
    return str(profile.params.get("px4_version", DEFAULT_PX4_VERSION))


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


def build(
    typename: str, data: dict[str, Any] | None = None, px4_version: str = DEFAULT_PX4_VERSION
) -> Any:
    """A rosbags message of ``typename`` from nested field values (others get defaults).

    Raises:
        BagError: for a field the type does not have.
    """
    return _builder(typename, px4_version)(data)


@cache
def _builder(typename: str, px4_version: str) -> Any:
    """A compiled constructor for one message type (replays build tens of thousands)."""
    ts = typestore(px4_version)
    if typename not in ts.fielddefs:
        raise BagError(f"unknown message type {typename!r} (not in the bag tools' typestore)")
    _, fields = ts.fielddefs[typename]
    cls = ts.types[typename]
    makers = [(name, _maker(kind.name, spec, px4_version)) for name, (kind, spec) in fields]
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


def _maker(kind: str, spec: Any, px4_version: str) -> Any:
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
        return lambda v: _builder(spec, px4_version)(v)
    (ekind, espec), count = spec
    if ekind.name == "BASE" and espec[0] != "string":
        dtype = _NUMPY[espec[0]]
        return lambda v: np.asarray(v, dtype) if v is not None else np.zeros(count, dtype)
    if ekind.name == "BASE":
        return lambda v: [str(x) for x in v] if v is not None else [""] * count
    if ekind.name == "NAME":
        return lambda v: [_builder(espec, px4_version)(x) for x in (v or [])]
    raise BagError(f"unsupported field kind {ekind.name}")


def resolve_topic(topic: str, namespace: str = "", node: str = "agentic_rl_policy") -> str:
    """A profile topic as recorded: '~/x' -> '/<node>/x', relative names under the namespace."""
    if topic.startswith("~/"):
        return f"{namespace.rstrip('/')}/{node}/{topic[2:]}"
    if not topic.startswith("/"):
        return f"{namespace.rstrip('/')}/{topic}"
    return topic


def sanitize_topic(name: str) -> str:
    """A topic name usable as a file name fragment."""
    return re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_")


class BagWriter:
    """Write messages given as field dicts to a rosbag2 folder.

    The writer embeds each type's definition and type hash, as ``ros2 bag record`` does.

    Args:
        path: the bag folder to create (must not exist).
        storage: ``mcap``, ``sqlite3`` or ``sqlite3-humble`` (no embedded definitions, as
            Humble writes them).
        px4_version: the px4_msgs layout to write (see :mod:`ros_bridge.msgdefs`).
    """

    def __init__(
        self, path: str | Path, storage: str = "mcap", px4_version: str = DEFAULT_PX4_VERSION
    ) -> None:
        rb = _rosbags()
        if storage not in STORAGES:
            raise BagError(f"storage must be one of {STORAGES}, got {storage!r}")
        self.path = Path(path)
        if self.path.exists():
            raise BagError(f"{self.path} exists; rosbag2 writes a new folder, choose another name")
        self.storage = storage
        self.px4_version = px4_version
        plugin = rb.StoragePlugin.MCAP if storage == "mcap" else rb.StoragePlugin.SQLITE3
        self._writer = rb.Writer(self.path, version=8, storage_plugin=plugin)
        self._conns: dict[str, Any] = {}
        self._ts = typestore(px4_version)

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
        msg = build(typename, data, self.px4_version) if isinstance(data, dict) else data
        self._writer.write(conn, round(t * 1e9), self._ts.serialize_cdr(msg, typename))

    def write_output(self, profile: Profile, out: Output, t: float) -> None:
        """Write a runtime output to its profile topic (service calls to '<service>/_request')."""
        if out.kind == "service":
            spec = profile.services[out.role]
            topic = resolve_topic(spec.service) + "/_request"
            self.write(topic, spec.type + "_Request", out.data, t)
        else:
            spec = profile.outputs[out.role]
            self.write(resolve_topic(spec.topic), spec.type, out.data, t, spec.qos)


def _qos_profiles(qos: Qos | None) -> list[Any]:
    if qos is None:
        return []
    from rosbags.interfaces import Qos as RQos
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
    fields (custom_data, ros_distro, type_description_hash) and the embedded message
    definitions are dropped, which Humble never writes.
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
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
            if "message_definitions" in tables:
                con.execute("DELETE FROM message_definitions")
            con.commit()
        finally:
            con.close()


@dataclass
class BagMessage:
    topic: str
    type: str
    t: float
    msg: Any


def _bag_typestore(connections: list[Any], px4_version: str) -> Any:
    """The default typestore with every definition the bag embeds taking precedence."""
    from rosbags.interfaces import MessageDefinitionFormat
    from rosbags.typesys import Stores, get_types_from_idl, get_types_from_msg, get_typestore

    default = typestore(px4_version)
    embedded: dict[str, Any] = {}
    for conn in connections:
        fmt, data = conn.msgdef.format, conn.msgdef.data
        if fmt == MessageDefinitionFormat.MSG and data:
            embedded.update(get_types_from_msg(data, conn.msgtype))
        elif fmt == MessageDefinitionFormat.IDL and data:
            sep = "=" * 80 + "\n"
            parts = data.split(sep)[1:] if data.startswith(f"{sep}IDL: ") else [data]
            for part in parts:
                embedded.update(
                    get_types_from_idl(part.split("\n", 1)[1] if part.startswith("IDL: ") else part)
                )
    # only definitions that differ from the default ones need a typestore of their own
    changed = {k: v for k, v in embedded.items() if default.fielddefs.get(k) != v}
    if not changed:
        return default
    ts = get_typestore(Stores.EMPTY)
    ts.register({**default.fielddefs, **changed})
    return ts


def read_bag(
    path: str | Path, topics: list[str] | None = None, px4_version: str = DEFAULT_PX4_VERSION
) -> Iterator[BagMessage]:
    """Messages of a bag in time order, decoded with the bag's own definitions where it has them.

    Args:
        path: the bag folder.
        topics: only these topics (default: all).
        px4_version: px4_msgs layout for types the bag does not define.

    Raises:
        BagError: when the bag cannot be opened, or a message cannot be decoded (its type
            neither defined in the bag nor known to the bag tools).
    """
    rb = _rosbags()
    try:
        reader = rb.Reader(Path(path))
        reader.open()
    except Exception as exc:  # rosbags raises its own error types per storage
        raise BagError(f"cannot open bag {path}: {exc}") from None
    try:
        conns = [c for c in reader.connections if topics is None or c.topic in topics]
        try:
            ts = _bag_typestore(reader.connections, px4_version)
        except Exception as exc:  # malformed embedded definitions
            raise BagError(f"bag {path}: cannot parse its message definitions: {exc}") from None
        known = set(ts.fielddefs)
        for conn, stamp, raw in reader.messages(connections=conns):
            if conn.msgtype not in known:
                raise BagError(
                    f"bag {path}: topic {conn.topic} has type {conn.msgtype}, which the bag does "
                    "not define and the bag tools do not know; record with MCAP (it embeds the "
                    "definitions) or leave the topic out"
                )
            try:
                msg = ts.deserialize_cdr(raw, conn.msgtype)
            except Exception as exc:
                raise BagError(
                    f"bag {path}: cannot decode a {conn.msgtype} message on {conn.topic} at "
                    f"{stamp * 1e-9:.3f} s ({exc}); the bag's layout of this type differs from "
                    "the vendored one and the bag does not embed its definition"
                ) from None
            yield BagMessage(conn.topic, conn.msgtype, stamp * 1e-9, msg)
    finally:
        reader.close()


def bag_topics(path: str | Path) -> dict[str, str]:
    """topic -> type of a bag.

    Raises:
        BagError: when the bag cannot be opened.
    """
    rb = _rosbags()
    try:
        with rb.Reader(Path(path)) as reader:
            return {c.topic: c.msgtype for c in reader.connections}
    except Exception as exc:
        raise BagError(f"cannot open bag {path}: {exc}") from None
