"""Seeded evaluation of a policy on a task, and rollout videos.

Evaluation is ground truth only: success, termination reason and the task's own metrics
(never the candidate's reward), over fixed seeds, with nominal or randomized physics.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from agentic_rl.ppo.envs import canonical_task_id, env_factory
from agentic_rl.ppo.networks import Policy
from sims.rollout import Episode, run_episodes

#: What :func:`evaluate` accepts as a policy: a :class:`Policy`, any callable mapping one
#: observation to one action, or a path to a checkpoint / run folder / ``policy.npz``.
PolicyLike = Policy | Callable[[np.ndarray], np.ndarray] | str | Path


@dataclass
class EvalResult:
    """Outcome of :func:`evaluate`: a view over its episodes (picklable; JSON via ``to_dict``).

    Attributes:
        task_id: the task the episodes ran on.
        randomized: whether physics varied from episode to episode.
        runs: the episodes (outcomes only: evaluation does not record steps).
    """

    task_id: str
    randomized: bool
    runs: list[Episode] = field(default_factory=list)

    @property
    def episodes(self) -> int:
        return len(self.runs)

    @property
    def seeds(self) -> list[int]:
        return [e.seed for e in self.runs]

    @property
    def successes(self) -> list[bool]:
        return [e.success for e in self.runs]

    @property
    def termination_reasons(self) -> dict[str, int]:
        """Histogram of termination reasons, in order of first appearance."""
        return dict(Counter(str(e.reason) for e in self.runs))

    @property
    def task_metrics(self) -> list[dict[str, float]]:
        return [e.metrics for e in self.runs]

    @property
    def returns(self) -> list[float]:
        return [e.ret for e in self.runs]

    @property
    def lengths(self) -> list[int]:
        return [e.length for e in self.runs]

    @property
    def success_rate(self) -> float:
        """Fraction of successful episodes (0 when no episode ran)."""
        return float(np.mean(self.successes)) if self.runs else 0.0

    def mean_metrics(self) -> dict[str, float]:
        """Each task metric averaged over episodes (episodes lacking a metric are skipped)."""
        keys = sorted({k for m in self.task_metrics for k in m})
        return {k: float(np.mean([m[k] for m in self.task_metrics if k in m])) for k in keys}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict including the derived success rate and metric means."""
        return {
            "task_id": self.task_id,
            "randomized": self.randomized,
            "seeds": self.seeds,
            "successes": self.successes,
            "termination_reasons": self.termination_reasons,
            "task_metrics": self.task_metrics,
            "returns": self.returns,
            "lengths": self.lengths,
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
    try:
        runs = run_episodes(env, act, seeds)
    finally:
        env.close()
    return EvalResult(task_id, bool(randomized), runs)


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
    try:
        runs = run_episodes(env, act, range(seed, seed + episodes), frames=True)
        fps = int(env.metadata.get("render_fps", 30))
    finally:
        env.close()
    frames = [f for run in runs for f in run.frames]
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".gif":
        write_gif(frames, path, fps)
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


def write_gif(frames: Sequence[np.ndarray], path: str | Path, fps: float) -> Path:
    """Write RGB frames (H, W, 3, uint8) as a looping GIF (Pillow) at ``fps``."""
    from PIL import Image

    path = Path(path)
    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    return path
