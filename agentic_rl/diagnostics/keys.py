"""Which state fields say where the robot is, how it moves and where its target is.

Diagnostics stay generic over tasks by reading what a task's :class:`~sims.spec.TaskSpec`
declares: ``spec.body`` (the robot's position, velocity, tilt and angular-velocity fields and
what to call it), ``spec.goal`` (the error fields with their tolerances) and
``spec.landmarks``. No field name is guessed, so a custom task gets exemplar summaries,
oscillation checks and trajectory plots from its declarations alone.
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
        origin: the subject's position field when the subject is not the robot.
        tolerance: the success radius in metres (declared), None where the task has none.
        primary: distance to this target measures task progress (used for "near the goal"
            and "far from the goal"); False for landmarks such as an orbit centre.
    """

    field: str
    label: str
    sign: float = 1.0
    subject: str | None = None
    origin: str | None = None
    tolerance: float | None = None
    primary: bool = True


def _is_vec3(spec: TaskSpec, name: str | None) -> bool:
    return name is not None and name in spec.field_names and spec.field(name).shape == (3,)


def targets_of(spec: TaskSpec) -> tuple[TargetField, ...]:
    """The spec's 3-vector goal errors (the first is primary) and landmarks, in that order."""
    out = []
    if spec.goal is not None:
        for i, e in enumerate(spec.goal.errors):
            if _is_vec3(spec, e.field):
                out.append(
                    TargetField(
                        e.field,
                        e.label,
                        float(e.sign),
                        e.subject,
                        e.origin,
                        spec.tolerance(e),
                        primary=i == 0,
                    )
                )
    for lm in spec.landmarks:
        out.append(TargetField(lm.field, lm.label, float(lm.sign), lm.subject, primary=False))
    return tuple(out)


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
    advances: bool = False  # the goal moves on to its next target when reached

    @classmethod
    def for_spec(cls, spec: TaskSpec) -> KeyFields:
        """Read the key fields of a task from its spec's declarations."""
        body = spec.body
        targets = targets_of(spec)
        primary = next((t for t in targets if t.primary), None)
        scalars = tuple(f.name for f in spec.state_fields if f.shape == () and f.name != body.tilt)
        return cls(
            noun=body.noun,
            position=body.position if _is_vec3(spec, body.position) else None,
            velocity=body.velocity if _is_vec3(spec, body.velocity) else None,
            tilt=body.tilt,
            spin=body.angular_velocity if _is_vec3(spec, body.angular_velocity) else None,
            targets=targets,
            scalars=scalars,
            tolerance=primary.tolerance if primary is not None else None,
            advances=spec.goal is not None and spec.goal.advances_on is not None,
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
