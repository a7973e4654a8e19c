"""Assembling a DiagnosisPacket: evaluation episodes + training log -> packet, files, plots.

Two entry points:

* :func:`build_packet` turns already-run evaluation episodes (:class:`Rollouts`) and a
  ``train.csv`` into a packet: curves, term statistics, evaluation summaries, exemplars and
  findings. Pure computation on data in memory (plus reading the CSV); well under a second.
* :func:`diagnose` is what the refinement loop calls per trained candidate: it runs the
  seeded evaluation episodes, builds the packet, draws the plots and writes ``packet.json``,
  ``packet.txt`` and ``packet.schema.json`` into the candidate's folder.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from agentic_rl.diagnostics.exemplars import exemplars
from agentic_rl.diagnostics.findings import compute_findings, trend
from agentic_rl.diagnostics.packet import (
    CurvePoint,
    DiagnosisPacket,
    EvalSummary,
    MetricStats,
    TermStats,
)
from agentic_rl.diagnostics.render import DEFAULT_BUDGET_TOKENS, render_text
from agentic_rl.diagnostics.rollouts import (
    SCENE_SIZE,
    EpisodeRecord,
    Rollouts,
    resolve_policy,
    run_rollouts,
)
from agentic_rl.diagnostics.trainlog import TrainLog
from agentic_rl.ppo.evaluate import PolicyLike
from sims.randomization import RandomizeArg
from sims.spec import TaskSpec

#: Training sample points in the packet's curves.
CURVE_POINTS = 10


def _spec(task: str | TaskSpec) -> TaskSpec:
    if isinstance(task, TaskSpec):
        return task
    import sims

    return sims.get_spec(task)


def _opt(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def metric_stats(values: Sequence[float]) -> MetricStats | None:
    """Mean, std, min and max of the finite values (``None`` if there are none)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if not v.size:
        return None
    return MetricStats(
        mean=float(v.mean()), std=float(v.std()), min=float(v.min()), max=float(v.max())
    )


def task_metric(spec: TaskSpec) -> tuple[str | None, bool]:
    """The metric the packet's curves follow: the spec's first metric other than success."""
    m = next((m for m in spec.task_metrics if m.name != "success"), None)
    return (None, True) if m is None else (m.name, m.higher_is_better)


def sample_rows(log: TrainLog, points: int = CURVE_POINTS) -> np.ndarray:
    """Row indices of about ``points`` evenly spaced sample points, over the rows that have
    episode statistics (the first updates may finish no episode yet)."""
    have = np.flatnonzero(np.isfinite(log.col("rollout/ep_len_mean")))
    rows = have if have.size >= 2 else np.arange(len(log))
    if not rows.size:
        return rows
    pick = np.linspace(0, rows.size - 1, min(points, rows.size)).round().astype(int)
    return rows[np.unique(pick)]


def training_curve(log: TrainLog, rows: np.ndarray, metric: str | None) -> list[CurvePoint]:
    """The training statistics at the sample rows."""
    cols = {
        "success_rate": log.col("rollout/success_rate"),
        "task_metric": log.col(f"metrics/{metric}") if metric else np.full(len(log), np.nan),
        "episode_length": log.col("rollout/ep_len_mean"),
        "episode_reward": log.col("rollout/ep_return_mean"),
        "entropy": log.col("train/entropy"),
        "approx_kl": log.col("train/approx_kl"),
        "explained_variance": log.col("train/explained_variance"),
    }
    return [
        CurvePoint(step=int(log.steps[i]), **{k: _opt(c[i]) for k, c in cols.items()}) for i in rows
    ]


def term_stats(
    names: Sequence[str],
    log: TrainLog | None,
    rows: np.ndarray,
    nominal: Sequence[EpisodeRecord],
    eval_nonfinite: dict[str, int],
) -> list[TermStats]:
    """Per-term statistics. ``mean``/``min``/``max``/``share``/``trend`` use the training log's
    per-episode sums (the trainer's ``reward/<term>`` columns) over all rows; without a log,
    the evaluation episodes' per-episode sums. ``eval_step`` is the per-step value over the
    nominal evaluation episodes."""
    series: dict[str, np.ndarray] = {}
    for name in names:
        v = log.col(f"reward/{name}") if log is not None else np.zeros(0)
        v = v[np.isfinite(v)]
        if not v.size:
            v = np.array([float(ep.terms[name].sum()) for ep in nominal if name in ep.terms])
        series[name] = v
    magnitude = {n: float(np.abs(v).mean()) if v.size else 0.0 for n, v in series.items()}
    total = sum(magnitude.values())
    out = []
    for name in names:
        v = series[name]
        steps = [ep.terms[name] for ep in nominal if name in ep.terms and ep.terms[name].size]
        curve = []
        if log is not None and rows.size:
            c = log.col(f"reward/{name}")[rows]
            curve = [round(float(x), 6) for x in c if math.isfinite(x)]
        out.append(
            TermStats(
                name=name,
                mean=float(v.mean()) if v.size else 0.0,
                min=float(v.min()) if v.size else 0.0,
                max=float(v.max()) if v.size else 0.0,
                share=magnitude[name] / total if total > 0 else 0.0,
                trend=trend(v),
                nonfinite=log.nonfinite(name) if log is not None else 0,
                curve=curve,
                eval_step=metric_stats(np.concatenate(steps)) if steps else None,
                eval_nonfinite=eval_nonfinite.get(name, 0),
            )
        )
    return out


