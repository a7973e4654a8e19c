"""A fixed-seed digest of what the episode-running code produces, to prove refactors keep it.

``python -m tests.reference OUT.json`` runs a tiny refine loop (serial executor, fixed seed,
the designer's answers replayed from ``tests/data/reference_transcript.jsonl``)
and, on its best policy, each other place that runs episodes (robustness runner, record-sim,
smoke states, randomized evaluation), and writes a JSON digest: the loop's selections, every
packet's figures, the bundle's golden pairs and the others' outcomes, arrays and message
floats as fingerprints (``_fingerprint``). ``tests/data/reference_run.json`` was first written
this way on commit 5046d00, before the rollout module replaced the separate episode loops (the
rollout refactor reproduced it exactly), rewritten on bc0e312 (the batched drone controller
had moved float results, and the designer's answers are replayed since) and when the arrays'
byte hashes became fingerprints (a numpy/BLAS update moved floats by ~1e-13 relative);
``test_reference.py`` compares a fresh digest with it, floats up to rounding. A change that alters behaviour on purpose (new physics, new selection logic)
regenerates the record in the same commit and says so.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from tests.test_refine import TINY

TASK = "agentic_rl/DroneHover-v0"
#: The designer's answers, recorded once from the offline designer (``--transcript``): the
#: run replays them, so a change to a designer's algorithm does not move the record.
TRANSCRIPT = Path(__file__).parent / "data" / "reference_transcript.jsonl"
#: test_refine's tiny run, serial (deterministic order) and with a seed of its own.
CONFIG = {**TINY, "workers": 1, "executor": "serial", "seed": 3}
REPLAY = {"designer": "replay", "designer_options": {"transcript": str(TRANSCRIPT)}}
#: Keys whose values depend on the machine, the clock or the folder, not on behaviour.
VOLATILE = {
    "seconds",
    "timings",
    "wall_time",
    "created",
    "plots",
    "scene_image",
    "run_dir",
    "path",
}


def _fingerprint(array: np.ndarray) -> dict[str, Any]:
    """A fingerprint of an array that survives last-bit float changes and catches others.

    Exact-byte hashes broke on every numpy or BLAS update (floats moved by ~1e-13 relative
    with no change of behaviour), so the digest keeps numbers to compare with a tolerance:
    dtype, shape, each column's sum and sum of absolute values, and four projections of the
    whole array on fixed random weights (a change of any one value moves them all).
    """
    a = np.ascontiguousarray(array)
    out: dict[str, Any] = {"dtype": str(a.dtype), "shape": list(a.shape)}
    if a.dtype.kind not in "fiub" or a.size == 0:
        out["sha"] = hashlib.sha256(a.tobytes()).hexdigest()
        return out
    rows = a.reshape(a.shape[0], -1).astype(np.float64) if a.ndim else a.reshape(1, 1)
    w = np.random.default_rng(0).uniform(0.5, 1.5, (4, rows.size))
    out["sums"] = rows.sum(axis=0).tolist()
    out["abs_sums"] = np.abs(rows).sum(axis=0).tolist()
    out["projections"] = (w @ rows.ravel()).tolist()
    return out


_FLOAT = re.compile(r"-?\d+\.\d*(?:e[-+]?\d+)?|-?\d+e[-+]?\d+|nan|inf")


def _text_fingerprint(texts: list[str]) -> dict[str, Any]:
    """The texts with every float taken out (compared exactly) and the floats' fingerprint
    (compared with a tolerance): a message's repr prints its fields at full precision."""
    shapes = [_FLOAT.sub("#", t) for t in texts]
    values = [float(v) for t in texts for v in _FLOAT.findall(t)]
    return {
        "text_sha": hashlib.sha256(json.dumps(shapes).encode()).hexdigest(),
        "floats": _fingerprint(np.array(values, np.float64).reshape(-1, 1)),
    }


