"""BundleMeta: the typed contents of a PolicyBundle's ``bundle.json``.

Defined here, on the robot side (plain dataclasses: the runtime runs with numpy and
onnxruntime only, no pydantic), and built by ``agentic_rl.export``, which writes
:meth:`BundleMeta.to_dict`. The runtime reads it back with :meth:`BundleMeta.from_dict`, which
names the first missing or malformed entry. One place defines the format and its version.

Version 1 is the layout since the first release; ``evaluation`` (held-out success at export)
and ``task.layout`` / ``task.observe`` / ``task.from_measurement`` / ``task.track`` are
optional additions that older bundles lack (without ``from_measurement`` a bundle does not
deploy: the runtime asks to re-export it).
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

#: The bundle layout this reader understands (``bundle.json`` "format" and major "version").
BUNDLE_FORMAT = "agentic-rl/policy-bundle"
BUNDLE_VERSION = 1
SUPPORTED_VERSIONS = (1,)


class MetaError(ValueError):
    """A ``bundle.json`` that is not a BundleMeta (missing or malformed entries)."""


@dataclass(frozen=True)
class FieldMeta:
    """One state field's place in the observation vector."""

    name: str
    shape: tuple[int, ...]
    size: int
    offset: int
    unit: str
    frame: str
    description: str = ""


@dataclass(frozen=True)
class TaskMeta:
    """The task the policy was trained on.

    Attributes:
        layout: a default episode layout (JSON) for tasks that observe one; the robot's own
            course replaces it (a layout file or the node's ``layout`` parameter).
        observe: ``module:function`` of the task's pure observation function, vendored into
            the generated ROS package (``None``: a bundle exported before tasks declared it;
            it does not deploy).
        from_measurement: ``module:function`` mapping the robot side's measurement to the
            robot state ``observe`` reads.
        track: ``module:function`` of the task's event tracker, or ``None``.
        path: ``module:Class`` of a task named by its class path (not built in or a plugin),
            so simulator-side commands (record-sim, robustness) load it again from the bundle
            alone; ``None`` for tasks every process finds by id. Never imported here.
    """

    id: str
    robot: str
    description: str
    control_hz: float
    max_episode_steps: int
    constants: dict[str, Any] = field(default_factory=dict)
    layout: dict[str, Any] | None = None
    observe: str | None = None
    from_measurement: str | None = None
    track: str | None = None
    path: str | None = None


@dataclass(frozen=True)
class ObservationMeta:
    size: int
    fields: tuple[FieldMeta, ...]


