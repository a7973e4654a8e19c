"""Robot profiles: which topics, message types, QoS and safety limits a robot stack uses.

A profile is a YAML file (the built-in ones are in ``ros_bridge/profiles/``; a path to your own
file works too). It names an ``adapter`` (the code in :mod:`ros_bridge.robots` that reads and
writes that stack's messages), the input and output topics with their types and QoS, services,
adapter parameters and safety defaults. Topic names, QoS, parameters and safety limits all
become ROS parameters of the generated node, so a deployment overrides them in its params file
without touching code.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

PROFILE_DIR = Path(__file__).resolve().parent / "profiles"
RELIABILITY = ("reliable", "best_effort")
DURABILITY = ("volatile", "transient_local")
#: The kinds of robot a profile drives (a task's command model names one).
ROBOT_KINDS = ("drone", "arm", "joint_group")


class ProfileError(ValueError):
    """A profile that does not exist or is malformed."""


@dataclass(frozen=True)
class Qos:
    """The QoS settings the node uses for one topic (history is always keep-last)."""

    reliability: str = "reliable"
    durability: str = "volatile"
    depth: int = 10


@dataclass(frozen=True)
class TopicSpec:
    """An input or output topic of a profile."""

    name: str
    topic: str
    type: str
    qos: Qos
    required: bool = True


@dataclass(frozen=True)
class ServiceSpec:
    """A service the node calls (e.g. Crazyswarm2's land)."""

    name: str
    service: str
    type: str


@dataclass(frozen=True)
class Profile:
    """A loaded robot profile.

    Attributes:
        name: profile name (``px4``, ``arm_jtc``...).
        description: one line.
        robot: ``drone``, ``arm`` or ``joint_group`` (any robot driven joint by joint).
        adapter: key of the adapter class in :mod:`ros_bridge.robots`.
        action_modes: task action modes this profile can fly or drive.
        inputs, outputs: topics by role name.
        services: services by role name.
        params: adapter parameters (frame ids, command variant, joint names...).
        safety: safety limits (see :class:`ros_bridge.safety.SafetyConfig`).
    """

    name: str
    description: str
    robot: str
    adapter: str
    action_modes: tuple[str, ...]
    inputs: dict[str, TopicSpec]
    outputs: dict[str, TopicSpec]
    services: dict[str, ServiceSpec] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    safety: dict[str, float] = field(default_factory=dict)

    def with_overrides(self, overrides: dict[str, Any]) -> Profile:
        """A copy with flat overrides applied, as the node's ROS parameters give them.

        Keys: ``topics.<role>``, ``qos.<role>.<reliability|durability|depth>``,
        ``services.<role>``, ``params.<name>``, ``safety.<name>``.

        Raises:
            ProfileError: for a key naming no role, parameter or limit of this profile.
        """
        inputs, outputs = dict(self.inputs), dict(self.outputs)
        services, params, safety = dict(self.services), dict(self.params), dict(self.safety)
        for key, value in overrides.items():
            head, _, rest = key.partition(".")
            if head in ("topics", "qos"):
                role, _, attr = rest.partition(".")
                table = inputs if role in inputs else outputs if role in outputs else None
                if table is None:
                    raise ProfileError(
                        f"{key}: profile {self.name!r} has no topic role {role!r}; roles: "
                        f"{sorted([*inputs, *outputs])}"
                    )
                spec = table[role]
                if head == "topics":
                    table[role] = replace(spec, topic=str(value))
                else:
                    if attr not in ("reliability", "durability", "depth"):
                        raise ProfileError(
                            f"{key}: QoS setting must be reliability, durability or depth"
                        )
                    table[role] = replace(spec, qos=_qos({**spec.qos.__dict__, attr: value}, key))
            elif head == "services":
                if rest not in services:
                    raise ProfileError(f"{key}: profile {self.name!r} has no service {rest!r}")
                services[rest] = replace(services[rest], service=str(value))
            elif head == "params":
                if rest not in params:
                    raise ProfileError(_unknown(key, rest, params, "parameter"))
                params[rest] = value
            elif head == "safety":
                if rest not in safety:
                    raise ProfileError(_unknown(key, rest, safety, "safety limit"))
                safety[rest] = float(value)
            else:
                raise ProfileError(
                    f"override {key!r} must start with topics., qos., services., params. or safety."
                )
        return replace(
            self, inputs=inputs, outputs=outputs, services=services, params=params, safety=safety
        )

    def flat(self) -> dict[str, Any]:
        """The profile as flat ``key: value`` pairs (the node's ROS parameters)."""
        out: dict[str, Any] = {}
        for role, spec in {**self.inputs, **self.outputs}.items():
            out[f"topics.{role}"] = spec.topic
            out[f"qos.{role}.reliability"] = spec.qos.reliability
            out[f"qos.{role}.durability"] = spec.qos.durability
            out[f"qos.{role}.depth"] = spec.qos.depth
        for role, svc in self.services.items():
            out[f"services.{role}"] = svc.service
        for k, v in self.params.items():
            out[f"params.{k}"] = v
        for k, v in self.safety.items():
            out[f"safety.{k}"] = float(v)
        return out


def _unknown(key: str, name: str, table: dict[str, Any], what: str) -> str:
    hint = difflib.get_close_matches(name, list(table), n=1)
    did = f" Did you mean {hint[0]!r}?" if hint else ""
    return f"{key}: unknown {what} {name!r}.{did} Valid: {sorted(table)}"


def builtin_profiles() -> list[str]:
    """Names of the profiles shipped with ros_bridge."""
    return sorted(p.stem for p in PROFILE_DIR.glob("*.yaml"))


def load_profile(name_or_path: str | Path) -> Profile:
    """Load a built-in profile by name or a profile YAML file by path.

    Raises:
        ProfileError: for an unknown name (with a did-you-mean hint) or a malformed file.
    """
    path = Path(name_or_path)
    if not path.suffix:
        path = PROFILE_DIR / f"{name_or_path}.yaml"
        if not path.is_file():
            names = builtin_profiles()
            hint = difflib.get_close_matches(str(name_or_path), names, n=1)
            did = f" Did you mean {hint[0]!r}?" if hint else ""
            raise ProfileError(
                f"unknown robot profile {str(name_or_path)!r}.{did} Built-in profiles: {names}; "
                "or pass the path of your own profile YAML"
            )
    if not path.is_file():
        raise ProfileError(f"profile file {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path} is not valid YAML: {exc}") from None
    return parse_profile(raw, str(path))


def parse_profile(raw: Any, origin: str = "profile") -> Profile:
    """Validate a profile given as a dict (the parsed YAML).

    Raises:
        ProfileError: naming the first missing or malformed entry.
    """
    if not isinstance(raw, dict):
        raise ProfileError(f"{origin}: a profile must be a mapping, got {type(raw).__name__}")
    for key in ("name", "robot", "adapter", "action_modes", "inputs", "outputs"):
        if key not in raw:
            raise ProfileError(f"{origin}: missing required key {key!r}")
    if raw["robot"] not in ROBOT_KINDS:
        raise ProfileError(f"{origin}: robot must be one of {ROBOT_KINDS}, got {raw['robot']!r}")

    def topics(section: str) -> dict[str, TopicSpec]:
        out = {}
        for role, spec in (raw.get(section) or {}).items():
            where = f"{origin}: {section}.{role}"
            if not isinstance(spec, dict) or "topic" not in spec or "type" not in spec:
                raise ProfileError(f"{where} needs 'topic' and 'type'")
            _check_type(spec["type"], where, "msg")
            out[role] = TopicSpec(
                name=role,
                topic=str(spec["topic"]),
                type=str(spec["type"]),
                qos=_qos(spec.get("qos") or {}, where),
                required=bool(spec.get("required", True)),
            )
        return out

    services = {}
    for role, spec in (raw.get("services") or {}).items():
        where = f"{origin}: services.{role}"
        if not isinstance(spec, dict) or "service" not in spec or "type" not in spec:
            raise ProfileError(f"{where} needs 'service' and 'type'")
        _check_type(spec["type"], where, "srv")
        services[role] = ServiceSpec(role, str(spec["service"]), str(spec["type"]))
    outputs = topics("outputs")
    if not outputs:
        raise ProfileError(f"{origin}: a profile needs at least one output topic")
    return Profile(
        name=str(raw["name"]),
        description=str(raw.get("description", "")),
        robot=raw["robot"],
        adapter=str(raw["adapter"]),
        action_modes=tuple(raw["action_modes"]),
        inputs=topics("inputs"),
        outputs=outputs,
        services=services,
        params=dict(raw.get("params") or {}),
        safety={k: float(v) for k, v in (raw.get("safety") or {}).items()},
    )


def _check_type(name: str, where: str, kind: str) -> None:
    parts = str(name).split("/")
    if len(parts) != 3 or parts[1] != kind or not all(parts):
        raise ProfileError(f"{where}: type {name!r} must look like 'package/{kind}/Name'")


def _qos(raw: dict[str, Any], where: str) -> Qos:
    qos = Qos(
        reliability=str(raw.get("reliability", "reliable")),
        durability=str(raw.get("durability", "volatile")),
        depth=int(raw.get("depth", 10)),
    )
    if qos.reliability not in RELIABILITY:
        raise ProfileError(f"{where}: QoS reliability must be one of {RELIABILITY}")
    if qos.durability not in DURABILITY:
        raise ProfileError(f"{where}: QoS durability must be one of {DURABILITY}")
    if qos.depth < 1:
        raise ProfileError(f"{where}: QoS depth must be >= 1")
    return qos
