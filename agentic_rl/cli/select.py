"""``agentic-rl select`` and ``agentic-rl library add|list|remove|train-selector|ros-package``.

Keep trained policies in a library, then let a camera image and a sentence choose which one
runs: ``agentic-rl select --image scene.png --say "fly through the gates"``.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from agentic_rl.cli.console import make_console

console = make_console()
app = typer.Typer(
    name="library",
    help="Policy library: add, list and remove trained policies; train the scene selector.",
    no_args_is_help=True,
)
#: Exit status of ``select`` when the selector refuses to choose (errors exit 1).
EXIT_UNSURE = 3

LIBRARY_HELP = "Library folder (default: $AGENTIC_RL_LIBRARY or ./policy_library)."


def register(root: typer.Typer) -> None:
    """Add ``select`` and the ``library`` command group to the app."""
    root.command("select")(select)
    root.add_typer(app)


def _library(path: Path | None):
    from agentic_rl.library import Library, LibraryError

    try:
        return Library(path)
    except LibraryError as exc:
        _fail(str(exc))


def _fail(message: str) -> None:
    console.print(f"[red]error:[/] {message}", soft_wrap=True)  # one greppable line
    raise typer.Exit(1)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


@app.command("add")
def add(
    source: Path = typer.Argument(..., help="Run folder (refine or train) or PolicyBundle."),
    name: str = typer.Option(None, "--name", help="Entry name (default: the task's short name)."),
    notes: str = typer.Option("", "--notes", help="Free text kept with the entry (searchable)."),
    images: int = typer.Option(3, "--images", min=0, max=20, help="Scene images to render."),
    library: Path = typer.Option(None, "--library", help=LIBRARY_HELP),
) -> None:
    """Add a trained policy: its bundle, task card, figures and a few scene images."""
    from agentic_rl.export import ExportError
    from agentic_rl.library import LibraryError

    lib = _library(library)
    try:
        entry = lib.add(source, name=name, notes=notes, scene_images=images)
    except (LibraryError, ExportError) as exc:
        _fail(str(exc))
    console.print(
        f"added [bold]{entry.name}[/] ({entry.task_id}, success {_pct(entry.success_rate)}) "
        f"to {lib.root}"
    )
    from agentic_rl.scenes.offline import selector_status

    console.print(selector_status(lib))


@app.command("list")
def list_entries(
    library: Path = typer.Option(None, "--library", help=LIBRARY_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """List the library's policies with their tasks and figures."""
    from agentic_rl.scenes.offline import selector_status

    lib = _library(library)
    entries = lib.entries()
    if json_out:
        print(json.dumps([e.model_dump(mode="json") for e in entries], indent=2))
        return
    if not entries:
        console.print(f"the library at {lib.root} is empty; add one with `agentic-rl library add`")
        return
    table = Table(title=f"policy library {lib.root}")
    for col in ("name", "task", "mode", "success", "robust", "scenes", "notes"):
        table.add_column(col)
    for e in entries:
        r = e.robustness
        table.add_row(
            e.name,
            e.task_id,
            e.action_mode,
            _pct(e.success_rate),
            _pct(r.joint_success if r else None),
            str(len(e.scenes)),
            e.notes[:40],
        )
    console.print(table)
    console.print(selector_status(lib))


@app.command("remove")
def remove(
    name: str = typer.Argument(..., help="Entry name."),
    library: Path = typer.Option(None, "--library", help=LIBRARY_HELP),
) -> None:
    """Remove a policy (its bundle and images) from the library."""
    from agentic_rl.library import LibraryError

    lib = _library(library)
    try:
        entry = lib.remove(name)
    except LibraryError as exc:
        _fail(str(exc))
    console.print(f"removed {entry.name} ({entry.task_id})")