def eval_summary(
    episodes: Sequence[EpisodeRecord], randomized: bool, spec: TaskSpec | None = None
) -> EvalSummary:
    """Success rate, termination histogram, task metrics and episode length (steps); with the
    spec, also which declared success sub-criteria the failed episodes broke."""
    names = sorted({k for ep in episodes for k in ep.metrics})
    metrics = {}
    for name in names:
        stats = metric_stats([ep.metrics[name] for ep in episodes if name in ep.metrics])
        if stats is not None:
            metrics[name] = stats
    return EvalSummary(
        randomized=randomized,
        episodes=len(episodes),
        seeds=[ep.seed for ep in episodes],
        success_rate=float(np.mean([ep.success for ep in episodes])) if episodes else 0.0,
        termination_reasons=dict(Counter(ep.reason for ep in episodes).most_common()),
        metrics=metrics,
        episode_length=metric_stats([ep.length for ep in episodes]),
        failed_criteria=failed_criteria(spec, episodes) if spec is not None else {},
    )


def failed_criteria(spec: TaskSpec, episodes: Sequence[EpisodeRecord]) -> dict[str, int]:
    """Success sub-criterion -> failed episodes that broke it (the task's own criteria,
    evaluated on each failed episode's states after every step and its metrics)."""
    from sims.semantics import evaluate_criteria

    out: Counter[str] = Counter()
    for ep in episodes:
        if ep.success or ep.length == 0:
            continue
        for result in evaluate_criteria(spec, ep.states[1:], ep.metrics):
            if result.passed is False:
                out[result.name] += 1
    return dict(out)


def _term_names(log: TrainLog | None, episodes: Sequence[EpisodeRecord]) -> list[str]:
    names: list[str] = []
    if log is not None:
        names += log.term_names()
    for ep in episodes:
        names += list(ep.terms)
    return list(dict.fromkeys(names))


def _finite_evidence(packet: DiagnosisPacket) -> None:
    # JSON has no NaN/inf, and a rule's evidence must round-trip.
    for f in packet.findings:
        f.evidence = {k: v for k, v in f.evidence.items() if math.isfinite(v)}


def build_packet(
    task: str | TaskSpec,
    train: str | Path | TrainLog | None,
    rollouts: Rollouts,
    *,
    candidate: str,
    reward_source: str = "",
) -> DiagnosisPacket:
    """Build the packet from evaluation episodes already run and the training log.

    Args:
        task: task id or spec.
        train: the run folder or ``train.csv`` :func:`agentic_rl.ppo.train` wrote, a
            :class:`TrainLog`, or ``None`` (no curves; term statistics from evaluation).
        rollouts: the evaluation episodes (:func:`run_rollouts`).
        candidate: candidate id, e.g. ``"i2/c1"``.
        reward_source: the candidate's reward program (hashed into the packet).

    Returns:
        The packet without plots (see :func:`diagnose` for the files and images).
    """
    from rewards.program import source_hash

    spec = _spec(task)
    log = TrainLog.read(train) if isinstance(train, (str, Path)) else train
    notes = []
    if log is None or not len(log):
        notes.append("no training log: curves are empty, term statistics come from evaluation")
        log = None
    metric, higher = task_metric(spec)
    rows = sample_rows(log) if log is not None else np.zeros(0, dtype=int)
    names = _term_names(log, rollouts.episodes)
    if not reward_source.strip():
        notes.append("no reward source given: evaluation recorded no reward terms")
    errors = sum(ep.reward_errors for ep in rollouts.episodes)
    if errors:
        steps = sum(ep.length for ep in rollouts.episodes)
        first = f" (first: {rollouts.first_error})" if rollouts.first_error else ""
        notes.append(
            f"the reward raised on {errors} of {steps} evaluation steps and paid 0 there{first}"
        )
    packet = DiagnosisPacket(
        task_id=spec.id,
        candidate=candidate,
        reward_hash=source_hash(reward_source),
        reward_terms=names,
        train_steps=int(log.steps[-1]) if log is not None else 0,
        training=training_curve(log, rows, metric) if log is not None else [],
        terms=term_stats(names, log, rows, rollouts.nominal, rollouts.nonfinite),
        nominal=eval_summary(rollouts.nominal, False, spec),
        randomized=eval_summary(rollouts.randomized, True, spec) if rollouts.randomized else None,
        exemplars=exemplars(spec, rollouts.nominal, rollouts.randomized or ()),
        task_metric_name=metric,
        task_metric_higher_is_better=higher,
        notes=notes,
    )
    packet.findings = compute_findings(packet, spec, rollouts.episodes)
    _finite_evidence(packet)
    return packet


