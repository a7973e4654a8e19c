"""What a person looks at to judge a policy: a follow-camera GIF and trajectory plots.

The report shows these for the run's best policy and, for contrast, for iteration 0's best.
Everything is read from the task's declarations (``spec.body.position`` for where the robot
is, the goal's primary error for where it should go), so custom tasks get the same views.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: Colours of successful and failed episodes in every plot.
SUCCESS_COLOUR, FAILURE_COLOUR = "#22863a", "#cb2431"


@dataclass(frozen=True)
class Track:
    """One episode as the plots need it.

    Attributes:
        positions: (T, 3) world positions of the robot's controlled point, m.
        goals: (T, 3) world goal points (None where the task has no 3-D goal offset).
        success: whether the episode met the task's success criterion.
        reason: the termination reason.
    """

    positions: np.ndarray
    goals: np.ndarray | None
    success: bool
    reason: str


def tracks_from_states(
    spec: Any, episodes: Sequence[tuple[Sequence[Any], bool, str]]
) -> list[Track]:
    """Tracks from recorded episodes: ``(states, success, reason)`` per episode.

    ``states`` are the per-step state snapshots (mappings of field name to value). Returns an
    empty list when the spec declares no position field.
    """
    from sims.semantics import goal_point

    pos_field = spec.body.position
    if pos_field is None:
        return []
    tracks = []
    for states, success, reason in episodes:
        if not states:
            continue
        pos = np.array([np.asarray(s[pos_field], dtype=float) for s in states])
        points = [goal_point(spec, s) for s in states]
        goals = None if points[0] is None else np.array(points)
        tracks.append(Track(pos, goals, bool(success), str(reason)))
    return tracks


def trajectory_figure(tracks: Sequence[Track], title: str) -> Any:
    """A top view (x-y) and a side view (x-z) of the tracks, success green, failure red.

    Start points are circles, end points crosses; goals are stars (every distinct goal an
    episode had, e.g. each gate in turn).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))
    views = (("top view", 0, 1, "y (m)"), ("side view", 0, 2, "z (m)"))
    for ax, (name, i, j, ylabel) in zip(axes, views, strict=True):
        for t in tracks:
            colour = SUCCESS_COLOUR if t.success else FAILURE_COLOUR
            ax.plot(t.positions[:, i], t.positions[:, j], color=colour, lw=1.3, alpha=0.8)
            ax.plot(t.positions[0, i], t.positions[0, j], "o", color=colour, ms=4)
            ax.plot(t.positions[-1, i], t.positions[-1, j], "x", color=colour, ms=7, mew=2)
            if t.goals is not None:
                distinct = _distinct_rows(t.goals)
                ax.plot(distinct[:, i], distinct[:, j], "*", color="#1f6feb", ms=11, mec="k")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("x (m)")
        ax.set_ylabel(ylabel)
        ax.set_aspect("equal", adjustable="datalim")
        ax.grid(alpha=0.3)
    ok = sum(t.success for t in tracks)
    failed = [t.reason for t in tracks if not t.success]
    ends = ", ".join(f"{r} x{failed.count(r)}" for r in sorted(set(failed)))
    fig.suptitle(
        f"{title}: {ok}/{len(tracks)} successful (green)"
        + (f"; failed (red): {ends}" if failed else "")
        + "  o start  x end  * goal",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def _distinct_rows(points: np.ndarray, tol: float = 0.05) -> np.ndarray:
    """Rows of ``points`` that differ from the previous kept row by more than ``tol``."""
    kept = [points[0]]
    for row in points[1:]:
        if np.all(np.isfinite(row)) and np.linalg.norm(row - kept[-1]) > tol:
            kept.append(row)
    return np.array(kept)


def save_trajectory_plot(tracks: Sequence[Track], title: str, path: str | Path) -> Path | None:
    """Write :func:`trajectory_figure` as a PNG; None when there is nothing to draw."""
    if not tracks:
        return None
    import matplotlib.pyplot as plt

    fig = trajectory_figure(tracks, title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    plt.close(fig)
    return path


@dataclass(frozen=True)
class PolicyViews:
    """Files written by :func:`write_policy_views` (None where nothing could be drawn)."""

    gif: Path | None
    trajectories: Path | None
    successes: int
    episodes: int


def write_policy_views(
    policy_file: str | Path,
    task_id: str,
    out_dir: str | Path,
    seeds: Sequence[int],
    title: str,
    size: tuple[int, int] = (400, 300),
) -> PolicyViews:
    """Run ``seeds`` episodes of a policy; write ``follow.gif`` and ``trajectories.png``.

    The GIF shows the first episode through the follow camera (the robot with its goal in
    view); the plot shows every episode from above and from the side.

    Args:
        policy_file: ``policy.npz`` or a checkpoint of a trained policy.
        task_id: the task it was trained on.
        out_dir: folder to write into (created).
        seeds: evaluation seeds (from :mod:`agentic_rl.seeds`; never training seeds).
        title: names the policy in the plot, e.g. ``"final best (i2/c1)"``.
        size: GIF frame size in pixels.
    """
    import sims
    from agentic_rl.ppo import load_policy
    from agentic_rl.ppo.evaluate import write_gif
    from sims.rollout import run_episodes

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    act = load_policy(policy_file).act
    env = sims.make(task_id, render_mode="rgb_array", render_size=size)
    try:
        spec = env.unwrapped.task_spec
        shown = run_episodes(env, act, list(seeds)[:1], record=True, frames=True)
        rest = run_episodes(env, act, list(seeds)[1:], record=True)
        fps = int(env.metadata.get("render_fps", 30))
    finally:
        env.close()
    episodes = shown + rest
    gif = None
    if shown and shown[0].frames:  # every other frame at half the rate: half the bytes
        gif = write_gif(shown[0].frames[::2], out / "follow.gif", fps / 2)
    tracks = tracks_from_states(spec, [(e.states or [], e.success, e.reason) for e in episodes])
    plot = save_trajectory_plot(tracks, title, out / "trajectories.png")
    return PolicyViews(gif, plot, sum(e.success for e in episodes), len(episodes))
