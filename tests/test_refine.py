"""The refinement loop: config, executors, end-to-end runs, kill -9 + resume, replay, report."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentic_rl import config as cfgmod
from agentic_rl.config import RefineConfig
from agentic_rl.executors import CandidateJob, make_executor
from agentic_rl.export import load_bundle
from agentic_rl.loop import RefineLoop
from agentic_rl.runstore import RunLockedError, RunStore

ROOT = Path(__file__).resolve().parent.parent
TINY = dict(
    task="DroneHover",
    iterations=2,
    candidates=2,
    steps=4096,
    seeds=3,
    randomized_seeds=2,
    reeval_seeds=2,
    test_episodes=3,
    test_randomized_episodes=2,
    workers=2,
    video=False,
    ppo={"num_envs": 8, "num_steps": 128, "update_epochs": 2, "tensorboard": False},
)


def tiny_config(tmp_path: Path, **kw) -> RefineConfig:
    return RefineConfig(**{**TINY, "out": str(tmp_path / "runs"), **kw})


# ---------------------------------------------------------------------------- config
def test_config_file_options_and_overrides(tmp_path):
    (tmp_path / "c.yaml").write_text(
        "task: DroneGates\niterations: 3\nppo:\n  learning_rate: 0.001\n"
    )
    cfg = cfgmod.resolve(
        tmp_path / "c.yaml",
        {"candidates": 5, "iterations": None},
        ["ppo.num_envs=4", "designer_options.model=gpt-x", "target_success=0.9"],
    )
    assert cfg.task == "agentic_rl/DroneGates-v0" and cfg.iterations == 3 and cfg.candidates == 5
    assert cfg.ppo == {"learning_rate": 0.001, "num_envs": 4}
    assert cfg.designer_options.model == "gpt-x" and cfg.target_success == 0.9
    (tmp_path / "c.toml").write_text('task = "ArmReach"\nsteps = 5000\n')
    assert cfgmod.resolve(tmp_path / "c.toml", {}, []).steps == 5000


@pytest.mark.parametrize(
    "text,suffix,match",
    [
        ("task: DroneHovr\n", ".yaml", "Did you mean"),
        ("task: DroneHover\niterations: 0\n", ".yaml", "greater than or equal to 1"),
        ("task: DroneHover\ncandidate: 3\n", ".yaml", "Extra inputs are not permitted"),
        ("task = [", ".toml", "not valid TOML"),
        ("task: x", ".json", "must end in"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path, text, suffix, match):
    path = tmp_path / f"c{suffix}"
    path.write_text(text)
    with pytest.raises(Exception, match=match):
        cfgmod.resolve(path, {}, [])


def test_warm_start_option(tmp_path):
    assert cfgmod.resolve(None, {"task": "DroneHover"}, []).warm_start == "auto"
    (tmp_path / "c.yaml").write_text("task: DroneHover\nwarm_start: off\n")  # YAML's bool
    assert cfgmod.resolve(tmp_path / "c.yaml", {}, []).warm_start == "off"
    with pytest.raises(Exception, match="'auto', 'on' or 'off'"):
        cfgmod.resolve(None, {"task": "DroneHover", "warm_start": "sometimes"}, [])


def test_run_folder_of_the_old_manifest_layout_is_a_one_line_error(tmp_path):
    cfg = tiny_config(tmp_path)
    (tmp_path / "config.json").write_text(cfg.model_dump_json())
    (tmp_path / "manifest.json").write_text(json.dumps({"version": 1, "iterations": []}))
    with pytest.raises(ValueError, match=r"manifest version 1.*start a new run") as exc:
        RefineLoop.resume(tmp_path)
    assert "\n" not in str(exc.value)


def test_improvement_definitions():
    from agentic_rl.report.summary import improvement, normalized_score

    assert improvement(0.4, 0.9) == {"success_points": pytest.approx(0.5), "relative": 1.25}
    assert improvement(0.0, 0.5)["relative"] is None  # undefined from zero
    # Eureka: (method - sparse) / |reference - sparse|
    assert normalized_score(0.9, 0.1, 0.5) == pytest.approx(2.0)
    assert normalized_score(0.3, 0.1, 0.5) == pytest.approx(0.5)
    assert normalized_score(0.3, 0.5, 0.5) is None


def test_bad_override_syntax():
    with pytest.raises(ValueError, match="key=value"):
        cfgmod.apply_overrides({}, ["iterations"])


def test_refine_cli_reports_bad_input_in_one_line(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "agentic_rl.cli",
            "refine",
            "--task",
            "Submarine",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2
    assert "unknown task 'Submarine'" in out.stderr


# ---------------------------------------------------------------------------- run folder
def test_run_folder_lock_admits_one_writer(tmp_path):
    store = RunStore(tmp_path)
    store.lock()
    code = (
        "import sys; from agentic_rl.runstore import RunStore, RunLockedError\n"
        f"s = RunStore({str(tmp_path)!r})\n"
        "try:\n    s.lock()\nexcept RunLockedError as e:\n    print(e); sys.exit(3)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 3 and str(os.getpid()) in out.stdout
    store.unlock()
    other = RunStore(tmp_path)
    other.lock()  # free again
    with pytest.raises(RunLockedError):
        RunStore(tmp_path).lock()
    other.unlock()


# ---------------------------------------------------------------------------- executors
def _job(tmp_path: Path, name: str, **kw) -> CandidateJob:
    import rewards
    from agentic_rl.ppo import make_config

    d = tmp_path / name
    d.mkdir(parents=True, exist_ok=True)
    (d / "reward.py").write_text(rewards.reference_source("agentic_rl/DroneHover-v0"))
    ppo = make_config(
        task_id="DroneHover",
        total_steps=2048,
        num_envs=4,
        num_steps=64,
        update_epochs=1,
        tensorboard=False,
    )
    return CandidateJob(
        task_id="agentic_rl/DroneHover-v0",
        candidate=name,
        out_dir=str(d),
        ppo=ppo.model_dump(mode="json"),
        eval_episodes=2,
        randomized_episodes=1,
        plots=False,
        **kw,
    )


@pytest.mark.slow
def test_process_executor_survives_crash_timeout_and_killed_worker(tmp_path):
    good = _job(tmp_path, "i0/c0")
    crash = _job(tmp_path, "i0/c1")
    crash.ppo["num_envs"] = 0  # invalid config: the worker's training raises
    slow = _job(tmp_path, "i0/c2", timeout=3.0)
    slow.ppo["total_steps"] = 10_000_000
    executor = make_executor("process", workers=3)
    results = {r.candidate: r for r in executor.run([good, crash, slow])}
    assert results["i0/c0"].status == "done" and results["i0/c0"].packet_path
    assert results["i0/c1"].status == "failed" and "num_envs" in results["i0/c1"].error
    assert results["i0/c2"].status == "timeout" and "3 s" in results["i0/c2"].error

    victim = _job(tmp_path, "i0/c3", timeout=120.0)
    victim.ppo["total_steps"] = 10_000_000
    executor = make_executor("process", workers=1)
    it = executor.run([victim])
    time.sleep(0)  # generator starts the worker on first next(): kill it from a thread
    import threading

    def kill_soon():
        for _ in range(200):
            if executor.pids:
                os.kill(next(iter(executor.pids.values())), signal.SIGKILL)
                return
            time.sleep(0.05)

    threading.Thread(target=kill_soon, daemon=True).start()
    (result,) = list(it)
    assert result.status == "failed" and "SIGKILL" in result.error


# ---------------------------------------------------------------------------- end to end
def _check_run(root: Path, cfg: RefineConfig, transcript: bool = True) -> dict:
    manifest = json.loads((root / "manifest.json").read_text())
    summary = json.loads((root / "summary.json").read_text())
    assert manifest["status"] == "finished" and len(manifest["iterations"]) == cfg.iterations
    for it in manifest["iterations"]:
        assert len(it["candidates"]) == cfg.candidates
        for c in it["candidates"]:
            d = Path(c["run_dir"])
            assert (d / "proposal.json").exists()
            if c["status"] == "trained":
                assert (d / "packet.json").exists() and (d / "packet.txt").exists()
                assert 0.0 <= c["success_rate"] <= 1.0
    assert (root / "best" / "policy.onnx").exists() and (root / "best" / "bundle.json").exists()
    best = json.loads((root / "best" / "candidate.json").read_text())
    assert best["cid"] == manifest["best"]["cid"] and best["onnx_vs_torch_max_abs_error"] <= 1e-5
    assert (root / "report.html").stat().st_size > 10_000
    assert (root / "llm_transcript.jsonl").exists() == transcript
    assert summary["initial"] and summary["final"]
    # The final is judged again on test seeds (never used for selection), as is iteration 0's
    # best; the improvement is defined on those.
    test = summary["test"]
    assert test["final"]["episodes"] == cfg.test_episodes
    assert test["final"]["randomized_episodes"] == cfg.test_randomized_episodes
    assert test["initial"]["cid"] == summary["initial"]["cid"]
    points = test["final"]["success_rate"] - test["initial"]["success_rate"]
    assert test["improvement"]["success_points"] == pytest.approx(points)
    # the exported best carries its held-out (test-seed) success, both physics
    evaluation = json.loads((root / "best" / "bundle.json").read_text())["evaluation"]
    assert evaluation["episodes"] == cfg.test_episodes
    assert evaluation["success_nominal"] == test["final"]["success_rate"]
    assert evaluation["success_randomized"] == test["final"]["randomized_success_rate"]
    # randomized physics is tested on fewer episodes than nominal: the bundle says how many
    assert evaluation["randomized_episodes"] == test["final"]["randomized_episodes"]
    assert load_bundle(root / "best").meta.evaluation.episodes_randomized == (
        cfg.test_randomized_episodes
    )
    return manifest


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["serial", "process"])
def test_refine_end_to_end(tmp_path, executor):
    cfg = tiny_config(tmp_path, executor=executor)
    loop = RefineLoop.start(cfg)
    loop.run()
    manifest = _check_run(loop.store.root, cfg)
    statuses = {c["status"] for it in manifest["iterations"] for c in it["candidates"]}
    assert "stopped_early" in statuses  # successive halving with 2 candidates stops one


def _cli_refine(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "agentic_rl.cli", "refine", "--quiet", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(root_parent: Path, predicate, timeout: float = 300.0) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for manifest in root_parent.glob("*/*/manifest.json"):
            try:
                data = json.loads(manifest.read_text())
            except json.JSONDecodeError:  # pragma: no cover - atomic writes make this impossible
                raise
            if predicate(data):
                return manifest.parent
        time.sleep(0.2)
    raise TimeoutError("the run never reached the expected state")


def _snapshot(root: Path) -> dict[str, float]:
    """mtime of every finished candidate's result.json (a retrain would rewrite it)."""
    return {
        str(p.relative_to(root)): p.stat().st_mtime_ns
        for p in root.glob("iter_*/cand_*/result.json")
    }


