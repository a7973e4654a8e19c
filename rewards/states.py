"""Recorded states for the smoke run: real transitions of the task env, cached per task.

The smoke run calls a candidate reward on a few hundred (state, action, prev_state) triples.
They come from stepping the real env (``sims.make``) with smoothed random actions, so they
include what training will show the reward: resets, fast motion, crashes, contact. When the
env cannot be built (a spec without an implementation, a plugin that fails to import), they
are synthesized from the spec's field shapes instead.

Batches are cached in memory and, keyed by a hash of the full spec, under the system temp
dir, so each worker process records them at most once per task.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rewards.program import RewardContext

if TYPE_CHECKING:
    from sims.spec import TaskSpec

#: Transitions recorded per task.
DEFAULT_STATES = 256
_CACHE_VERSION = 1
_memory: dict[str, StateBatch] = {}


class FrozenState(dict):
    """A read-only state snapshot like the one ``SimTask`` hands to rewards.

    A dict subclass (as in ``sims.base``) whose mutators raise, holding read-only arrays
    for vector fields and numpy scalars for scalar fields.
    """

    __slots__ = ()

    def _readonly(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("the state snapshot is read-only; copy a field to change it")

    __setitem__ = __delitem__ = __ior__ = _readonly  # type: ignore[assignment]
    update = pop = popitem = clear = setdefault = _readonly  # type: ignore[assignment]


@dataclass(frozen=True)
class StateBatch:
    """Stacked transitions: ``fields[name][i]`` is field ``name`` of state ``i``.

    Attributes:
        fields: state after each action, name -> array of shape (N, *field_shape).
        prev_fields: state before each action, same layout.
        actions: the actions, shape (N, *action_shape).
        origin: ``"env"`` (recorded from the task) or ``"synthetic"``.
    """

    fields: Mapping[str, np.ndarray]
    prev_fields: Mapping[str, np.ndarray]
    actions: np.ndarray
    origin: str

    def __len__(self) -> int:
        return int(self.actions.shape[0])

    def transitions(self) -> Iterator[tuple[FrozenState, np.ndarray, FrozenState]]:
        """Yield (state, action, prev_state) with the env's read-only snapshot semantics."""
        fields = {k: _readonly(v) for k, v in self.fields.items()}
        prev = {k: _readonly(v) for k, v in self.prev_fields.items()}
        for i in range(len(self)):
            yield (
                FrozenState((k, _item(v, i)) for k, v in fields.items()),
                self.actions[i].copy(),
                FrozenState((k, _item(v, i)) for k, v in prev.items()),
            )

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Flat name -> array dict (for ``np.savez``)."""
        out = {f"s:{k}": v for k, v in self.fields.items()}
        out.update({f"p:{k}": v for k, v in self.prev_fields.items()})
        out["actions"] = self.actions
        out["origin"] = np.array(self.origin)
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> StateBatch:
        """Inverse of :meth:`to_arrays`."""
        return cls(
            fields={k[2:]: np.asarray(v) for k, v in arrays.items() if k.startswith("s:")},
            prev_fields={k[2:]: np.asarray(v) for k, v in arrays.items() if k.startswith("p:")},
            actions=np.asarray(arrays["actions"]),
            origin=str(arrays["origin"]),
        )


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.float64)
    a.flags.writeable = False
    return a


def _item(stacked: np.ndarray, i: int) -> Any:
    # Scalar fields are numpy scalars in the env's snapshot, vectors read-only views.
    return stacked[i] if stacked.ndim > 1 else np.float64(stacked[i])


def recorded_states(
    spec: TaskSpec | RewardContext, n: int = DEFAULT_STATES, seed: int = 0
) -> StateBatch:
    """Transitions for the smoke run of a task, recorded once and cached.

    Args:
        spec: a :class:`sims.TaskSpec` (states are recorded from its env) or a bare
            :class:`RewardContext` (states are synthesized).
        n: number of transitions.
        seed: seed of the random actions.
    """
    ctx = RewardContext.from_spec(spec)
    if isinstance(spec, RewardContext):
        return synthetic_states(ctx, n, seed)
    digest = hashlib.sha256(spec.model_dump_json().encode()).hexdigest()[:16]
    key = f"{_safe(ctx.task_id)}-{spec.action.mode}-{digest}-{n}-{seed}-v{_CACHE_VERSION}"
    if key in _memory:
        return _memory[key]
    path = Path(tempfile.gettempdir()) / "agentic_rl_reward_states" / f"{key}.npz"
    batch = _load(path)
    if batch is None:
        try:
            batch = _record(spec, n, seed)
        except Exception:  # no env for this spec: fall back to its declared shapes
            batch = synthetic_states(ctx, n, seed)
        _save(path, batch)
    _memory[key] = batch
    return batch


def _safe(task_id: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in task_id)


def _load(path: Path) -> StateBatch | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            return StateBatch.from_arrays({k: data[k] for k in data.files})
    except (OSError, ValueError, KeyError):
        return None


def _save(path: Path, batch: StateBatch) -> None:
    # Write to a private temp file and rename, so concurrent workers never read a torn file.
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **batch.to_arrays())
        os.replace(tmp, path)
    except OSError:
        pass  # the cache is an optimization; a read-only temp dir just means re-recording


def _record(spec: TaskSpec, n: int, seed: int) -> StateBatch:
    import sims  # only here: the sandboxed child and plain imports of rewards never need it
    from sims.rollout import PerEpisode, run_episodes

    env = sims.make(spec.id, action_mode=spec.action.mode)
    names = spec.field_names
    rng = np.random.default_rng(seed)
    shape = env.action_space.shape

    def noise(episode: int, _seed: int) -> Callable[[np.ndarray], np.ndarray]:
        # Alternate calm and wild episodes: smoothed noise of different sizes, so the
        # batch has near-goal states as well as crashes.
        scale = (0.2, 0.6, 1.0)[episode % 3]
        a = np.zeros(shape)

        def act(_obs: np.ndarray) -> np.ndarray:
            nonlocal a
            a = np.clip(0.8 * a + scale * rng.normal(0.0, 0.5, shape), -1.0, 1.0)
            return a

        return act

    episode_seeds = (seed * 1000 + episode for episode in itertools.count())
    try:
        runs = run_episodes(env, PerEpisode(noise), episode_seeds, record=True, max_steps=n)
    finally:
        env.close()
    steps = [
        (state, prev, action)
        for run in runs
        for state, prev, action in zip(run.states[1:], run.states[:-1], run.actions, strict=True)
    ]
    return StateBatch(
        fields={k: np.stack([np.asarray(s[k], np.float64) for s, _, _ in steps]) for k in names},
        prev_fields={
            k: np.stack([np.asarray(p[k], np.float64) for _, p, _ in steps]) for k in names
        },
        actions=np.stack([a for _, _, a in steps]),
        origin="env",
    )


def synthetic_states(ctx: RewardContext, n: int = DEFAULT_STATES, seed: int = 0) -> StateBatch:
    """Random states with the spec's field shapes (used when no env can be built).

    Values are standard normal, except fields named like quaternions (unit length) and
    scalar angles called ``tilt`` (non-negative); one state is all zeros, since a reward
    must survive the degenerate case too (zero distance, zero velocity).
    """
    rng = np.random.default_rng(seed)

    def draw() -> dict[str, np.ndarray]:
        out = {}
        for name, shape in ctx.field_shapes:
            v = rng.normal(0.0, 1.0, (n, *shape))
            if "quat" in name and shape == (4,):
                v /= np.linalg.norm(v, axis=1, keepdims=True)
            elif name == "tilt":
                v = np.abs(v) * 0.5
            v[0] = 0.0
            out[name] = v
        return out

    actions = np.clip(rng.normal(0.0, 0.5, (n, *ctx.action_shape)), -1.0, 1.0)
    return StateBatch(fields=draw(), prev_fields=draw(), actions=actions, origin="synthetic")


def batch_from_transitions(
    transitions: list[tuple[Mapping[str, Any], np.ndarray, Mapping[str, Any]]],
) -> StateBatch:
    """Build a batch from explicit (state, action, prev_state) triples (tests, replays)."""
    if not transitions:
        raise ValueError("need at least one transition")
    names = list(transitions[0][0])
    return StateBatch(
        fields={k: np.stack([np.asarray(s[k], float) for s, _, _ in transitions]) for k in names},
        prev_fields={
            k: np.stack([np.asarray(p[k], float) for _, _, p in transitions]) for k in names
        },
        actions=np.stack([np.asarray(a, float) for _, a, _ in transitions]),
        origin="given",
    )


__all__ = [
    "DEFAULT_STATES",
    "FrozenState",
    "StateBatch",
    "batch_from_transitions",
    "recorded_states",
    "synthetic_states",
]
