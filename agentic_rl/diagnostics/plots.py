"""PNG plots of a diagnosis: training progress, term shares, trajectories, endings, scene.

Drawn with matplotlib's object-oriented API on the Agg canvas (``Figure`` +
``FigureCanvasAgg``): no pyplot, no global backend switch, no display needed, and nothing
left open between calls. Figures are small (a few tens of kB) because they travel into
prompts as image parts.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from agentic_rl.diagnostics.keys import KeyFields, StateLayout
from agentic_rl.diagnostics.packet import DiagnosisPacket
from agentic_rl.diagnostics.rollouts import EpisodeRecord, Rollouts
from agentic_rl.diagnostics.trainlog import TrainLog
from sims.spec import TaskSpec

#: Resolution of every plot.
DPI = 80
#: At most this many failed and this many successful episodes in the trajectory plot.
MAX_TRAJECTORIES = 8
FAIL_COLOR, SUCCESS_COLOR = "#d62728", "#2ca02c"
#: Smallest half-width (m) of each axis of the trajectory plot.
MIN_HALF_SPAN = 0.1


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    # Fast zlib level: these PNGs are written once per candidate and are mostly flat colour.
    fig.savefig(path, dpi=DPI, pil_kwargs={"compress_level": 3})
    return path


def training_plot(log: TrainLog, packet: DiagnosisPacket, path: Path) -> Path | None:
    """Success rate and the task metric over training steps (window means of the trainer),
    with the final nominal evaluation as a marker."""
    steps = log.steps
    success = log.col("rollout/success_rate")
    if not np.isfinite(success).any():
        return None
    metric = packet.task_metric_name
    # Fixed margins instead of a layout engine: constrained layout costs an extra draw.
    fig = Figure(figsize=(6.4, 4.2))
    fig.subplots_adjust(left=0.14, right=0.97, top=0.92, bottom=0.11, hspace=0.12)
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    ax1.plot(steps, success, color="#1f77b4", label="training (last 100 episodes)")
    ax1.scatter(
        [steps[-1]], [packet.nominal.success_rate], color="black", zorder=3, label="evaluation"
    )
    ax1.set_ylim(-0.05, 1.05)
    ax1.set_ylabel("success rate")
    ax1.legend(loc="upper left", fontsize=7)
    if metric:
        values = log.col(f"metrics/{metric}")
        ax2.plot(steps, values, color="#ff7f0e")
        final = packet.nominal.metrics.get(metric)
        if final is not None:
            ax2.scatter([steps[-1]], [final.mean], color="black", zorder=3)
        better = "higher" if packet.task_metric_higher_is_better else "lower"
        ax2.set_ylabel(f"{metric}\n({better} is better)")
    ax2.set_xlabel("environment steps")
    fig.suptitle(f"{packet.task_id.split('/')[-1]} {packet.candidate}: training", fontsize=10)
    return _save(fig, path)


def term_shares_plot(log: TrainLog | None, packet: DiagnosisPacket, path: Path) -> Path | None:
    """Each term's share of the summed |per-episode term sums| over training (stacked), or
    the overall shares as bars when there is no training log."""
    names = [t.name for t in packet.terms]
    if not names:
        return None
    fig = Figure(figsize=(6.4, 3.6))
    fig.subplots_adjust(left=0.11, right=0.74, top=0.9, bottom=0.14)
    ax = fig.subplots()
    if log is not None:
        mags = np.nan_to_num(np.abs(np.array([log.col(f"reward/{n}") for n in names])))
        total = mags.sum(axis=0)
        keep = total > 0
        if keep.any():
            shares = mags[:, keep] / total[keep]
            ax.stackplot(log.steps[keep], shares, labels=names)
            ax.set_xlabel("environment steps")
            ax.set_ylim(0, 1)
            ax.set_ylabel("share of |reward|")
            ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7)
            ax.set_title("reward term shares over training", fontsize=10)
            return _save(fig, path)
    fig.subplots_adjust(left=0.25, right=0.95)
    ax.barh(names, [t.share for t in packet.terms])
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of |reward|")
    ax.set_title("reward term shares", fontsize=10)
    return _save(fig, path)


def _targets(episodes: Sequence[EpisodeRecord], layout: StateLayout, keys: KeyFields) -> np.ndarray:
    """World positions of the robot-relative targets (goal, gate, pad ...) the episodes saw."""
    points = []
    for t in keys.targets:
        # the target's world position: where its vector starts (the robot, or the declared
        # origin of an object-relative goal such as push's cube) plus the vector
        origin = t.origin if t.subject is not None else keys.position
        if not t.primary or origin is None:
            continue
        for ep in episodes:
            world = layout.get(ep.states, origin) + t.sign * layout.get(ep.states, t.field)
            points.append(np.round(world, 2))
    if not points:
        return np.zeros((0, 3))
    return np.unique(np.concatenate(points), axis=0)[:50]


def trajectory_plot(rollouts: Rollouts, spec: TaskSpec, path: Path, title: str = "") -> Path | None:
    """3-D paths of failed (red, x at the end) and successful (green, * at the end) episodes,
    with the targets they were after (black diamonds). Drones: body position; arms: end
    effector."""
    layout, keys = StateLayout(spec), KeyFields.for_spec(spec)
    if keys.position is None or not rollouts.episodes:
        return None
    failed = [e for e in rollouts.episodes if not e.success][:MAX_TRAJECTORIES]
    won = [e for e in rollouts.episodes if e.success][:MAX_TRAJECTORIES]
    fig = Figure(figsize=(5.6, 5.0))
    fig.subplots_adjust(left=0.0, right=0.95, top=0.95, bottom=0.03)
    ax: Any = fig.add_subplot(projection="3d")
    for group, color, end in ((failed, FAIL_COLOR, "x"), (won, SUCCESS_COLOR, "*")):
        for i, ep in enumerate(group):
            pos = layout.get(ep.states, keys.position)
            label = None
            if i == 0:
                label = f"{'failed' if color == FAIL_COLOR else 'successful'} ({len(group)})"
            ax.plot(pos[:, 0], pos[:, 1], pos[:, 2], color=color, lw=1, alpha=0.8, label=label)
            ax.scatter(*pos[0], color=color, marker="o", s=12)
            ax.scatter(*pos[-1], color=color, marker=end, s=40)
    targets = _targets(failed + won, layout, keys)
    if len(targets):
        label = keys.primary.label.removeprefix("the ") if keys.primary else "target"
        ax.scatter(*targets.T, color="black", marker="D", s=25, label=label)
    # A robot that barely moved would otherwise get micrometre axes with offset labels.
    shown = np.concatenate([targets, *(layout.get(e.states, keys.position) for e in failed + won)])
    low, high = shown.min(axis=0), shown.max(axis=0)
    mid, half = (low + high) / 2, np.maximum((high - low) / 2, MIN_HALF_SPAN)
    ax.set_xlim(mid[0] - half[0], mid[0] + half[0])
    ax.set_ylim(mid[1] - half[1], mid[1] + half[1])
    ax.set_zlim(mid[2] - half[2], mid[2] + half[2])
    unit = layout.unit(keys.position)
    ax.set_xlabel(f"x [{unit}]")
    ax.set_ylabel(f"y [{unit}]")
    ax.set_zlabel(f"z [{unit}]")
    ax.legend(loc="upper left", fontsize=7)
    noun = keys.noun.removeprefix("the ")
    ax.set_title(title or f"{noun} trajectories ({keys.position})", fontsize=10)
    return _save(fig, path)


def termination_plot(packet: DiagnosisPacket, path: Path) -> Path:
    """Termination-reason histogram, nominal vs randomized physics side by side."""
    sums = [packet.nominal] + ([packet.randomized] if packet.randomized else [])
    reasons = list(dict.fromkeys(r for s in sums for r in s.termination_reasons))
    fig = Figure(figsize=(6.0, 3.4))
    fig.subplots_adjust(left=0.1, right=0.97, top=0.9, bottom=0.14)
    ax = fig.subplots()
    width = 0.8 / len(sums)
    x = np.arange(len(reasons))
    for k, s in enumerate(sums):
        counts = [s.termination_reasons.get(r, 0) for r in reasons]
        label = f"{'randomized' if s.randomized else 'nominal'} ({s.success_rate:.0%} success)"
        ax.bar(x + (k - (len(sums) - 1) / 2) * width, counts, width, label=label)
    ax.set_xticks(x, reasons)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("episodes")
    ax.legend(fontsize=7)
    ax.set_title("how evaluation episodes ended", fontsize=10)
    return _save(fig, path)


def scene_plot(packet: DiagnosisPacket, rollouts: Rollouts, path: Path) -> Path | None:
    """The task's overview camera at the end of the first exemplar (the most common failure,
    else the success), as its episode kept it; ``None`` when the episodes kept no scenes."""
    from matplotlib.image import imsave

    shown = rollouts.nominal[0] if rollouts.nominal else None
    if packet.exemplars:
        e = packet.exemplars[0]
        shown = next(
            (x for x in rollouts.episodes if x.seed == e.seed and x.randomized == e.randomized),
            shown,
        )
    if shown is None or shown.scene is None:
        return None
    imsave(path, shown.scene)
    return path


def write_plots(
    packet: DiagnosisPacket,
    spec: TaskSpec,
    rollouts: Rollouts,
    log: TrainLog | None,
    out_dir: str | Path,
) -> tuple[dict[str, str], str | None]:
    """Draw every plot that has data into ``out_dir``.

    Returns:
        ``({name: absolute PNG path}, scene image path or None)``; names are ``training``,
        ``term_shares``, ``trajectories`` and ``terminations``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    made = {
        "training": training_plot(log, packet, out / "training.png") if log else None,
        "term_shares": term_shares_plot(log, packet, out / "term_shares.png"),
        "trajectories": trajectory_plot(rollouts, spec, out / "trajectories.png"),
        "terminations": termination_plot(packet, out / "terminations.png"),
    }
    plots = {k: str(p.resolve()) for k, p in made.items() if p is not None}
    path = scene_plot(packet, rollouts, out / "scene.png")
    return plots, str(path.resolve()) if path else None