@pytest.mark.slow
def test_kill_9_then_resume_loses_nothing_and_retrains_nothing(tmp_path):
    out = tmp_path / "runs"
    args = [
        "--task",
        "DroneHover",
        "--iterations",
        "2",
        "--candidates",
        "2",
        "--steps",
        "4096",
        "--seeds",
        "3",
        "--out",
        str(out),
        "--workers",
        "2",
        "--set",
        "randomized_seeds=2",
        "--set",
        "reeval_seeds=2",
        "--set",
        "video=false",
        "--set",
        'ppo={"num_envs": 8, "num_steps": 128, "update_epochs": 2, "tensorboard": false}',
    ]
    kill_points = [
        # mid-rung training of iteration 0
        lambda m: (
            m["current"] and any(c["status"] == "training_rung" for c in m["current"]["candidates"])
        ),
        # iteration 0 done, iteration 1 proposed or training
        lambda m: m["iteration"] == 1 and m["current"] is not None,
    ]
    proc = _cli_refine(args)
    root = _wait_for(out, kill_points[0])
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    for point in kill_points[1:]:
        before = _snapshot(root)
        proc = _cli_refine(["--resume", str(root)])
        _wait_for(out, point)
        time.sleep(0.5)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        after = _snapshot(root)
        assert all(after[k] == v for k, v in before.items()), "a finished candidate was retrained"
    before = _snapshot(root)
    proc = _cli_refine(["--resume", str(root)])
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    after = _snapshot(root)
    assert all(after[k] == v for k, v in before.items()), "a finished candidate was retrained"
    cfg = RefineConfig.model_validate_json((root / "config.json").read_text())
    _check_run(root, cfg)


