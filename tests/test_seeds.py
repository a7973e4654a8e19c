"""Seed streams: disjoint, and the old magic numbers kept."""

from __future__ import annotations

from itertools import pairwise

import pytest

from agentic_rl import seeds


def test_streams_are_disjoint_and_ordered():
    for a, b in pairwise(seeds.STREAMS):
        assert a.base < a.end <= b.base, (a, b)


@pytest.mark.parametrize("run_seed", [0, 1, 7, 9_999])
def test_test_seeds_never_overlap_selection_seeds(run_seed):
    test = set(seeds.TEST.seeds(seeds.PER_RUN, run_seed))
    # every run's selection and re-evaluation seeds, at the most episodes a run may take
    for other in (0, run_seed, 9_999):
        assert not test & set(seeds.SELECTION.seeds(seeds.PER_RUN, other))
        assert not test & set(seeds.REEVALUATION.seeds(seeds.PER_RUN, other))
    assert all(s in seeds.TEST for s in test)


def test_runs_get_their_own_seeds():
    a, b = seeds.SELECTION.seeds(seeds.PER_RUN, 4), seeds.SELECTION.seeds(seeds.PER_RUN, 5)
    assert a.stop == b.start


def test_a_stream_refuses_to_leave_its_range():
    with pytest.raises(ValueError, match="at most 1000"):
        seeds.SELECTION.seeds(seeds.PER_RUN + 1)
    with pytest.raises(ValueError, match=r"run seed 10000 is outside 0\.\.9999"):
        seeds.SELECTION.seeds(20, 10_000)
    with pytest.raises(ValueError, match="outside"):
        seeds.TEST.seeds(3, -1)


def test_values_of_runs_recorded_before_the_module():
    # the loop, export and robustness used these numbers; recorded runs must reproduce
    assert seeds.SELECTION.seeds(20, 3) == range(10_003_000, 10_003_020)
    assert seeds.REEVALUATION.first(2) == 20_002_000
    assert seeds.GOLDEN.seeds(3) == range(7_000_000, 7_000_003)
    assert (seeds.RECORD.base, seeds.SWEEP.base, seeds.EVALUATION.base) == (
        8_000_000,
        30_000_000,
        1_000_000,
    )
    assert seeds.SWEEP.first(4) == 30_004_000
    assert seeds.training(3, 2, 1) == 3 + 2_000 + 1
