"""Which state fields say where the robot is, how it moves and where its target is.

Diagnostics stay generic over tasks by reading a task's :class:`~sims.spec.TaskSpec` through
this small table instead of per-task code: the robot's position and velocity fields, its tilt
and body rates where it has them, and the ``*_rel`` vectors that point at what it should reach
(goal, pad, gate, reference point, ...). A new task whose fields follow the same names gets
exemplar summaries, oscillation checks and trajectory plots for free; one with other names
still gets everything that does not need a target.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sims.spec import TaskSpec


@dataclass(frozen=True)
class TargetField:
    """A state vector (metres, world frame) that locates something the robot should reach.

    Attributes:
        field: state field name.
        label: what the vector points at, in words ("the goal").
        sign: +1 if the field is ``target - robot`` (points from the robot to the target),
            -1 if it is ``subject - target``.
        subject: what the vector is measured from, when not the robot ("the cube").
        tolerances: task constants giving the success radius, first found wins.
        tolerance_scale: factor on that constant (a gate opening is a diameter).
        primary: distance to this target measures task progress (used for "near the goal"
            and "far from the goal"); False for landmarks such as an orbit centre.
    """

    field: str
    label: str
    sign: float = 1.0
    subject: str | None = None
    tolerances: tuple[str, ...] = ()
    tolerance_scale: float = 1.0
    primary: bool = True


#: Known target fields, most task-defining first. Order matters: the first present primary
#: field is the task's goal for the oscillation and timeout rules.
TARGETS: tuple[TargetField, ...] = (
    TargetField("goal_rel", "the goal", tolerances=("pos_tolerance", "goal_tolerance")),
    TargetField(
        "object_rel_goal", "the goal", sign=-1.0, subject="the cube", tolerances=("goal_tolerance",)
    ),
    TargetField("pad_rel", "the pad", tolerances=("landing_tolerance",)),
    TargetField("gate_rel", "the next gate", tolerances=("gate_opening",), tolerance_scale=0.5),
    TargetField("ref_rel", "the reference point", tolerances=("rmse_tolerance",)),
    TargetField("object_rel_ee", "the cube", primary=False),
    TargetField("wall_rel", "the wall top", primary=False),
    TargetField("center_rel", "the orbit centre", primary=False),
)

#: Per robot: (noun, position field, velocity field). Unknown robots fall back to the first
#: of these field names the spec has.
ROBOTS: dict[str, tuple[str, str, str]] = {
    "crazyflie2x": ("the drone", "pos", "vel"),
    "panda": ("the end effector", "ee_pos", "ee_vel"),
}
_POSITION_NAMES = ("pos", "ee_pos")
_VELOCITY_NAMES = ("vel", "ee_vel")

#: Default success radius (m) when a target has no tolerance constant.
DEFAULT_TOLERANCE = 0.1


def _is_vec3(spec: TaskSpec, name: str) -> bool:
    return name in spec.field_names and spec.field(name).shape == (3,)


@dataclass(frozen=True)
class KeyFields:
    """The state fields diagnostics describe a task's robot with (names from the spec).

    Build it with :meth:`for_spec`. Every attribute is ``None`` or empty where the task lacks
    such a field.
    """

    noun: str
    position: str | None
    velocity: str | None
    tilt: str | None
    spin: str | None
    targets: tuple[TargetField, ...]
    scalars: tuple[str, ...]
    tolerance: float | None

    @classmethod
    def for_spec(cls, spec: TaskSpec) -> KeyFields:
        """Resolve the key fields of a task from its spec."""
        noun, pos, vel = ROBOTS.get(spec.robot, ("the robot", "", ""))
        position = pos if _is_vec3(spec, pos) else None
        position = position or next((n for n in _POSITION_NAMES if _is_vec3(spec, n)), None)
        velocity = vel if _is_vec3(spec, vel) else None
        velocity = velocity or next((n for n in _VELOCITY_NAMES if _is_vec3(spec, n)), None)
        names = spec.field_names
        targets = tuple(t for t in TARGETS if _is_vec3(spec, t.field))
        primary = next((t for t in targets if t.primary), None)
        tolerance = None
        if primary is not None:
            found = next(
                (spec.constants[c] for c in primary.tolerances if c in spec.constants), None
            )
            tolerance = (
                DEFAULT_TOLERANCE if found is None else float(found) * primary.tolerance_scale
            )
        scalars = tuple(f.name for f in spec.state_fields if f.shape == () and f.name != "tilt")
        return cls(
            noun=noun,
            position=position,
            velocity=velocity,
            tilt="tilt" if "tilt" in names else None,
            spin="ang_vel" if _is_vec3(spec, "ang_vel") else None,
            targets=targets,
            scalars=scalars,
            tolerance=tolerance,
        )

    @property
    def primary(self) -> TargetField | None:
        """The target whose distance measures task progress, if the task has one."""
        return next((t for t in self.targets if t.primary), None)


class StateLayout:
    """Slices recorded flat state vectors (``(T, obs_size)``) into named fields.

    The flat layout is the spec's ``state_fields`` in order, which is both the observation
    vector and what :mod:`agentic_rl.diagnostics.rollouts` records.
    """

    def __init__(self, spec: TaskSpec) -> None:
        self.spec = spec
        self._slices: dict[str, tuple[int, int, tuple[int, ...]]] = {}
        start = 0
        for f in spec.state_fields:
            self._slices[f.name] = (start, start + f.size, f.shape)
            start += f.size
        self.size = start

    def get(self, states: np.ndarray, name: str) -> np.ndarray:
        """Field ``name`` of every row: shape ``(T,)`` for scalars, ``(T, *shape)`` else."""
        start, stop, shape = self._slices[name]
        block = states[:, start:stop]
        return block[:, 0] if shape == () else block.reshape(len(states), *shape)

    def unit(self, name: str) -> str:
        """The field's unit as the spec writes it (``'1'`` for unitless)."""
        return self.spec.field(name).unit


def primary_distance(states: np.ndarray, layout: StateLayout, keys: KeyFields) -> np.ndarray | None:
    """Distance (m) to the task's primary target at every recorded state, if it has one."""
    target = keys.primary
    if target is None:
        return None
    return np.linalg.norm(layout.get(states, target.field), axis=-1)