@pytest.mark.slow
def test_replay_designer_reproduces_selections(tmp_path):
    cfg = tiny_config(tmp_path, executor="serial")
    first = RefineLoop.start(cfg)
    first.run()
    transcript = first.store.root / "llm_transcript.jsonl"
    replay_cfg = tiny_config(
        tmp_path,
        executor="serial",
        designer="replay",
        designer_options={"transcript": str(transcript)},
    )
    second = RefineLoop.start(replay_cfg)
    second.run()

    def picks(root):
        m = json.loads((root / "manifest.json").read_text())
        return [(it["best_index"], [c["code"] for c in it["candidates"]]) for it in m["iterations"]]

    assert picks(first.store.root) == picks(second.store.root)


# ---------------------------------------------------------------------------- report
@pytest.mark.slow
def test_report_renders_in_headless_chromium(tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("LOUD SKIP: chromium is not installed (.ci/run installs it)")
    cfg = tiny_config(tmp_path, executor="serial", iterations=1, video=True)
    loop = RefineLoop.start(cfg)
    loop.run()
    page = loop.store.root / "report.html"
    text = page.read_text()
    assert "data:image/png;base64" in text and "data:image/gif;base64" in text
    assert "Iteration 0" in text and "http://" not in text.replace("http://www.w3.org", "")
    shot = tmp_path / "report.png"
    subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'chrome'}",
            f"--screenshot={shot}",
            "--window-size=1200,2400",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert shot.stat().st_size > 50_000  # a rendered page with plots, not a blank one


