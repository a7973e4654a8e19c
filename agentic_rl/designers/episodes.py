"""Recorded evaluation episodes as the checks before training and the designers read them.

A candidate's nominal evaluation episodes (per-step states and actions, success, termination
reason, task metrics) are saved by the diagnostics as :data:`EPISODES_FILE` beside its
``packet.json``; its children's rewards are scored on them before training
(:mod:`agentic_rl.designers.precheck`) and the offline designer measures survival on them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from rewards.states import FrozenState
    from sims.spec import TaskSpec

#: File beside a candidate's ``packet.json`` holding its recorded nominal evaluation episodes.
EPISODES_FILE = "episodes.npz"


@dataclass(frozen=True)
class RecordedEpisode:
    """One recorded evaluation episode, as the checks read it.

    Attributes:
        states: field name -> ``(length + 1, *shape)`` states; row 0 right after reset.
        actions: ``(length, act_dim)`` applied actions.
        success: ground-truth success.
        reason: the termination reason (a name from the spec's ``termination_reasons``).
        metrics: the episode's task metrics.
    """

    states: Mapping[str, np.ndarray]
    actions: np.ndarray
    success: bool
    reason: str
    metrics: Mapping[str, float] = field(default_factory=dict)

    @property
    def length(self) -> int:
        return len(self.actions)

    def transitions(self) -> Iterator[tuple[FrozenState, np.ndarray, FrozenState]]:
        """(state, action, prev_state) of every step, as the env hands them to a reward:
        read-only snapshots, scalar fields as numpy scalars, vector fields as read-only views.
        """
        from rewards.states import FrozenState

        states = {k: np.array(v, dtype=np.float64) for k, v in self.states.items()}
        for v in states.values():
            v.flags.writeable = False

        def snap(i: int) -> FrozenState:
            return FrozenState(
                (k, v[i] if v.ndim > 1 else np.float64(v[i])) for k, v in states.items()
            )

        prev = snap(0)
        for t in range(self.length):
            state = snap(t + 1)
            yield state, np.asarray(self.actions[t], dtype=np.float64), prev
            prev = state

    @classmethod
    def from_flat(
        cls,
        spec: TaskSpec,
        states: np.ndarray,
        actions: np.ndarray,
        success: bool,
        reason: str,
        metrics: Mapping[str, float] | None = None,
    ) -> RecordedEpisode:
        """From flat ``(length + 1, obs_size)`` state rows laid out as the spec's fields."""
        out, start = {}, 0
        rows = np.asarray(states, dtype=np.float64)
        for f in spec.state_fields:
            block = rows[:, start : start + f.size]
            out[f.name] = block[:, 0] if f.shape == () else block.reshape(len(rows), *f.shape)
            start += f.size
        return cls(
            out,
            np.asarray(actions, dtype=np.float64),
            bool(success),
            str(reason),
            dict(metrics or {}),
        )

    @classmethod
    def from_record(cls, spec: TaskSpec, record: Any) -> RecordedEpisode:
        """From a diagnostics :class:`~agentic_rl.diagnostics.rollouts.EpisodeRecord`."""
        return cls.from_flat(
            spec, record.states, record.actions, record.success, record.reason, record.metrics
        )


def save_episodes(path: str | Path, episodes: Sequence[RecordedEpisode]) -> None:
    """Write episodes to one ``.npz`` (what the loop keeps beside a candidate's packet)."""
    arrays: dict[str, np.ndarray] = {"count": np.array(len(episodes))}
    for i, ep in enumerate(episodes):
        arrays[f"{i}/actions"] = ep.actions
        arrays[f"{i}/success"] = np.array(ep.success)
        arrays[f"{i}/reason"] = np.array(ep.reason)
        arrays[f"{i}/metrics"] = np.array(json.dumps({k: float(v) for k, v in ep.metrics.items()}))
        for name, value in ep.states.items():
            arrays[f"{i}/s/{name}"] = np.asarray(value)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)


def load_episodes(path: str | Path) -> list[RecordedEpisode]:
    """Read what :func:`save_episodes` wrote."""
    with np.load(Path(path), allow_pickle=False) as data:
        out = []
        for i in range(int(data["count"])):
            prefix = f"{i}/s/"
            states = {k[len(prefix) :]: data[k] for k in data.files if k.startswith(prefix)}
            out.append(
                RecordedEpisode(
                    states=states,
                    actions=data[f"{i}/actions"],
                    success=bool(data[f"{i}/success"]),
                    reason=str(data[f"{i}/reason"]),
                    metrics=json.loads(str(data[f"{i}/metrics"]))
                    if f"{i}/metrics" in data.files
                    else {},
                )
            )
    return out


def parent_episodes(record: Any) -> list[RecordedEpisode]:
    """The recorded evaluation episodes of a finished candidate
    (:class:`~agentic_rl.records.CandidateRecord`), from the :data:`EPISODES_FILE` beside its
    packet; empty when it has none (then there is nothing to check against)."""
    if record.packet_path:
        packet = Path(record.packet_path)
        folder = packet if packet.is_dir() else packet.parent
    elif record.run_dir:
        folder = Path(record.run_dir)
    else:
        return []
    path = folder / EPISODES_FILE
    if not path.exists():
        return []
    try:
        return load_episodes(path)
    except (OSError, ValueError, KeyError):
        return []
