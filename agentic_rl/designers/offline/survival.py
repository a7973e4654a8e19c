"""No proposal may make staying alive cost more than ending the episode (where success is
judged at the time limit; see :func:`apply_survival` for tasks whose success ends the episode).

Penalties the rules add (guards, attitude, effort, a negative distance) can make the per-step
reward negative; then every step survived lowers the return and an early failure *pays*: the
classic reason a drone learns to crash. Per proposal, the designer scores the genome's program
(without its ``alive`` term) on states the policy actually visits while alive: the parent's
recorded evaluation episodes minus each early failure's last step, or, before any parent
exists, the reward pipeline's recorded smoke states. A low quantile of those per-step rewards
(:data:`QUANTILE_EPISODES` / :data:`QUANTILE_SMOKE`) is the bound; when it is negative the
``alive`` term (a constant paid on every step) is set to its size plus :data:`MARGIN`, so the
per-step reward of a surviving robot is non-negative on those states and ending early never
gains anything (a failure's own step may still cost: that only makes failing worse).

The program is the designer's own (composed from its ingredient catalogue); it is still
compiled by the reward pipeline and called through the guarded runtime.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from agentic_rl.designers.offline.genome import Genome, render
from agentic_rl.designers.offline.ingredients import ALIVE
from agentic_rl.designers.offline.view import TaskView

if TYPE_CHECKING:
    from agentic_rl.designers.precheck import RecordedEpisode

#: Quantile of the per-step rewards taken as their lower bound on recorded episodes (the
#: policy's own states) and on smoke states (random actions, with more odd states).
QUANTILE_EPISODES = 1.0
QUANTILE_SMOKE = 5.0
#: Relative margin added to the offset.
MARGIN = 0.1
#: At most this many transitions are scored per proposal (evenly spread over the episodes).
MAX_TRANSITIONS = 4000


def _alive_transitions(view: TaskView, episodes: Sequence[RecordedEpisode]) -> Iterator[Any]:
    early = set(view.early_failures)
    for ep in episodes:
        steps = list(ep.transitions())
        if not ep.success and ep.reason in early:
            steps = steps[:-1]  # the failing step itself may cost: that is not survival
        yield from steps


def survival_offset(
    view: TaskView, genome: Genome, episodes: Sequence[RecordedEpisode] = ()
) -> tuple[float, str]:
    """The ``alive`` weight that keeps the genome's per-step reward of a surviving robot
    non-negative, and a line saying what it measured.

    Returns:
        ``(offset, note)``; ``offset`` is 0 when the bound is already non-negative.
    """
    import rewards

    g = genome.copy()
    g.weights.pop(ALIVE, None)
    g.gated.discard(ALIVE)
    if not g.weights:
        return 0.0, "no terms"
    fn = rewards.compile_program(render(view, g, "survival check"), view.spec)
    task = dict(view.spec.constants)
    if episodes:
        transitions = list(_alive_transitions(view, episodes))
        quantile, source = QUANTILE_EPISODES, "the parent's recorded episodes"
    else:
        transitions = list(rewards.recorded_states(view.spec).transitions())
        quantile, source = QUANTILE_SMOKE, "recorded smoke states"
    if not transitions:
        return 0.0, "no recorded states"
    stride = max(1, math.ceil(len(transitions) / MAX_TRANSITIONS))
    totals = np.array(
        [sum(fn(s, a, p, task).values()) for s, a, p in transitions[::stride]], dtype=np.float64
    )
    low = float(np.percentile(totals, quantile))
    if low >= 0.0:
        return 0.0, f"per-step reward >= {low:.3g} on {source} (p{quantile:g}): no offset needed"
    offset = float(f"{-low * (1.0 + MARGIN):.3g}")
    return offset, (
        f"per-step reward down to {low:.3g} on {source} (p{quantile:g}): alive +{offset:g} per "
        "step, so surviving never costs more than ending the episode"
    )


def apply_survival(view: TaskView, genome: Genome, episodes: Sequence[RecordedEpisode] = ()) -> str:
    """Set (or remove) the genome's ``alive`` term per :func:`survival_offset`; returns the
    note for the rationale.

    Only where success is judged at the time limit (surviving is the only way to succeed).
    Where success ends the episode, a per-step reward for surviving makes finishing cost too:
    measured on ArmReach, the offset (with a success bonus of offset x episode length) turned a
    solved task into one the arm lingers near the goal in (1.00 -> 0.22). There the crash rule
    (a bounded positive core) and the checks before training guard against failures that pay.
    """
    genome.gated.discard(ALIVE)
    if view.terminal_success:
        genome.weights.pop(ALIVE, None)
        return "success ends the episode: no survival offset (it would make finishing cost)"
    offset, note = survival_offset(view, genome, episodes)
    if offset <= 0.0:
        genome.weights.pop(ALIVE, None)
        return note
    genome.weights[ALIVE] = offset
    return note


def drop_survival(genome: Genome) -> str:
    """Remove the genome's ``alive`` term (alive offset 0); returns the note for the rationale.

    The guard switched off (``OfflineDesigner(survival=False)``): only for measuring what the
    checks before training catch without it, never in the loop.
    """
    genome.weights.pop(ALIVE, None)
    genome.gated.discard(ALIVE)
    return "survival guard off: alive offset 0"
