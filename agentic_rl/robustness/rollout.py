"""The policy under test and a seeded episode runner with per-episode physics.

Robustness checks run many short evaluations of one policy, each under different physics: one
parameter pinned to a value (the sweep), values drawn from ranges (joint randomization), or a
physics configuration the task env is built with (ground effect, the ROS action filter). So
unlike :func:`agentic_rl.ppo.evaluate`, which builds an env per call and randomizes from the
env's own ranges, the runner here keeps one env per configuration and pins every episode's
parameters through ``reset(options={"params": ...})``: the draws are ours, reproducible from
the seed, and the same seeds see the same goals at every point of a sweep (common random
numbers, so differences between points come from the physics, not from the layouts).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import sims
from agentic_rl.ppo import EvalResult, Policy
from agentic_rl.runfiles import run_task
from sims.randomization import sample
from sims.rollout import ActFn, ParamsArg, PerEpisode, run_episodes


class RobustnessError(ValueError):
    """A robustness request that cannot be run as given (bad policy source, task mismatch)."""


@dataclass
class PolicyUnderTest:
    """A policy and what is known about how it was trained.

    Attributes:
        act: observation -> action (deterministic).
        task_id: the task the policy was trained on.
        action_mode: the action mode it was trained in (``None``: the task's default).
        source: where it came from (a bundle folder, a run folder, ``"<callable>"``).
        sha256: hash of its weights (identifies the policy for caching); ``None`` if unknown.
        train_randomize: the ``randomize`` argument it was trained with, when recorded
            (``False``, ``True`` for the spec's ranges, or ``{param: [low, high]}``).
    """

    act: ActFn
    task_id: str
    action_mode: str | None = None
    source: str = "<callable>"
    sha256: str | None = None
    train_randomize: bool | dict[str, list[float]] | None = None

    def train_ranges(self) -> dict[str, tuple[float, float]] | None:
        """The training ranges resolved against the spec (``None`` when not recorded)."""
        if self.train_randomize is None:
            return None
        spec = sims.get_spec(self.task_id, self.action_mode)
        if self.train_randomize is True:
            return {p.name: (p.low, p.high) for p in spec.randomization}
        if not self.train_randomize:
            return {}
        return {k: (float(v[0]), float(v[1])) for k, v in self.train_randomize.items()}


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_policy_source(
    source: str | Path | Policy | ActFn, task: str | None = None
) -> PolicyUnderTest:
    """Resolve what the user points at into a :class:`PolicyUnderTest`.

    Args:
        source: a PolicyBundle folder (its ``policy.onnx`` is run through
            ``ros_bridge``, exactly the artifact a robot flies), a training run folder, a
            ``checkpoint.pt`` or ``policy.npz``, a :class:`Policy`, or any callable.
        task: the task; required for a callable or a Policy, checked against the bundle's or
            run's own task otherwise.

    Raises:
        RobustnessError: when the source does not exist, the task is missing, or the task
            differs from the one the policy was trained on.
    """
    if isinstance(source, Policy) or (callable(source) and not isinstance(source, (str, Path))):
        if task is None:
            raise RobustnessError("a policy object needs task=...: the task it was trained on")
        act = source.act if isinstance(source, Policy) else source
        return PolicyUnderTest(act=act, task_id=sims.resolve(task)[0])
    path = Path(source)
    if not path.exists():
        raise RobustnessError(
            f"no policy at {path}: pass a PolicyBundle folder (e.g. runs/<task>/<run>/best), "
            "a training run folder, a checkpoint.pt or a policy.npz"
        )
    if path.is_dir() and (path / "bundle.json").is_file():
        return _from_bundle(path, task)
    return _from_run(path, task)


def _check_task(own: str | None, task: str | None, where: Path) -> str:
    wanted = sims.resolve(task)[0] if task else None
    if own is None and wanted is None:
        raise RobustnessError(f"{where} does not record its task; pass --task")
    if own is not None and wanted is not None and own != wanted:
        raise RobustnessError(
            f"{where} holds a policy trained on {own}, not {wanted}; pass --task {own} "
            "or point at a policy of that task"
        )
    return wanted or str(own)


def _from_bundle(path: Path, task: str | None) -> PolicyUnderTest:
    from ros_bridge import BundleError, load_bundle

    try:
        bundle = load_bundle(path)
    except BundleError as exc:
        raise RobustnessError(str(exc)) from None
    task_id = _check_task(sims.recall(bundle.task_id, bundle.meta.task.path), task, path)
    train_config = bundle.meta.train_config or {}
    return PolicyUnderTest(
        act=bundle.make_policy(),
        task_id=task_id,
        action_mode=bundle.meta.action.mode,
        source=str(path),
        sha256=_file_sha256(path / "weights.npz"),
        train_randomize=train_config.get("randomize"),
    )


def _from_run(path: Path, task: str | None) -> PolicyUnderTest:
    from agentic_rl.ppo import CheckpointError, load_policy

    try:
        policy = load_policy(path)
    except (CheckpointError, OSError, KeyError) as exc:
        raise RobustnessError(f"cannot load a policy from {path}: {exc}") from None
    run_dir = path if path.is_dir() else path.parent
    config: dict[str, Any] = {}
    if (run_dir / "config.json").is_file():
        config = json.loads((run_dir / "config.json").read_text())
    task_id = _check_task(run_task(run_dir), task, path)
    weights = run_dir / "policy.npz"
    return PolicyUnderTest(
        act=policy.act,
        task_id=task_id,
        source=str(path),
        sha256=_file_sha256(weights) if weights.is_file() else None,
        train_randomize=config.get("randomize"),
    )


def joint_sampler(
    task_id: str, ranges: Mapping[str, tuple[float, float]], seed: int
) -> Callable[[int], dict[str, float]]:
    """Per-episode parameter draws, uniform within ``ranges`` (nominal elsewhere).

    The draw of an episode depends only on ``(seed, episode seed)``, so two policies evaluated
    with the same sampler face exactly the same physics episode by episode.
    """
    params = sims.get_spec(task_id).randomization
    checked = dict(ranges)

    def draw(episode_seed: int) -> dict[str, float]:
        rng = np.random.default_rng([seed, episode_seed])
        return sample(params, checked, rng)

    return draw


class EpisodeRunner:
    """Runs seeded episodes of one policy in one env (built once, reused for every call).

    Args:
        policy: the policy under test.
        env_kwargs: extra task constructor arguments (e.g. ``ground_effect=True``).
        actor: builds the per-episode action function from the policy's (used to put the ROS
            runtime's action filter between policy and env); default: the policy itself.
    """

    def __init__(
        self,
        policy: PolicyUnderTest,
        env_kwargs: Mapping[str, Any] | None = None,
        actor: Callable[[ActFn], ActFn] | None = None,
    ) -> None:
        self.policy = policy
        self.actor = actor
        try:
            self.env = sims.make(
                policy.task_id, action_mode=policy.action_mode, **dict(env_kwargs or {})
            )
        except TypeError as exc:
            raise RobustnessError(
                f"{policy.task_id} does not accept {sorted(env_kwargs or {})}: {exc}"
            ) from None
        self.spec = self.env.task_spec

    def run(self, seeds: Iterable[int], params: ParamsArg = None) -> EvalResult:
        """Evaluate one episode per seed with the given physics.

        Args:
            seeds: reset seed of each episode.
            params: parameter values pinned in every episode, or a function of the episode
                seed returning them (joint randomization); ``None`` is nominal physics.

        Returns:
            An :class:`~agentic_rl.ppo.EvalResult` (``randomized`` is True when the values
            vary per episode).
        """
        if self.actor is None:
            policy: ActFn | PerEpisode = self.policy.act
        else:  # a fresh filter each episode, as the runtime starts one per activation
            actor, act = self.actor, self.policy.act
            policy = PerEpisode(lambda _index, _seed: actor(act))
        runs = run_episodes(self.env, policy, seeds, params=params)
        return EvalResult(self.policy.task_id, callable(params), runs)

    def close(self) -> None:
        self.env.close()

    def __enter__(self) -> EpisodeRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