def save_packet(
    packet: DiagnosisPacket, out_dir: str | Path, budget_tokens: int = DEFAULT_BUDGET_TOKENS
) -> dict[str, Path]:
    """Write ``packet.json``, ``packet.txt`` (the rendering within ``budget_tokens``) and
    ``packet.schema.json`` into ``out_dir``; returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out / "packet.json",
        "text": out / "packet.txt",
        "schema": out / "packet.schema.json",
    }
    paths["json"].write_text(packet.model_dump_json(indent=2))
    paths["text"].write_text(render_text(packet, budget_tokens))
    paths["schema"].write_text(json.dumps(DiagnosisPacket.model_json_schema(), indent=2))
    return paths


def load_packet(path: str | Path) -> DiagnosisPacket:
    """Read a ``packet.json`` (or the folder holding one)."""
    path = Path(path)
    if path.is_dir():
        path = path / "packet.json"
    return DiagnosisPacket.model_validate_json(path.read_text())


def diagnose(
    task_id: str,
    policy: PolicyLike,
    train_dir: str | Path | None,
    *,
    candidate: str,
    reward_source: str,
    episodes: int,
    seed: int,
    randomized_episodes: int,
    randomize: RandomizeArg = True,
    out_dir: str | Path,
    plots: bool = True,
    budget_tokens: int = DEFAULT_BUDGET_TOKENS,
) -> DiagnosisPacket:
    """Evaluate a trained candidate and write its diagnosis packet.

    Runs ``episodes`` seeded episodes (seeds ``seed, seed+1, ...``) under nominal physics and
    ``randomized_episodes`` on the same seeds under randomized physics (skipped when
    ``randomize`` is false or the count is 0), recording every step; reads
    ``train_dir/train.csv``; computes curves, term statistics, exemplars and findings; writes
    ``packet.json``, ``packet.txt``, ``packet.schema.json`` and, with ``plots``, PNG plots and
    a scene image into ``out_dir``.

    Args:
        task_id: the task.
        policy: a :class:`~agentic_rl.ppo.Policy`, a callable, or a path to ``policy.npz``, a
            checkpoint or a run folder.
        train_dir: the candidate's training run folder (``None``: no curves).
        candidate: candidate id, e.g. ``"i2/c1"``.
        reward_source: the candidate's accepted reward program ('' for none).
        episodes: nominal evaluation episodes.
        seed: first evaluation seed (use seeds held out from training).
        randomized_episodes: randomized-physics evaluation episodes.
        randomize: ``True`` (the spec's ranges), ``False``, or ``{param: (low, high)}``.
        out_dir: where to write the packet files.
        plots: draw the PNG plots and the scene image.
        budget_tokens: token budget of ``packet.txt``.

    Returns:
        The packet (also saved as ``out_dir/packet.json``).
    """
    spec = _spec(task_id)
    policy = resolve_policy(policy)
    log = TrainLog.read(train_dir) if train_dir is not None else None
    rollouts = run_rollouts(
        policy,
        spec,
        episodes=episodes,
        seed=seed,
        randomized_episodes=randomized_episodes,
        randomize=randomize,
        reward_source=reward_source,
        scene=SCENE_SIZE if plots else None,
    )
    t0 = time.perf_counter()
    packet = build_packet(spec, log, rollouts, candidate=candidate, reward_source=reward_source)
    t1 = time.perf_counter()
    timings = {"evaluation_s": rollouts.seconds, "build_s": t1 - t0}
    if plots:
        from agentic_rl.diagnostics.plots import write_plots

        packet.plots, packet.scene_image = write_plots(packet, spec, rollouts, log, out_dir)
        timings["plots_s"] = time.perf_counter() - t1
    packet.timings = {k: round(v, 4) for k, v in timings.items()}
    save_packet(packet, out_dir, budget_tokens)
    # The nominal episodes step by step: the checks before training score this candidate's
    # children's rewards on them (agentic_rl.designers.precheck).
    from agentic_rl.designers.precheck import EPISODES_FILE, RecordedEpisode, save_episodes

    recorded = [RecordedEpisode.from_record(spec, ep) for ep in rollouts.nominal]
    save_episodes(Path(out_dir) / EPISODES_FILE, recorded)
    return packet
