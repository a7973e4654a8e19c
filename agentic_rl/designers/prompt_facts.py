"""The facts of a task as the LLM designer's prompt states them: one place, one definition each.

Everything here is read from the task's :class:`~sims.spec.TaskSpec` (and, for the start and
goal distributions, measured over seeded resets of the task itself), never guessed from a
task's name. What the prompt says about a task:

* the goal, the ground-truth success criterion and how episodes end;
* the *success figures* the model will see later, each defined once and labelled
  (:data:`SUCCESS_DEFINITIONS`), so "success" never means two things in one prompt;
* the action with the value of every scale (``x max_speed m/s`` becomes ``x 1.0 m/s``);
* the task constants with units where the spec declares them;
* the start and goal distributions (ranges of the state fields over seeded resets);
* how PPO treats the reward (scaled by a running return std, clipped, discounted);
* the reward-program interface with only the ``terms`` functions relevant to the task.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sims.spec import TaskSpec

#: The labels the prompt and the memory use for success figures, each defined once.
SUCCESS_DEFINITIONS = (
    "- **nominal success**: share of held-out evaluation episodes (seeds never used in "
    "training; the deterministic policy, nominal physics) that end in success. This is what "
    "candidates are selected on; it includes the re-evaluation episodes of an iteration's top "
    "two, so it can differ from the packet's evaluation line, which counts the first episodes "
    "only.\n"
    "- **randomized success**: the same under randomized physics (ranges below).\n"
    "- **training success**: share of episodes that ended in success *while training*, with "
    "the stochastic (exploring) policy; the `success` column of a packet's training curves. It "
    "lags the deterministic policy and is only a trend.\n"
    "- **score**: the selection score, nominal success first, then randomized success and "
    "the task metrics as tie-breaks; use it only to rank candidates."
)


#: Reward terms that only mean something for some tasks -> whether ``spec`` declares what
#: they need (the body's tilt or rates, or the termination reason the term guards against).
#: Every other ``terms`` function (distances, closeness, progress, penalties on actions and
#: speed) is offered to every task.
def _needs(spec: TaskSpec) -> dict[str, bool]:
    reasons = {r.name for r in spec.termination_reasons}
    body = spec.body
    tilt = body.tilt is not None
    rates = body.angular_velocity is not None
    height = body.position is not None
    return {
        "tilt_penalty": tilt,
        "angular_velocity_penalty": rates,
        "crash_penalty": tilt and height,
        "gate_alignment": "missed_gate" in reasons,
        "grasp": "dropped_object" in reasons,
        "lift": "dropped_object" in reasons,
        "landing_softness": bool({"hard_landing", "missed_pad"} & reasons),
    }


#: Seeded resets measured for the start and goal distributions.
RESET_SAMPLES = 24


def relevant_terms(spec: TaskSpec) -> list[dict[str, str]]:
    """The ``terms`` functions worth offering for ``spec`` (see :func:`_needs`)."""
    from rewards.describe import term_functions

    needs = _needs(spec)
    return [t for t in term_functions() if needs.get(t["name"], True)]


def action_text(spec: TaskSpec) -> str:
    """The action, each component with its scale's value substituted."""
    scales = dict(re.findall(r"\b([a-z_]+)=([-+0-9.eE]+)", spec.action.description))
    comps = []
    for comp in spec.action.components:
        comps.append(
            re.sub(
                r"\bx ([a-z_]+)\b",
                lambda m: (
                    f"x {scales[m.group(1)]} ({m.group(1)})" if m.group(1) in scales else m.group(0)
                ),
                comp,
            )
        )
    shape = "x".join(str(n) for n in spec.action.shape)
    lines = [
        f"`action`: numpy array of shape ({shape},), each component in [-1, 1], mode "
        f"`{spec.action.mode}`. {spec.action.description}"
    ]
    lines += [f"  - action[{i}]: {c}" for i, c in enumerate(comps)]
    return "\n".join(lines)


