"""Behaviour kept: a fixed-seed run reproduces the record made before the rollout refactor.

The record (``tests/data/reference_run.json``) was made by ``tests/reference.py`` on commit
5046d00, before one rollout module replaced the separate episode loops (which reproduced it
exactly); rewritten on bc0e312 (the batched drone controller had moved float results; the
designer's answers are replayed since), and again when its arrays' byte hashes became
fingerprints compared up to float rounding (an environment's numpy and BLAS moved results by
~1e-13 relative, with no change of behaviour). It holds a tiny refine
run's selections, every packet's figures, the exported bundle's golden pairs, and the outcomes
of the robustness runner, record-sim, smoke-state recording, randomized evaluation and
diagnostics rollouts. A change that alters behaviour on purpose regenerates it
(``python -m tests.reference tests/data/reference_run.json``) and says so in its commit.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from tests.reference import digest

RECORD = Path(__file__).parent / "data" / "reference_run.json"


def _differences(old: Any, new: Any, where: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out = [f"{where}/{k}: only in the record" for k in old.keys() - new.keys()]
        out += [f"{where}/{k}: not in the record" for k in new.keys() - old.keys()]
        for k in sorted(old.keys() & new.keys()):
            out += _differences(old[k], new[k], f"{where}/{k}")
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [
            d
            for i, (a, b) in enumerate(zip(old, new, strict=True))
            for d in _differences(a, b, f"{where}[{i}]")
        ]
    if isinstance(old, float) and isinstance(new, float) and _close(old, new):
        return []
    return [] if old == new else [f"{where}: record {old!r}, now {new!r}"]


def _close(a: float, b: float) -> bool:
    """Equal up to float rounding: numpy, BLAS and libm updates move results by ~1e-13
    relative (float32 fields by ~1e-7) without any change of behaviour."""
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9) or (math.isnan(a) and math.isnan(b))


@pytest.mark.slow
def test_fixed_seed_run_matches_the_record(tmp_path):
    record = json.loads(RECORD.read_text())
    now = digest(tmp_path)
    diffs = _differences(record, now)
    assert not diffs, (
        f"{len(diffs)} differences from the record, first ones:\n"
        + "\n".join(diffs[:20])
        + "\nA change that alters behaviour on purpose regenerates the record: "
        "python -m tests.reference tests/data/reference_run.json (and says so in its commit)"
    )
