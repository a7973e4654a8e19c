"""``agentic-rl export`` and ``agentic-rl ros package|record-sim|replay|compare|profiles``.

From a training run folder to a robot: export a PolicyBundle, generate the ROS 2 package for a
robot profile, write simulated rollouts as a rosbag2, replay a recorded bag through the node's
runtime core, and measure the sim-to-real agreement of two bags.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.table import Table

from agentic_rl.cli.console import make_console
from agentic_rl.seeds import RECORD

console = make_console()
app = typer.Typer(
    name="ros",
    help="ROS 2 deployment: generate the package, record/replay/compare bags.",
    no_args_is_help=True,
)


def register(root: typer.Typer) -> None:
    """Add ``export`` and the ``ros`` command group to the app."""
    root.command("export")(export)
    root.add_typer(app)


@contextmanager
def _user_errors() -> Iterator[None]:
    """Bad input as a one-line usage error: every ros_bridge error is a ValueError subclass
    (BundleError, ProfileError, AdapterError, ObservationError, BagError, PackageError)."""
    try:
        yield
    except (ValueError, LookupError, OSError) as exc:
        text = " ".join(str(exc).split()) or type(exc).__name__
        raise typer.BadParameter(text) from None


def _sets(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"--set expects key=value, got {pair!r}")
        out[key.strip()] = _parse(value)
    return out


def _parse(value: str) -> object:
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def _goal(goal: str | None) -> list[float] | None:
    if goal is None:
        return None
    try:
        values = [float(v) for v in goal.split(",")]
    except ValueError:
        values = []
    if len(values) != 3:
        raise typer.BadParameter(f"--goal expects x,y,z (task frame, m), got {goal!r}")
    return values


SET_HELP = (
    "Profile override, e.g. --set topics.odometry=/my/odom --set safety.staleness_s=0.1 "
    "--set params.twist_frame=world (repeatable)."
)


def export(
    run: Path = typer.Option(..., "--run", help="Run folder, checkpoint.pt or policy.npz."),
    out: Path = typer.Option(..., "--out", help="PolicyBundle folder to write."),
    task: str = typer.Option(None, "--task", help="Task id (default: the run's config.json)."),
    reward: Path = typer.Option(None, "--reward", help="Reward program file to include."),
    golden_episodes: int = typer.Option(2, "--golden-episodes", help="Episodes of golden pairs."),
    eval_episodes: int = typer.Option(
        20, "--eval-episodes", help="Held-out test episodes, nominal and randomized physics."
    ),
    min_success: float = typer.Option(
        0.5, "--min-success", help="Refuse a policy below this nominal held-out success."
    ),
    force: bool = typer.Option(False, "--force", help="Export even below --min-success."),
) -> None:
    """Export a trained policy as a PolicyBundle (ONNX + numpy weights + golden pairs).

    The policy is first run on held-out test seeds with nominal and randomized physics; both
    success rates go into bundle.json, and a policy below --min-success is refused.
    """
    from agentic_rl.export import export_bundle
    from agentic_rl.runfiles import run_task
    from ros_bridge import load_bundle

    with _user_errors():
        task_id = task or run_task(run)
    if task_id is None:
        folder = run if run.is_dir() else run.parent
        raise typer.BadParameter(f"no config.json in {folder}; pass --task")
    with _user_errors():
        path = export_bundle(
            run,
            task_id,
            out,
            reward_source=reward.read_text() if reward else None,
            golden_episodes=golden_episodes,
            evaluate_episodes=eval_episodes,
            min_success=min_success if eval_episodes > 0 else 0.0,
            force=force,
        )
    console.print(f"PolicyBundle for {task_id}: {path}")
    console.print(_success_line(load_bundle(path).meta.evaluation))


def _success_line(ev: object) -> str:
    """The held-out success a bundle records, in one line (or that it records none)."""
    if ev is None:
        return "  held-out success: not evaluated at export (re-export with --eval-episodes)"
    text = (
        f"  held-out success: {ev.success_nominal:.0%} nominal ({ev.episodes} test episodes), "
        f"{ev.success_randomized:.0%} randomized physics ({ev.episodes_randomized})"
    )
    if ev.forced:
        text += f" -- below the {ev.min_success:.0%} threshold, forced"
    return text


@app.command("profiles")
def profiles(json_out: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """List the built-in robot profiles."""
    from ros_bridge import builtin_profiles, load_profile

    loaded = [load_profile(n) for n in builtin_profiles()]
    if json_out:
        typer.echo(json.dumps({p.name: p.flat() for p in loaded}, indent=2))
        return
    table = Table(title="robot profiles")
    for col in ("name", "robot", "action modes", "inputs", "outputs"):
        table.add_column(col)
    for p in loaded:
        table.add_row(
            p.name,
            p.robot,
            ", ".join(p.action_modes),
            "\n".join(f"{s.topic} ({s.type.split('/')[-1]})" for s in p.inputs.values()),
            "\n".join(f"{s.topic} ({s.type.split('/')[-1]})" for s in p.outputs.values()),
        )
    console.print(table)


@app.command("package")
def package(
    bundle: Path = typer.Option(..., "--bundle", help="PolicyBundle folder."),
    profile: str = typer.Option(..., "--profile", help="Robot profile name or YAML file."),
    out: Path = typer.Option(..., "--out", help="Folder to create the package in (e.g. ws/src)."),
    name: str = typer.Option(
        None, "--name", help="ROS package name (default: task_profile_policy)."
    ),
    goal: str = typer.Option(None, "--goal", help="Default goal x,y,z in the task frame."),
    sets: list[str] = typer.Option([], "--set", help=SET_HELP),
    maintainer: str = typer.Option(
        None, "--maintainer", help="package.xml maintainer name (default: git user.name)."
    ),
    maintainer_email: str = typer.Option(
        None, "--maintainer-email", help="package.xml maintainer email (default: git user.email)."
    ),
) -> None:
    """Generate an ament_python ROS 2 package that runs the bundle on a robot profile."""
    from ros_bridge.package import generate_package

    with _user_errors():
        path = generate_package(
            bundle,
            profile,
            out,
            package_name=name,
            goal=_goal(goal),
            overrides=_sets(sets),
            maintainer=maintainer,
            maintainer_email=maintainer_email,
        )
    pkg = path.name
    console.print(f"ROS 2 package [bold]{pkg}[/]: {path}")
    from ros_bridge import load_bundle

    console.print(_success_line(load_bundle(bundle).meta.evaluation))
    console.print(
        f"  cd <workspace> && colcon build --packages-select {pkg} && source install/setup.bash\n"
        f"  ros2 launch {pkg} policy.launch.xml\n"
        '  ros2 service call /agentic_rl_policy/enable std_srvs/srv/SetBool "{data: true}"'
    )


@app.command("record-sim")
def record_sim(
    bundle: Path = typer.Option(..., "--bundle", help="PolicyBundle folder."),
    out: Path = typer.Option(..., "--out", help="Bag folder to create."),
    task: str = typer.Option(None, "--task", help="Task to simulate (default: the bundle's)."),
    profile: str = typer.Option("generic_drone", "--profile", help="Profile whose topics to use."),
    episodes: int = typer.Option(1, "--episodes", min=1, help="Episodes to record."),
    seed: int = typer.Option(RECORD.base, "--seed", help="Seed of the first episode."),
    storage: str = typer.Option(
        "mcap", "--storage", help="mcap, sqlite3, or sqlite3-humble (for ROS 2 Humble)."
    ),
    randomize: bool = typer.Option(False, "--randomize", help="Randomize physics per episode."),
    sets: list[str] = typer.Option([], "--set", help=SET_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Write simulated rollouts of the bundle's policy as a rosbag2 with the profile's topics."""
    from agentic_rl.export.simbag import record_sim as run_record

    with _user_errors():
        res = run_record(
            bundle,
            out,
            task=task,
            profile=profile,
            episodes=episodes,
            seed=seed,
            storage=storage,
            randomize=randomize,
            overrides=_sets(sets),
        )
    if json_out:
        typer.echo(json.dumps(res.__dict__))
        return
    console.print(
        f"{res.episodes} episodes, {res.steps} steps -> {res.bag} "
        f"(success {sum(res.successes)}/{res.episodes}, endings {res.termination_reasons})"
    )