@dataclass(frozen=True)
class ActionMeta:
    mode: str
    shape: tuple[int, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    components: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class PolicyMeta:
    onnx: str
    weights: str
    input: str
    output: str
    dtype: str
    opset: int
    activation: str
    layers: tuple[tuple[int, int], ...]
    normalization: dict[str, Any]


@dataclass(frozen=True)
class GoldenMeta:
    file: str
    pairs: int
    seeds: tuple[int, ...]
    atol: float


@dataclass(frozen=True)
class RewardMeta:
    file: str
    sha256: str | None


@dataclass(frozen=True)
class EvaluationMeta:
    """Held-out success measured at export (seeds no training or selection saw).

    Attributes:
        episodes: nominal episodes (and randomized ones, unless ``randomized_episodes``).
        seeds: the reset seeds (randomized physics uses the first ``randomized_episodes``).
        success_nominal: success rate with nominal physics.
        success_randomized: success rate under the task's domain randomization.
        min_success: the threshold export checked (``success_nominal`` below it is refused).
        forced: whether the bundle was written although below the threshold.
        randomized_episodes: episodes under randomized physics when fewer than ``episodes``
            (the refinement loop's test tests fewer); ``None``: as many as ``episodes``.
    """

    episodes: int
    seeds: tuple[int, ...]
    success_nominal: float
    success_randomized: float
    min_success: float
    forced: bool = False
    randomized_episodes: int | None = None

    @property
    def episodes_randomized(self) -> int:
        """Episodes the randomized success rate was measured on."""
        return self.episodes if self.randomized_episodes is None else self.randomized_episodes


@dataclass(frozen=True)
class BundleMeta:
    """Everything ``bundle.json`` holds (see DESIGN.md, PolicyBundle).

    ``command`` (how a normalized action becomes a physical command) and ``train_config``
    stay plain mappings: their keys depend on the robot and on the trainer.
    """

    task: TaskMeta
    observation: ObservationMeta
    action: ActionMeta
    command: dict[str, Any]
    policy: PolicyMeta
    golden: GoldenMeta
    reward: RewardMeta
    created: str = ""
    train_config: dict[str, Any] | None = None
    versions: dict[str, str] = field(default_factory=dict)
    evaluation: EvaluationMeta | None = None
    format: str = BUNDLE_FORMAT
    version: int = BUNDLE_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (tuples as lists; optional parts left out when unset)."""
        out = _lists(asdict(self))
        if self.evaluation is None:
            out.pop("evaluation")
        elif self.evaluation.randomized_episodes is None:
            out["evaluation"].pop("randomized_episodes")
        for key in ("layout", "observe", "from_measurement", "track", "path"):
            if out["task"][key] is None:
                out["task"].pop(key)
        return out

    @classmethod
    def from_dict(cls, raw: Any, origin: str = "bundle.json") -> BundleMeta:
        """Parse and check a ``bundle.json`` mapping.

        Raises:
            MetaError: for another format, an unsupported version, or the first missing or
                malformed entry (named by its path, e.g. ``action.low``).
        """
        if not isinstance(raw, dict):
            raise MetaError(f"{origin}: expected a JSON object, got {type(raw).__name__}")
        if raw.get("format") != BUNDLE_FORMAT:
            raise MetaError(
                f"{origin} has format {raw.get('format')!r}, expected {BUNDLE_FORMAT!r}"
            )
        if raw.get("version") not in SUPPORTED_VERSIONS:
            raise MetaError(
                f"PolicyBundle version {raw.get('version')!r} is not supported by this runtime "
                f"(supported: {SUPPORTED_VERSIONS}); update ros_bridge or re-export the bundle"
            )
        try:
            obs = raw["observation"]
            evaluation = raw.get("evaluation")
            return cls(
                task=_make(TaskMeta, raw["task"], "task"),
                observation=ObservationMeta(
                    size=int(obs["size"]),
                    fields=tuple(
                        _make(FieldMeta, f, f"observation.fields[{i}]")
                        for i, f in enumerate(obs["fields"])
                    ),
                ),
                action=_make(ActionMeta, raw["action"], "action"),
                command=dict(raw["command"]),
                policy=_make(PolicyMeta, raw["policy"], "policy"),
                golden=_make(GoldenMeta, raw["golden"], "golden"),
                reward=_make(RewardMeta, raw["reward"], "reward"),
                created=str(raw.get("created", "")),
                train_config=raw.get("train_config"),
                versions=dict(raw.get("versions") or {}),
                evaluation=None
                if evaluation is None
                else _make(EvaluationMeta, evaluation, "evaluation"),
                format=raw["format"],
                version=int(raw["version"]),
            )
        except KeyError as exc:
            raise MetaError(f"{origin}: missing entry {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise MetaError(f"{origin}: {exc}") from None


def _make(cls: type, raw: Any, where: str) -> Any:
    """A dataclass from a mapping: required keys checked, sequences made tuples."""
    if not isinstance(raw, dict):
        raise MetaError(f"{where}: expected an object, got {type(raw).__name__}")
    known = {f.name: f for f in fields(cls)}
    values = {}
    for name, f in known.items():
        if name not in raw:
            if f.default is MISSING and f.default_factory is MISSING:
                raise MetaError(f"missing entry '{where}.{name}'")
            continue
        v = raw[name]
        values[name] = _tuples(v) if isinstance(v, list) else v
    return cls(**values)


def _tuples(v: Any) -> Any:
    return tuple(_tuples(x) for x in v) if isinstance(v, list) else v


def _lists(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _lists(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_lists(x) for x in v]
    return v