@app.command("train-selector")
def train_selector(
    library: Path = typer.Option(None, "--library", help=LIBRARY_HELP),
    per_class: int = typer.Option(600, "--per-class", min=5, help="Training images per task."),
    held_out: int = typer.Option(50, "--held-out", min=1, help="Held-out images per task."),
    epochs: int = typer.Option(16, "--epochs", min=1, help="Training epochs."),
    input_size: int = typer.Option(128, "--input-size", min=32, max=256, help="Input side, px."),
    seed: int = typer.Option(0, "--seed", help="Seeds rendering and training."),
    threads: int = typer.Option(1, "--threads", min=1, help="Torch CPU threads."),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """(Re)train the offline scene classifier on randomized renders of the library's tasks
    and report its top-1 accuracy on held-out scenes."""
    from agentic_rl.scenes import SelectorError
    from agentic_rl.scenes.offline import TrainSettings, train_offline_selector

    lib = _library(library)
    settings = TrainSettings(per_class, held_out, input_size, epochs, seed, threads)
    try:
        summary = train_offline_selector(
            lib, settings, log=None if json_out else lambda m: console.print(m)
        )
    except SelectorError as exc:
        _fail(str(exc))
    if json_out:
        print(json.dumps(summary.to_dict(), indent=2))
        return
    table = Table(title="held-out accuracy per class")
    table.add_column("class")
    table.add_column("top-1", justify="right")
    for cls, acc in summary.per_class_accuracy.items():
        table.add_row(cls, f"{acc:.1%}")
    console.print(table)
    console.print(
        f"held-out top-1 accuracy [bold]{summary.held_out_accuracy:.1%}[/] on "
        f"{summary.held_out_images} scenes (train {summary.train_accuracy:.1%}; render "
        f"{summary.render_s:.0f} s, train {summary.train_s:.0f} s) -> {lib.selector_dir}"
    )


@app.command("ros-package")
def ros_package(
    profile: str = typer.Option(..., "--profile", help="Robot profile name or YAML file."),
    out: Path = typer.Option(..., "--out", help="Folder to create the package in (e.g. ws/src)."),
    default: str = typer.Option(
        None, "--default", help="Policy active at start (default: the first entry)."
    ),
    name: str = typer.Option(None, "--name", help="ROS package name."),
    library: Path = typer.Option(None, "--library", help=LIBRARY_HELP),
) -> None:
    """Generate the ROS 2 package with every library policy and the selector node."""
    from ros_bridge.package import generate_package

    lib = _library(library)
    entries = lib.entries()
    if not entries:
        _fail(f"the library at {lib.root} is empty")
    first = default or entries[0].name
    try:
        path = generate_package(
            lib.bundle_dir(first), profile, out, package_name=name, selector=lib.root
        )
    except Exception as exc:  # generator errors carry their own one-line reasons
        _fail(str(exc))
    included = sorted(d.name for d in (path / "library").iterdir() if d.name != "selector")
    left_out = [e.name for e in entries if e.name not in included]
    console.print(f"ROS 2 package with the selector node: {path}")
    console.print(f"policies: {', '.join(included)}; starts with {first}")
    if left_out:
        console.print(
            f"[yellow]left out[/] {', '.join(left_out)}: the robot runtime cannot run their "
            f"tasks on this profile (reasons in {path / 'README.md'})"
        )
    console.print(f"run: ros2 launch {path.name} selector.launch.xml")


def select(
    image: Path = typer.Option(None, "--image", help="Scene image (PNG, JPEG)."),
    say: str = typer.Option(None, "--say", help="The instruction, e.g. 'fly through the gates'."),
    selector: str = typer.Option("offline", "--selector", help="offline or openai."),
    library: Path = typer.Option(None, "--library", help=LIBRARY_HELP),
    model: str = typer.Option(None, "--model", help="openai: model name."),
    base_url: str = typer.Option(None, "--base-url", help="openai: endpoint root (.../v1)."),
    min_confidence: float = typer.Option(
        None, "--min-confidence", min=0.0, max=1.0, help="Refuse below this score."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the selection as JSON."),
) -> None:
    """Choose the library policy for a scene image and/or an instruction.

    Prints the choice, the scores and why. Exits 3 (and names no policy) when unsure.
    """
    from agentic_rl.scenes import SELECTORS, SelectorError, Thresholds, load_image, make_selector

    if image is None and not say:
        _fail("give --image, --say or both")
    if selector not in SELECTORS:
        _fail(f"--selector must be one of {list(SELECTORS)}, got {selector!r}")
    lib = _library(library)
    options: dict[str, object] = {}
    if min_confidence is not None:
        options["thresholds"] = Thresholds(min_confidence=min_confidence)
    if selector == "openai":
        options.update(model=model, base_url=base_url)
    try:
        rgb = load_image(image) if image is not None else None
        sel = make_selector(selector, lib, **options).select(rgb, say)
    except (SelectorError, ValueError) as exc:
        _fail(str(exc))
    if json_out:
        print(json.dumps(sel.to_dict(), indent=2))
    else:
        table = Table(title=f"selection ({sel.backend}, {sel.elapsed_ms:.1f} ms)")
        for col in ("policy", "task", "score", "image", "text", "matched words"):
            table.add_column(col)
        for r in sel.ranking:
            table.add_row(
                r.name,
                r.task_id,
                f"{r.score:.2f}",
                "-" if r.image is None else f"{r.image:.2f}",
                "-" if r.text is None else f"{r.text:.2f}",
                ", ".join(r.matched),
            )
        console.print(table)
        for line in sel.reasons:
            console.print(f"  {line}")
        if sel.unsure:
            console.print("[yellow]unsure[/]: no policy chosen")
        else:
            console.print(f"[bold green]choice[/]: {sel.choice}")
    if sel.unsure:
        raise typer.Exit(EXIT_UNSURE)
