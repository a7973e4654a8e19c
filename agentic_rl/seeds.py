"""Named seed streams: the one place that says which reset seeds each stage uses.

Every seeded episode belongs to one stream, and streams occupy disjoint ranges of seeds, so a
policy is never selected on the episodes it is tested on, golden pairs never coincide with
evaluation episodes, and so on. A stream's seeds for one run start at
``base + PER_RUN * run_seed``: runs with different ``--seed`` get different episodes, and a
resumed run gets the same ones again.

================  ==============  =========================================================
stream            first seed      used for
================  ==============  =========================================================
``TRAINING``      0               PPO (candidate ``k`` of iteration ``i``: :func:`training`)
``EVALUATION``    1,000,000       the evaluation that ``agentic-rl train`` runs after training
``GOLDEN``        7,000,000       golden observation/action pairs of an exported bundle
``RECORD``        8,000,000       ``agentic-rl ros record-sim`` episodes
``SELECTION``     10,000,000      held-out evaluation that ranks the loop's candidates
``REEVALUATION``  20,000,000      extra episodes for the top two of each iteration
``SWEEP``         30,000,000      robustness sweeps and transfer checks
``TEST``          40,000,000      the final verdict on a policy; selection never sees them
``BENCHMARK``     50,000,000      episodes that benchmarks/ score policies on
================  ==============  =========================================================

The numbers are the ones the code used before this module existed, so runs recorded earlier
reproduce exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Seeds one run may take from a stream; run ``s`` owns ``[base + PER_RUN*s, +PER_RUN)``.
PER_RUN = 1_000


@dataclass(frozen=True)
class Stream:
    """A named, contiguous range of reset seeds ``[base, end)``.

    Attributes:
        name: what the seeds are for (used in error messages).
        base: the first seed of the stream.
        end: one past the last seed the stream may hand out.
    """

    name: str
    base: int
    end: int

    def first(self, run_seed: int = 0) -> int:
        """The first seed of run ``run_seed`` in this stream."""
        return self.base + PER_RUN * run_seed

    def seeds(self, n: int, run_seed: int = 0) -> range:
        """``n`` seeds of run ``run_seed``: ``first(run_seed), first(run_seed) + 1, ...``.

        Raises:
            ValueError: when ``n`` is negative, exceeds :data:`PER_RUN` (the seeds would
                reach into the next run's), or the run's seeds leave the stream's range.
        """
        if n < 0:
            raise ValueError(f"{self.name} seeds: n must be >= 0, got {n}")
        if n > PER_RUN:
            raise ValueError(
                f"{self.name} seeds: at most {PER_RUN} episodes per run, got {n}; "
                "use fewer episodes"
            )
        first = self.first(run_seed)
        if first < self.base or first + n > self.end:
            last_run = (self.end - self.base - n) // PER_RUN
            raise ValueError(
                f"{self.name} seeds: run seed {run_seed} is outside 0..{last_run}; "
                "pick a run seed in that range"
            )
        return range(first, first + n)

    def __contains__(self, seed: object) -> bool:
        return isinstance(seed, int) and self.base <= seed < self.end


TRAINING = Stream("training", 0, 1_000_000)
EVALUATION = Stream("evaluation", 1_000_000, 7_000_000)
GOLDEN = Stream("golden", 7_000_000, 8_000_000)
RECORD = Stream("record", 8_000_000, 10_000_000)
SELECTION = Stream("selection", 10_000_000, 20_000_000)
REEVALUATION = Stream("re-evaluation", 20_000_000, 30_000_000)
SWEEP = Stream("sweep", 30_000_000, 40_000_000)
TEST = Stream("test", 40_000_000, 50_000_000)
BENCHMARK = Stream("benchmark", 50_000_000, 60_000_000)

#: Every stream, in seed order.
STREAMS: tuple[Stream, ...] = (
    TRAINING,
    EVALUATION,
    GOLDEN,
    RECORD,
    SELECTION,
    REEVALUATION,
    SWEEP,
    TEST,
    BENCHMARK,
)

#: Offset of the held-out scene images of the scene selector's classifier from its training
#: seed. These seed image draws, not episodes of a policy, so they sit outside the streams.
SCENE_HELD_OUT = 1_000_003


def training(run_seed: int, iteration: int, candidate: int) -> int:
    """The PPO seed of candidate ``candidate`` of iteration ``iteration`` of a run."""
    return TRAINING.base + run_seed + PER_RUN * iteration + candidate