def constant_units(spec: TaskSpec) -> dict[str, str]:
    """Units of the task constants, from the spec's declarations: a success criterion or a
    goal tolerance compares a constant with a field, so the constant has the field's unit; a
    hold time is in seconds."""
    fields = {f.name: f.unit for f in spec.state_fields}
    units: dict[str, str] = {}
    for crit in getattr(spec, "success_criteria", ()) or ():
        if crit.source == "field" and crit.key.split("[")[0] in fields:
            units.setdefault(crit.threshold, fields[crit.key.split("[")[0]])
        if crit.hold:
            units.setdefault(crit.hold, "s")
    goal = getattr(spec, "goal", None)
    for err in getattr(goal, "errors", ()) or ():
        if err.tolerance and err.field in fields:
            units.setdefault(err.tolerance, fields[err.field])
    for name in spec.constants:
        if name.endswith("_hz"):
            units.setdefault(name, "Hz")
        elif name.endswith("_seconds"):
            units.setdefault(name, "s")
    return units


def success_text(spec: TaskSpec) -> str:
    """Success as the spec's named sub-criteria, each with its threshold's value."""
    crits = getattr(spec, "success_criteria", ()) or ()
    if not crits:
        return ""
    units = constant_units(spec)
    lines = ["Success sub-criteria (all must hold; diagnoses name the ones a failure broke):"]
    for c in crits:
        value = spec.constants.get(c.threshold)
        unit = units.get(c.threshold, "")
        thr = (
            f"{c.threshold} = {value:g}{' ' + unit if unit and unit != '1' else ''}"
            if value is not None
            else c.threshold
        )
        what = f"{c.reduce}({c.key})" if c.reduce != "value" else c.key
        hold = ""
        if c.hold:
            hv = spec.constants.get(c.hold)
            hold = f" for the last {c.hold} = {hv:g} s" if hv is not None else f" for {c.hold}"
        lines.append(f"- `{c.name}`: {c.source} {what} {c.compare} {thr}{hold}. {c.description}")
    return "\n".join(lines)


def constants_text(spec: TaskSpec) -> str:
    units = constant_units(spec)
    if not spec.constants:
        return "`task` (read-only constants): none."
    items = []
    for k, v in spec.constants.items():
        unit = units.get(k)
        items.append(f"`{k}`={v:g}" + (f" {unit}" if unit and unit != "1" else ""))
    return "`task` (read-only constants, `task['name']`): " + ", ".join(items)


@cache
def reset_ranges(
    task_id: str, samples: int = RESET_SAMPLES
) -> dict[str, list[tuple[float, float]]]:
    """Per state field, (min, max) of each component over ``samples`` seeded resets: the
    start and goal distributions as the policy meets them. Fields constant over all resets
    (zeros after reset, fixed layout) are left out."""
    import numpy as np

    import sims

    env = sims.make(task_id)
    seen: dict[str, list[np.ndarray]] = {}
    try:
        for seed in range(samples):
            _obs, info = env.reset(seed=10_000 + seed)
            for name, value in dict(info.get("state") or {}).items():
                seen.setdefault(name, []).append(np.atleast_1d(np.asarray(value, float)).ravel())
    finally:
        env.close()
    out: dict[str, list[tuple[float, float]]] = {}
    for name, values in seen.items():
        arr = np.stack(values)
        lo, hi = arr.min(axis=0), arr.max(axis=0)
        if np.allclose(lo, hi):
            continue
        out[name] = [(float(a), float(b)) for a, b in zip(lo, hi, strict=True)]
    return out


def distributions_text(spec: TaskSpec) -> str:
    """Start and goal distributions: state-field ranges over seeded resets."""
    try:
        ranges = reset_ranges(spec.id)
    except Exception as exc:  # a task that cannot reset here still gets a prompt
        return f"(start and goal distributions could not be measured: {type(exc).__name__})"
    units = {f.name: f.unit for f in spec.state_fields}
    order = [
        f.name
        for f in spec.state_fields
        if f.name in ranges and getattr(f, "role", None) not in ("action", "time")
    ]
    lines = []
    for name in order:
        parts = ", ".join(f"[{lo:.2g}, {hi:.2g}]" for lo, hi in ranges[name])
        unit = units.get(name, "")
        lines.append(f"- `{name}`{f' ({unit})' if unit and unit != '1' else ''}: {parts}")
    if not lines:
        return "Every episode starts from the same state."
    return (
        f"At reset (component ranges over {RESET_SAMPLES} seeded resets; fields that never "
        "vary are left out):\n" + "\n".join(lines)
    )


def randomization_text(spec: TaskSpec) -> str:
    if not spec.randomization:
        return "Randomized physics: none for this task."
    items = [
        f"{p.name} {p.low:g}..{p.high:g}{'' if p.unit == '1' else ' ' + p.unit}"
        + (" (x nominal)" if p.kind == "scale" else "")
        for p in spec.randomization
    ]
    return "Randomized-physics evaluation draws: " + ", ".join(items) + "."


