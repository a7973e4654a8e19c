"""``agentic-rl train`` and ``agentic-rl eval``: train a PPO policy on a task, evaluate it."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from agentic_rl.cli.console import make_console

console = make_console()


def register(app: typer.Typer) -> None:
    """Add the ``train`` and ``eval`` commands to the app."""
    app.command("train")(train)
    app.command("eval")(evaluate)


def train(
    task: str = typer.Option(
        ..., "--task", help="Task id, e.g. DroneHover (see `agentic-rl tasks`)."
    ),
    reward: str = typer.Option(
        None,
        "--reward",
        help="'reference' (default), 'sparse' or a path to a reward program (.py); "
        "with --resume, the run's own reward.",
    ),
    steps: int = typer.Option(None, "--steps", help="Env steps (default: the task's budget)."),
    seed: int = typer.Option(0, "--seed", help="Random seed (printed and saved with the run)."),
    preset: str = typer.Option(None, "--preset", help="PPO preset (default: by task family)."),
    overrides: list[str] = typer.Option(
        [], "--set", help="Override a PPO config field, e.g. --set learning_rate=1e-3 (repeatable)."
    ),
    out: Path = typer.Option(None, "--out", help="Run folder (default runs/train/<task>/<time>)."),
    randomize: bool = typer.Option(False, "--randomize", help="Train with domain randomization."),
    resume: bool = typer.Option(
        False, "--resume", help="Continue the run in --out from its checkpoint."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a run already in --out."),
    no_progress: bool = typer.Option(False, "--no-progress", help="Hide the progress bar."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Train a PPO policy on a task with a reward program, then evaluate it on held-out seeds."""
    from agentic_rl.ppo import config as ppo_config
    from agentic_rl.ppo import train as run_training
    from agentic_rl.ppo.envs import canonical_task_id
    from agentic_rl.ppo.guarded import GuardedRunError
    from rewards.errors import RewardRejected

    try:
        task_id = canonical_task_id(task)
        values = ppo_config.parse_overrides(overrides)
        values.update({"total_steps": steps, "seed": seed})
        if no_progress or json_out:  # --json output must stay parseable
            values["progress"] = False
        cfg = ppo_config.make_config(preset, task_id, **values)
    except (LookupError, ValueError, ImportError) as exc:  # ImportError: a broken task plugin
        raise typer.BadParameter(str(exc)) from None
    if resume and out is None:
        raise typer.BadParameter("--resume needs --out, the folder of the run to continue")
    if resume:
        config_file = out / "config.json"
        if not config_file.is_file():
            raise typer.BadParameter(f"{out} has no config.json; is it a run folder?")
        saved = json.loads(config_file.read_text())
        cfg = ppo_config.PPOConfig(**{**saved["ppo"], "progress": cfg.progress})
        reward = reward or saved["reward"]
        randomize = randomize or saved["randomize"]
    reward = reward or "reference"
    if not json_out:
        console.print(
            f"[bold]train[/] {task_id}  reward={reward}  seed={cfg.seed}  steps={cfg.total_steps:,}  "
            f"envs={cfg.num_envs}x{cfg.num_steps}"
        )
    # A reward file may be model-written: train() runs it in a guarded child, under the limits
    # of a refine candidate (the shipped sparse and reference rewards train in this process).
    try:
        result = run_training(
            cfg,
            task_id,
            reward=reward,
            out_dir=out,
            randomize=randomize,
            resume=resume,
            overwrite=overwrite,
        )
    except (
        FileExistsError,
        FileNotFoundError,
        LookupError,
        RewardRejected,
        GuardedRunError,
    ) as exc:
        # a reward that is missing, not code, or has no reference for this task: say so
        # plainly (RewardRejected's message is the same repair hint a model would get)
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if json_out:
        typer.echo(json.dumps(result.__dict__, indent=2, default=str))
        return
    console.print(
        f"done: {result.steps:,} steps in {result.wall_time:.0f} s ({result.steps_per_second:,.0f} steps/s); "
        f"eval success {result.success_rate:.0%}  reasons {result.termination_reasons}"
    )
    console.print(f"run folder: {result.out_dir}")


def evaluate(
    checkpoint: Path = typer.Option(
        ..., "--checkpoint", help="checkpoint.pt, its run folder, or policy.npz."
    ),
    episodes: int = typer.Option(100, "--episodes", help="Seeded evaluation episodes."),
    seed: int = typer.Option(0, "--seed", help="Seed of the first episode."),
    task: str = typer.Option(None, "--task", help="Task id (default: the checkpoint's task)."),
    randomized: bool = typer.Option(False, "--randomized", help="Randomize physics per episode."),
    video: Path = typer.Option(None, "--video", help="Also render one episode to .mp4 or .gif."),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Evaluate a trained policy: success rate, termination reasons and task metrics."""
    from agentic_rl.ppo import CheckpointError, load_policy, record_video
    from agentic_rl.ppo import evaluate as run_eval

    try:
        policy = load_policy(checkpoint)
        task_id = task or _task_of(checkpoint)
    except (CheckpointError, OSError) as exc:
        raise typer.BadParameter(str(exc)) from None
    result = run_eval(policy, task_id, seeds=range(seed, seed + episodes), randomized=randomized)
    video_path = None
    if video is not None:
        video_path = record_video(policy, task_id, video, seed=seed, randomized=randomized)
    if json_out:
        typer.echo(
            json.dumps({**result.to_dict(), "video": str(video_path) if video_path else None})
        )
        return
    table = Table(
        title=f"{task_id}: {episodes} episodes, {'randomized' if randomized else 'nominal'} physics"
    )
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("success rate", f"{result.success_rate:.1%}")
    for name, count in sorted(result.termination_reasons.items(), key=lambda kv: -kv[1]):
        table.add_row(f"ended: {name}", str(count))
    for name, value in result.mean_metrics().items():
        table.add_row(f"metric: {name}", f"{value:.4g}")
    console.print(table)
    if video_path:
        console.print(f"video: {video_path}")


def _task_of(checkpoint: Path) -> str:
    """The task recorded next to a checkpoint or policy file (or in the checkpoint)."""
    from agentic_rl.runfiles import run_task

    task_id = run_task(checkpoint)
    if task_id is not None:
        return task_id
    if checkpoint.suffix == ".npz":
        raise OSError(f"no config.json next to {checkpoint}; pass --task")
    from agentic_rl.ppo import load_checkpoint
    from agentic_rl.ppo.envs import recall_task

    state = load_checkpoint(checkpoint)
    return recall_task(state["task_id"], state.get("task_path"))