@app.command("replay")
def replay(
    bundle: Path = typer.Option(..., "--bundle", help="PolicyBundle folder."),
    bag: Path = typer.Option(..., "--bag", help="Input bag (the robot's recorded topics)."),
    out: Path = typer.Option(..., "--out", help="Output bag for the node's commands."),
    profile: str = typer.Option("generic_drone", "--profile", help="Robot profile."),
    goal: str = typer.Option(None, "--goal", help="Default goal x,y,z (task frame)."),
    layout: str = typer.Option(
        None, "--layout", help="The course: a layout JSON file (keys as bundle.json task.layout)."
    ),
    no_enable: bool = typer.Option(
        False, "--no-enable", help="Do not enable the policy (checks READY only)."
    ),
    storage: str = typer.Option("mcap", "--storage", help="mcap, sqlite3 or sqlite3-humble."),
    sets: list[str] = typer.Option([], "--set", help=SET_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Run the node's runtime core on a recorded bag (simulated clock); write its commands."""
    from ros_bridge import load_bundle, load_profile
    from ros_bridge.bags import replay as run_replay
    from ros_bridge.taskobs import read_layout

    with _user_errors():
        prof = load_profile(profile).with_overrides(_sets(sets))
        res = run_replay(
            load_bundle(bundle),
            prof,
            bag,
            out,
            goal=_goal(goal),
            layout=read_layout(layout) if layout else None,
            enable=not no_enable,
            storage=storage,
        )
    if json_out:
        typer.echo(json.dumps(res.to_dict()))
        return
    console.print(
        f"{res.ticks} ticks ({res.active_ticks} active), {res.commands} commands -> {out}; "
        f"final state {res.final_state}; safety {res.safety}"
    )
    for fault in res.faults[-5:]:
        console.print(f"  fault: {fault}")


#: Commands that agree to this are the same (float32 messages carry ~1e-7 relative error).
PARITY_TOL = 1e-5


@app.command("compare")
def compare(
    real: Path = typer.Option(..., "--real", help="Bag from the robot."),
    sim: Path = typer.Option(..., "--sim", help="Bag from simulation (record-sim)."),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Sim-to-real agreement: trajectory RMSE, success agreement, command error."""
    from ros_bridge.bags import compare as run_compare

    with _user_errors():
        report = run_compare(real, sim)
    if json_out:
        typer.echo(json.dumps(report, indent=2))
        return

    def fmt(v: object, unit: str = "") -> str:
        return "n/a" if v is None else (f"{v:.4g}{unit}" if isinstance(v, float) else str(v))

    table = Table(title=f"sim-to-real: {real.name} vs {sim.name}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("episodes compared", str(report["episodes"]))
    table.add_row("trajectory RMSE", fmt(report["trajectory_rmse"]))
    table.add_row("command RMSE", fmt(report["command_rmse"]))
    table.add_row("success agreement", fmt(report["success_agreement"]))
    table.add_row(
        "success rate real / sim",
        f"{fmt(report['success_rate_real'])} / {fmt(report['success_rate_sim'])}",
    )
    parity = report["command_parity"]
    if parity is not None:  # one bag replays the other: the same ticks, compared one by one
        table.add_row(
            "commands at the same ticks",
            f"{parity['commands']:,}, max |difference| {parity['max_abs']:.2g}"
            f" (worst {parity['worst_topic']} at {parity['worst_t']:.3f} s)",
        )
    console.print(table)
    if parity is not None and parity["max_abs"] > PARITY_TOL:
        typer.echo(
            f"note: the replay differs from the simulator by more than {PARITY_TOL:g}. After "
            "~/enable the runtime's slew limit starts from a hold (safety.slew_from_zero=1), which "
            "the simulator does not have; for a parity check run both record-sim and replay "
            "with --set safety.slew_from_zero=0 (and --set safety.slew_rate=1000 for a policy "
            "that turns faster than the limit)."
        )