@cache
def ppo_text() -> str:
    """How training treats the reward, from the PPO config defaults."""
    from agentic_rl.ppo.config import PPOConfig

    c: Any = PPOConfig()
    return (
        f"Training: PPO, discount gamma={c.gamma:g} (GAE lambda {c.gae_lambda:g}). The summed "
        "reward is divided by a running standard deviation of the discounted return and "
        f"clipped to +-{c.clip_reward:g}, so its overall scale does not matter; what matters is "
        "the relative size of the terms and their sign over an episode. Observations are "
        "normalized the same way. An episode that ends early (a failure termination) stops "
        "collecting reward, so a reward that is negative on most steps teaches the policy to "
        "end episodes early."
    )


def interface_text(spec: TaskSpec) -> str:
    """The reward-program interface: fields, action, constants, relevant terms, rules."""
    from rewards.describe import state_fields

    lines = [
        "Write `def compute_reward(state, action, prev_state, task):` returning a dict of named "
        "float terms; the reward is their sum.",
        "",
        "`state` and `prev_state` (the state before `action`) are read-only mappings of numpy "
        "arrays:",
    ]
    for f in state_fields(spec):
        shape = "scalar" if not f["shape"] else "x".join(map(str, f["shape"]))
        lines.append(f"- `{f['name']}` ({shape}, {f['unit']}, {f['frame']}): {f['description']}")
    lines += ["", action_text(spec), "", constants_text(spec), ""]
    terms = relevant_terms(spec)
    lines.append(
        "Provided without imports: `np` (a numpy subset incl. `np.linalg.norm`), `math`, and "
        "`terms` (penalties return a cost >= 0: subtract them with a weight). `import numpy as "
        "np` and `import math` are accepted and ignored; nothing else can be imported. The "
        f"`terms` functions relevant to this task ({len(terms)}):"
    )
    lines += [f"- `{t['signature']}`: {t['summary']}" for t in terms]
    lines += [
        "",
        "Rules the validator enforces: no other imports, no I/O, no `while`/`try`/`class`/"
        "`global`, no decorators, no names or attributes starting with `_`, loops only over "
        "data or constant ranges, no recursion, helpers as plain module-level functions in the "
        "same code block. Every term must be a finite float for every state (guard `math.exp` "
        "and divisions).",
    ]
    return "\n".join(lines)


def advancing_goal_text(spec: TaskSpec) -> str:
    """A line saying the goal moves on to its next target (``Goal.advances_on``), if it does."""
    goal = getattr(spec, "goal", None)
    field = getattr(goal, "advances_on", None)
    if field is None:
        return ""
    return (
        f"The goal advances: each time `{field}` rises, `{goal.field}` moves on to the next "
        "target and its size jumps up, so distances before and after that step measure "
        "different targets, and a reward for being near the current target is taken away by "
        "reaching it."
    )


def task_facts(spec: TaskSpec) -> str:
    """The task section of the prompt: goal, success, episodes, definitions, physics, PPO."""
    reasons = "\n".join(
        f"- `{r.name}` ({'success' if r.success else r.kind}): {r.description}"
        for r in spec.termination_reasons
    )
    metrics = "\n".join(
        f"- `{m.name}` ({m.unit}, {'higher' if m.higher_is_better else 'lower'} is better): "
        f"{m.description}"
        for m in spec.task_metrics
        if m.name != "success"
    )
    return "\n".join(
        [
            f"# Task: {spec.id} (robot: {spec.robot})",
            "",
            spec.description,
            "",
            f"Success (ground truth, judged by the simulator): {spec.success}",
            success_text(spec),
            *filter(None, [advancing_goal_text(spec)]),
            "",
            f"Control at {spec.control_hz:g} Hz; an episode lasts at most {spec.max_episode_steps} "
            f"steps ({spec.episode_seconds:g} s). Episodes end for these reasons:",
            reasons,
            "",
            distributions_text(spec),
            "",
            "## How candidates are judged (definitions used everywhere below)",
            SUCCESS_DEFINITIONS,
            "Task metrics (mean over the evaluation episodes):",
            metrics or "- (none besides success)",
            randomization_text(spec),
            "",
            ppo_text(),
        ]
    )
