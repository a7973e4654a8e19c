"""``agentic-rl refine`` (the main job) and ``agentic-rl report``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from agentic_rl import config as cfgmod
from agentic_rl.cli.console import make_console


def register(app: typer.Typer) -> None:
    app.command("refine")(refine)
    app.command("report")(report)


def refine(
    task: str = typer.Option(
        None, "--task", help="Task id, e.g. DroneHover (see `agentic-rl tasks`)."
    ),
    designer: str = typer.Option(
        None, "--designer", help="offline (default, no network), openai or replay."
    ),
    iterations: int = typer.Option(None, "--iterations", help="Refinement iterations [4]."),
    candidates: int = typer.Option(None, "--candidates", help="Candidates per iteration [4]."),
    steps: int = typer.Option(None, "--steps", help="PPO env steps per candidate [150000]."),
    seeds: int = typer.Option(
        None, "--seeds", help="Held-out evaluation episodes per candidate [20]."
    ),
    workers: int = typer.Option(None, "--workers", help="Candidates trained at once [all cores]."),
    executor: str = typer.Option(
        None, "--executor", help="serial, process (default) or ray; env AGENTIC_RL_EXECUTOR."
    ),
    budget_usd: float = typer.Option(None, "--budget-usd", help="Stop before spending more USD."),
    budget_tokens: int = typer.Option(None, "--budget-tokens", help="Stop before more tokens."),
    max_wall: float = typer.Option(None, "--max-wall", help="Stop after this many seconds."),
    target_success: float = typer.Option(
        None, "--target-success", help="Stop once the best reaches this success rate (0-1)."
    ),
    randomize: str = typer.Option(
        None,
        "--randomize",
        help="Domain randomization in training: off (default), on (the task's ranges) or auto "
        "(ranges widened within a robustness sweep of the best policy).",
    ),
    warm_start: str = typer.Option(
        None,
        "--warm-start",
        help="auto (default), on or off: from iteration 1 candidates continue their parent's "
        "policy under their new reward, next to a control that keeps the parent's reward.",
    ),
    out: str = typer.Option(None, "--out", help="Parent folder of run folders [runs]."),
    resume: Path = typer.Option(None, "--resume", help="Continue an interrupted run folder."),
    config_file: Path = typer.Option(None, "--config", help="YAML or TOML file of these options."),
    overrides: list[str] = typer.Option(
        [],
        "--set",
        help="Override any option, e.g. --set ppo.learning_rate=1e-3 (repeatable); with --resume "
        "only designer_options.*, budget_tokens, budget_usd and max_wall.",
    ),
    base_url: str = typer.Option(
        None, "--base-url", help="OpenAI-compatible endpoint (openai designer)."
    ),
    model: str = typer.Option(None, "--model", help="Model name (openai designer)."),
    vision: bool = typer.Option(
        None, "--vision/--no-vision", help="Attach scene images and plots."
    ),
    transcript: Path = typer.Option(None, "--transcript", help="llm_transcript.jsonl to replay."),
    feedback: str = typer.Option(
        None,
        "--feedback",
        help="A note for the designer (e.g. 'it wobbles near the goal'), added to the run's "
        "feedback.md; works with --resume. The openai designer reads feedback.md before every "
        "iteration.",
    ),
    quiet: bool = typer.Option(False, "--quiet", help="Only print the final summary."),
) -> None:
    """Design, train, diagnose and refine reward candidates; export the best policy.

    Stops on --iterations, --target-success, --max-wall or a budget; writes the best policy
    as a PolicyBundle (best/) and report.html into the run folder.
    """
    from agentic_rl.designers import BudgetExceeded, DesignerError
    from agentic_rl.feedback import add_feedback
    from agentic_rl.loop import RefineLoop
    from agentic_rl.runstore import RunLockedError

    console = make_console(quiet=quiet)
    loop = None
    try:
        if resume is not None:
            # --task with --resume: loads a class path first (a run recorded before class
            # paths were) and must name the run's own task
            import sims

            wanted = sims.resolve(task)[0] if task is not None else None
            loop = RefineLoop.resume(resume, console)
            if wanted is not None and wanted != loop.config.task:
                raise ValueError(
                    f"{resume} is a run of {loop.config.task}, not {wanted}; drop --task to "
                    "resume it, or start a new run without --resume"
                )
            if overrides:
                loop.config = _resume_overrides(loop, overrides)
        else:
            if task is None and config_file is None:
                raise typer.BadParameter("give --task (or a --config file that sets task)")
            designer_opts = {
                k: v
                for k, v in {
                    "base_url": base_url,
                    "model": model,
                    "vision": vision,
                    "transcript": str(transcript) if transcript else None,
                }.items()
                if v is not None
            }
            options = {
                "task": task,
                "designer": designer,
                "iterations": iterations,
                "candidates": candidates,
                "steps": steps,
                "seeds": seeds,
                "workers": workers,
                "executor": executor or os.environ.get("AGENTIC_RL_EXECUTOR"),
                "budget_usd": budget_usd,
                "budget_tokens": budget_tokens,
                "max_wall": max_wall,
                "target_success": target_success,
                "randomize": randomize,
                "warm_start": warm_start,
                "out": out,
                "designer_options": designer_opts or None,
            }
            config = cfgmod.resolve(config_file, options, overrides)
            loop = RefineLoop.start(config, console)
        console.print(f"run folder: [bold]{loop.store.root}[/]  (seed {loop.config.seed})")
        if feedback is not None:
            path = add_feedback(loop.store.root, feedback, loop.manifest.iteration)
            console.print(f"feedback added to {path}")
        summary = loop.run()
    except (DesignerError, BudgetExceeded) as exc:
        # The run folder keeps every finished step: say what failed and how to go on.
        where = loop.store.root if loop is not None else None
        hint = (
            f"; the run is kept: continue with agentic-rl refine --resume {where}" if where else ""
        )
        make_console(stderr=True).print(f"[red]error:[/] designer: {exc}{hint}", soft_wrap=True)
        raise typer.Exit(2) from None
    except (ValidationError, ValueError, FileNotFoundError, RunLockedError, ImportError) as exc:
        message = str(exc)
        if isinstance(exc, ValidationError):
            message = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'config'}: {e['msg'].removeprefix('Value error, ')}"
                for e in exc.errors()
            )
        make_console(stderr=True).print(f"[red]error:[/] {message}")
        raise typer.Exit(2) from None
    print_summary(make_console(), loop.store.root, summary)
    failures = task_failures(loop.store.root)
    if failures:
        make_console(stderr=True).print(
            f"[red]error:[/] every candidate failed for an error in the task, not its reward: "
            f"{failures[0]}\n  The tracebacks are in each candidate's result.json; run "
            f"`agentic-rl tasks check {task or loop.config.task}` to find the hook and field.",
            soft_wrap=True,
        )
        raise typer.Exit(1)


def task_failures(root: Path) -> list[str]:
    """The errors of a run whose every candidate failed because of the task (not of its
    reward); empty when any candidate got further."""
    results = [json.loads(p.read_text()) for p in sorted(root.glob("iter_*/cand_*/result.json"))]
    if not results or not all(r.get("task_error") for r in results):
        return []
    return [str(r.get("error")) for r in results]


#: Options a resumed run may change: how the designer is reached, not what the run is.
RESUMABLE_OPTIONS = ("designer_options.", "budget_tokens", "budget_usd", "max_wall")


def _resume_overrides(loop, overrides: list[str]) -> cfgmod.RefineConfig:
    """Apply ``--set`` overrides of designer options and budgets to a resumed run (e.g. a
    longer retry budget after a rate limit), validate them and save config.json."""
    from agentic_rl.runstore import write_json

    bad = [o for o in overrides if not o.split("=", 1)[0].startswith(RESUMABLE_OPTIONS)]
    if bad:
        raise ValueError(
            f"--resume keeps the run's settings; only designer_options.*, budget_tokens, "
            f"budget_usd and max_wall can change, not {', '.join(bad)}"
        )
    data = cfgmod.apply_overrides(loop.config.model_dump(mode="json"), overrides)
    config = cfgmod.RefineConfig(**data)
    write_json(loop.store.config_path, config)
    return config


def print_summary(console: Console, root: Path, summary: dict) -> None:
    table = Table(title=f"refine {summary['task_id']}: {summary['stop_reason']}")
    for col in ("iteration", "best", "success", "candidates (success)"):
        table.add_column(col)
    for it in summary["per_iteration"]:
        best = it["best"]
        rates = ", ".join("-" if r is None else f"{r:.0%}" for r in it["success_rates"])
        table.add_row(
            str(it["iteration"]),
            best["cid"] if best else "-",
            f"{best['success_rate']:.0%}" if best else "-",
            rates,
        )
    console.print(table)
    initial, final = summary["initial"], summary["final"]
    if initial and final:
        console.print(
            f"selection seeds: iteration 0 best {initial['success_rate']:.0%} -> final best "
            f"{final['success_rate']:.0%} ({final['cid']})"
        )
    test = summary.get("test") or {}
    t_initial, t_final = test.get("initial"), test.get("final")
    if t_initial and t_final:
        imp = test["improvement"]
        rel = imp.get("relative")
        console.print(
            f"test seeds ({test['episodes']} episodes, never used for selection): iteration 0 "
            f"best {t_initial['success_rate']:.0%} -> final {t_final['success_rate']:.0%} "
            f"({imp['success_points'] * 100:+.0f} points"
            + ("" if rel is None else f", {rel:+.0%} relative")
            + ")"
        )
    for c in summary.get("controls") or []:
        if t := c.get("test"):
            rr, rc = t.get("refined_randomized"), t.get("control_randomized")
            rand = "" if rr is None or rc is None else f" ({rr:.0%} vs {rc:.0%} randomized)"
            verdict = "beats" if c.get("reward_beats_control") else "does not beat"
            console.print(
                f"iteration {c['iteration']}: refined reward {c['refined']} {verdict} control "
                f"{c['control']} on test seeds: {t['refined']:.0%} vs {t['control']:.0%} "
                f"nominal{rand}"
            )
    if summary.get("refused_by_checks"):
        console.print(
            f"rewards refused by the checks before training: {summary['refused_by_checks']}"
        )
    usage = summary["usage"]
    console.print(
        f"wall time {summary['wall_time_s']:.0f} s; designer tokens "
        f"{usage['prompt_tokens'] + usage['completion_tokens']:,}, cost ${usage['cost_usd']:.2f}"
    )
    console.print(f"report:          {root / 'report.html'}")
    if summary.get("best_bundle"):
        console.print(f"exported policy: {root / 'best'}")


def report(
    run_dir: Path = typer.Argument(..., help="A run folder written by `agentic-rl refine`."),
) -> None:
    """(Re)write report.html of a run folder and print where it is."""
    from agentic_rl.report import write_report

    if not (run_dir / "manifest.json").exists():
        make_console(stderr=True).print(
            f"[red]error:[/] {run_dir} is not a run folder (no manifest.json)"
        )
        raise typer.Exit(2)
    path = write_report(run_dir)
    make_console().print(f"report: {path}")