# ---------------------------------------------------------------------------- warm start
class _ReferenceDesigner:
    """Proposes the task's hand-written reference reward every time (a real reward program),
    so the loop's warm-start wiring is tested apart from any designer's choices."""

    name = "reference"
    repairs_refusals = False  # its repair() below cannot act on a refusal

    def __init__(self) -> None:
        from agentic_rl.records import Usage

        self.usage = Usage()

    def propose(self, spec, history, n):
        import rewards
        from agentic_rl.designers.base import best_candidate
        from agentic_rl.records import Proposal

        best = best_candidate(history)
        return [
            Proposal(
                response=rewards.reference_source(spec.id) + f"\n# variant {len(history)}.{k}\n",
                designer=self.name,
                parent=best.cid if best else None,
            )
            for k in range(n)
        ]

    def repair(self, spec, proposal, rejection):
        return proposal


@pytest.mark.slow
def test_warm_start_control_cold_lineage_and_test_seeds(tmp_path):
    cfg = tiny_config(tmp_path, executor="serial", candidates=4, warm_start="on")
    loop = RefineLoop.start(cfg, designer_factory=lambda c, s: _ReferenceDesigner())
    summary = loop.run()
    manifest = _check_run(loop.store.root, cfg, transcript=False)
    parent = manifest["iterations"][0]["candidates"][manifest["iterations"][0]["best_index"]]
    i1 = manifest["iterations"][1]["candidates"]
    assert [c["lineage"]["start"] for c in i1] == ["warm", "warm", "cold", "control"]
    pid = f"i0/c{parent['index']}"
    for c in i1:
        d = Path(c["run_dir"])
        if c["lineage"]["start"] == "cold":
            assert c["lineage"]["warm_from"] is None
            continue
        assert c["lineage"]["warm_from"] == pid
        if c["lineage"]["start"] == "control":
            # the parent's reward, unchanged, and no check before training (it was checked)
            assert (d / "reward.py").read_text() == (
                Path(parent["run_dir"]) / "reward.py"
            ).read_text()
            assert c["precheck"] is None
        else:
            # a new reward: checked on the parent's recorded episodes before training
            assert c["precheck"] is not None and c["precheck"]["details"]["episodes"] == cfg.seeds
        if c["status"] in ("trained", "stopped_early"):
            result = json.loads((d / "result.json").read_text())
            assert result["lineage"] == c["lineage"]  # lineage in result.json too
            trained = json.loads((d / "config.json").read_text())
            assert trained["init_from"] == str(Path(parent["run_dir"]) / "checkpoint.pt")
            assert c["lineage"]["steps"] == parent["lineage"]["steps"] + c["steps"]
    # halving raced only the two warm starts: the control and the cold start trained in full
    states = {c["lineage"]["start"] + str(c["index"]): c["status"] for c in i1}
    assert states["control3"] == states["cold2"] == "trained"
    assert sorted([states["warm0"], states["warm1"]]) == ["stopped_early", "trained"]
    (pair,) = summary["controls"]
    assert pair["control"] == "i1/c3" and pair["test"] is not None
    # judged under both physics: the verdict is "better under one, worse under neither"
    t = pair["test"]
    assert None not in (t["control_randomized"], t["refined_randomized"])
    better = [t["refined"] - t["control"], t["refined_randomized"] - t["control_randomized"]]
    assert pair["reward_beats_control"] == (min(better) >= 0 and max(better) > 0)
    chain = summary["final_lineage"]
    assert chain[0]["cid"] == summary["final"]["cid"] and chain[-1]["start"] == "cold"
    page = (loop.store.root / "report.html").read_text()
    assert "What the new reward bought" in page and "control from i0/c" in page


def test_selection_breaks_nominal_ties_on_randomized_success():
    import sims
    from agentic_rl.selection import score

    spec = sims.get_spec("agentic_rl/DroneHover-v0")
    # equal nominal success: the policy that keeps flying under randomized physics wins,
    # even with the worse task metric
    assert score(spec, 1.0, {"final_distance": 0.05}, 0.8) > score(
        spec, 1.0, {"final_distance": 0.01}, 0.5
    )
    # the tie-breaks together never outweigh one more nominal success in a hundred episodes
    assert score(spec, 0.99, {"final_distance": 0.0}, 1.0) < score(
        spec, 1.0, {"final_distance": 9.0}, 0.0
    )