def _clean(value: Any) -> Any:
    """Drop volatile keys and file paths, recursively."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, str) and ("/" in value and value.endswith((".png", ".json", ".npz"))):
        return Path(value).name
    return value


def _refine(out: Path) -> tuple[dict[str, Any], Path, Path]:
    from agentic_rl.config import RefineConfig
    from agentic_rl.loop import RefineLoop

    loop = RefineLoop.start(RefineConfig(**CONFIG, **REPLAY, out=str(out)))
    loop.run()
    root = loop.store.root
    manifest = json.loads((root / "manifest.json").read_text())
    selections = [
        {
            "best_index": it.get("best_index"),
            "candidates": [
                {
                    k: c.get(k)
                    for k in (
                        "status",
                        "success_rate",
                        "randomized_success_rate",
                        "task_metrics",
                        "score",
                        "steps",
                    )
                }
                for c in it["candidates"]
            ],
        }
        for it in manifest["iterations"]
    ]
    packets = {
        str(p.parent.relative_to(root)): _clean(json.loads(p.read_text()))
        for p in sorted(root.glob("iter_*/cand_*/packet.json"))
    }
    best = root / "best"
    with np.load(best / "golden.npz") as golden:
        pairs = {k: _fingerprint(golden[k]) for k in sorted(golden.files)}
        pairs["rows"] = len(golden["obs"])
    return (
        {
            "best": manifest["best"]["cid"],
            "selections": selections,
            "packets": packets,
            "golden": pairs,
        },
        best,
        Path(manifest["best"]["run_dir"]),
    )


def _others(bundle: Path, run_dir: Path, tmp: Path) -> dict[str, Any]:
    import sims
    from agentic_rl.export.simbag import record_sim
    from agentic_rl.ppo import evaluate
    from agentic_rl.robustness.rollout import EpisodeRunner, joint_sampler, load_policy_source
    from rewards.states import _record
    from ros_bridge.bags import read_bag

    out: dict[str, Any] = {}
    policy = load_policy_source(bundle, TASK)
    spec = sims.get_spec(TASK)
    ranges = {r.name: (r.low, r.high) for r in spec.randomization}
    with EpisodeRunner(policy) as runner:
        nominal = runner.run(range(30_000_000, 30_000_003))
        joint = runner.run(range(30_000_000, 30_000_003), joint_sampler(TASK, ranges, 5))
    out["robustness"] = {"nominal": nominal.to_dict(), "joint": joint.to_dict()}
    rec = record_sim(bundle, tmp / "bag", episodes=2)
    messages = [f"{m.topic} {m.t!r} {m.msg!r}" for m in read_bag(tmp / "bag")]
    out["record_sim"] = {
        "steps": rec.steps,
        "successes": rec.successes,
        "reasons": rec.termination_reasons,
        "messages": len(messages),
        **_text_fingerprint(messages),
    }
    batch = _record(spec, 300, 0)
    out["states"] = {k: _fingerprint(v) for k, v in sorted(batch.to_arrays().items())}
    ev = evaluate(run_dir / "policy.npz", TASK, seeds=range(5), randomized=True)
    out["evaluate_randomized"] = ev.to_dict()
    return out


def _linear_policy(task_id: str, gain: float = 1.5):
    """A fixed random linear policy: its episodes end in a mix of crashes, timeouts, ..."""
    import sims

    spec = sims.get_spec(task_id)
    rng = np.random.default_rng(11)
    w = rng.normal(
        0.0, gain / np.sqrt(spec.obs_size), (int(np.prod(spec.action.shape)), spec.obs_size)
    )
    return lambda obs: np.tanh(w @ np.asarray(obs, np.float64))


def _episode_digest(ep: Any) -> dict[str, Any]:
    return {
        "seed": ep.seed,
        "randomized": ep.randomized,
        "success": ep.success,
        "reason": ep.reason,
        "metrics": ep.metrics,
        "ret": ep.ret,
        "length": ep.length,
        "states": _fingerprint(ep.states),
        "actions": _fingerprint(ep.actions),
        "terms": {k: _fingerprint(v) for k, v in sorted(ep.terms.items())},
        "reward_errors": ep.reward_errors,
    }


def _diagnostics(run_dir: Path) -> dict[str, Any]:
    import sims
    from agentic_rl.diagnostics import run_rollouts
    from agentic_rl.robustness.rollout import EpisodeRunner, PolicyUnderTest, joint_sampler

    out: dict[str, Any] = {}
    source = (run_dir / "reward.py").read_text()
    for task_id in (TASK, "agentic_rl/DroneGates-v0"):
        spec = sims.get_spec(task_id)
        policy = _linear_policy(task_id)
        r = run_rollouts(
            policy,
            spec,
            episodes=6,
            seed=100,
            randomized_episodes=3,
            reward_source=source if task_id == TASK else "",
        )
        out[f"rollouts {task_id}"] = {
            "episodes": [_episode_digest(ep) for ep in r.episodes],
            "nonfinite": r.nonfinite,
            "first_error": r.first_error,
        }
        ranges = {p.name: (p.low, p.high) for p in spec.randomization}
        with EpisodeRunner(PolicyUnderTest(policy, task_id)) as runner:
            joint = runner.run(range(200, 206), joint_sampler(task_id, ranges, 5))
        out[f"robustness {task_id}"] = joint.to_dict()
    return out


def digest(workdir: Path) -> dict[str, Any]:
    """Run everything in ``workdir`` and return the digest (see the module docstring)."""
    record, bundle, run_dir = _refine(workdir / "runs")
    record.update(_others(bundle, run_dir, workdir))
    record.update(_diagnostics(run_dir))
    return json.loads(json.dumps(record))  # plain JSON types, exactly as compared


def record_transcript(path: Path, workdir: Path) -> None:
    """Run the tiny loop with the offline designer and keep its transcript at ``path``."""
    from agentic_rl.config import RefineConfig
    from agentic_rl.loop import RefineLoop

    loop = RefineLoop.start(RefineConfig(**CONFIG, out=str(workdir / "runs")))
    loop.run()
    shutil.copyfile(loop.store.root / "llm_transcript.jsonl", path)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        if sys.argv[1] == "--transcript":
            record_transcript(Path(sys.argv[2]), Path(tmp))
        else:
            Path(sys.argv[1]).write_text(
                json.dumps(digest(Path(tmp)), indent=1, sort_keys=True) + "\n"
            )
