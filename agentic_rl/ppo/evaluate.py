"""Seeded evaluation of a policy on a task, and rollout videos.

Evaluation is ground truth only: success, termination reason and the task's own metrics
(never the candidate's reward), over fixed seeds, with nominal or randomized physics.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agentic_rl.ppo.envs import canonical_task_id, env_factory
from agentic_rl.ppo.networks import Policy

#: What :func:`evaluate` accepts as a policy: a :class:`Policy`, any callable mapping one
#: observation to one action, or a path to a checkpoint / run folder / ``policy.npz``.
PolicyLike = Policy | Callable[[np.ndarray], np.ndarray] | str | Path


@dataclass
class EvalResult:
    """Outcome of :func:`evaluate` (plain data, picklable and JSON-friendly via ``asdict``)."""

    task_id: str
    randomized: bool
    seeds: list[int]
    successes: list[bool]
    termination_reasons: dict[str, int]
    task_metrics: list[dict[str, float]] = field(default_factory=list)
    returns: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)

    @property
    def episodes(self) -> int:
        return len(self.seeds)

    @property
    def success_rate(self) -> float:
        """Fraction of successful episodes (0 when no episode ran)."""
        return float(np.mean(self.successes)) if self.successes else 0.0

    def mean_metrics(self) -> dict[str, float]:
        """Each task metric averaged over episodes (episodes lacking a metric are skipped)."""
        keys = sorted({k for m in self.task_metrics for k in m})
        return {k: float(np.mean([m[k] for m in self.task_metrics if k in m])) for k in keys}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict including the derived success rate and metric means."""
        return {
            **asdict(self),
            "success_rate": self.success_rate,
            "mean_metrics": self.mean_metrics(),
        }


def load_policy(source: str | Path) -> Policy:
    """A :class:`Policy` from a checkpoint file, a run folder or a ``policy.npz`` file."""
    path = Path(source)
    if path.suffix == ".npz":
        return Policy.load(path)
    from agentic_rl.ppo.trainer import policy_from_checkpoint

    return policy_from_checkpoint(path)


def _as_callable(policy: PolicyLike) -> Callable[[np.ndarray], np.ndarray]:
    if isinstance(policy, (str, Path)):
        return load_policy(policy).act
    if isinstance(policy, Policy):
        return policy.act
    if callable(policy):
        return policy
    raise TypeError(f"policy must be a Policy, a callable or a path, got {type(policy).__name__}")


def evaluate(
    policy: PolicyLike,
    task_id: str,
    episodes: int = 100,
    seeds: Sequence[int] | None = None,
    randomized: bool = False,
    reward: Callable[..., Any] | None = None,
) -> EvalResult:
    """Run ``episodes`` seeded episodes of the deterministic policy and report ground truth.

    Args:
        policy: the policy to run (see :data:`PolicyLike`).
        task_id: the task, by any name :mod:`sims` accepts (or a gymnasium id).
        episodes: number of episodes; ignored when ``seeds`` is given.
        seeds: reset seed of each episode; default ``0 .. episodes-1``.
        randomized: sample the task's domain-randomization ranges each episode.
        reward: an optional reward callable, only to report returns under it.

    Returns:
        An :class:`EvalResult` with success rate, termination-reason histogram and the task
        metrics of every episode.
    """
    act = _as_callable(policy)
    task_id = canonical_task_id(task_id)
    seeds = list(range(episodes)) if seeds is None else [int(s) for s in seeds]
    env = env_factory(task_id, reward_fn=reward, randomize=randomized)()
    result = EvalResult(task_id, bool(randomized), seeds, [], {})
    reasons: Counter[str] = Counter()
    try:
        for seed in seeds:
            obs, _ = env.reset(seed=seed)
            ret, length, done = 0.0, 0, False
            info: dict[str, Any] = {}
            while not done:
                obs, r, term, trunc, info = env.step(act(np.asarray(obs)))
                ret += float(r)
                length += 1
                done = term or trunc
            reason = info.get("termination_reason") or ("timeout" if trunc else "terminated")
            reasons[str(reason)] += 1
            result.successes.append(bool(info.get("is_success", False)))
            result.task_metrics.append(
                {k: float(v) for k, v in info.get("task_metrics", {}).items()}
            )
            result.returns.append(ret)
            result.lengths.append(length)
    finally:
        env.close()
    result.termination_reasons = dict(reasons)
    return result


def record_video(
    policy: PolicyLike,
    task_id: str,
    path: str | Path,
    episodes: int = 1,
    seed: int = 0,
    randomized: bool = False,
    size: tuple[int, int] = (320, 240),
) -> Path:
    """Render ``episodes`` episodes of the policy to a ``.gif`` (Pillow) or ``.mp4`` (imageio).

    Raises:
        ValueError: for an extension other than .gif or .mp4.
        ImportError: for .mp4 without the ``video`` extra (imageio + imageio-ffmpeg).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".gif", ".mp4"):
        raise ValueError(f"video path must end in .gif or .mp4, got {path.name!r}")
    act = _as_callable(policy)
    task_id = canonical_task_id(task_id)
    from agentic_rl.ppo.envs import is_sims_task

    if is_sims_task(task_id):
        import sims

        env = sims.make(task_id, randomize=randomized, render_mode="rgb_array", render_size=size)
    else:
        env = env_factory(task_id, render_mode="rgb_array")()
    frames: list[np.ndarray] = []
    try:
        for k in range(episodes):
            obs, _ = env.reset(seed=seed + k)
            frames.append(env.render())
            done = False
            while not done:
                obs, _, term, trunc, _ = env.step(act(np.asarray(obs)))
                frames.append(env.render())
                done = term or trunc
        fps = int(env.metadata.get("render_fps", 30))
    finally:
        env.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".gif":
        from PIL import Image

        images = [Image.fromarray(f) for f in frames]
        images[0].save(
            path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0
        )
    else:
        try:
            import imageio.v2 as imageio
        except ImportError as exc:
            raise ImportError(
                "writing .mp4 needs imageio and imageio-ffmpeg: pip install 'agentic-rl[video]', "
                "or ask for a .gif"
            ) from exc
        imageio.mimwrite(path, frames, fps=fps)
    return path
