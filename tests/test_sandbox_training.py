"""The reward sandbox during training: programs that pass the smoke run, then turn hostile.

Each program below is accepted by the whole pipeline (its smoke states never reach the hostile
branch), then trained through a real executor: the branch fires in states training reaches
(near the goal, far out late in an episode, after a contact). Each must fail its own candidate
with the limit named, within 60 s of the branch firing, with its worker under 2 GiB, and leave
this test process healthy. Memory limits stay small (512 MiB) so that a broken limit could not
hurt the shared machine either.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import rewards
import sims
from agentic_rl.executors import CandidateJob, make_executor
from agentic_rl.ppo import make_config
from rewards.states import recorded_states

ROOT = Path(__file__).resolve().parent.parent
HOVER = "agentic_rl/DroneHover-v0"
PUSH = "agentic_rl/ArmPush-v0"

_BASE = """
def compute_reward(state, action, prev_state, task):
    d = float(np.linalg.norm(state['goal_rel']))
    extra = 0.0
{branch}
    return {{'distance': -d, 'extra': extra}}
"""


def _program(branch: str) -> str:
    return _BASE.format(branch=textwrap.indent(textwrap.dedent(branch).strip(), "    "))


# Near the goal: the recorded DroneHover states never come closer than ~0.40 m.
MEMORY_NEAR_GOAL = _program(
    """
    if d < 0.39:
        a = np.linspace(0.0, 1.0, 14000)
        extra = float(np.sum(a[:, None] * a[None, :]))
    """
)
# Near the goal: one call that never returns from C code (a naive 5-index contraction).
STUCK_IN_C_NEAR_GOAL = _program(
    """
    if d < 0.39:
        m = np.ones((300, 300))
        extra = float(np.sum(np.einsum('ij,jk,kl,lm->im', m, m, m, m)))
    """
)
# Late in an episode: drifted far from the goal, a Python-level computation of many seconds.
SLOW_CALL_FAR_OUT = """
def busy(x):
    s = 0.0
    for i in range(1000):
        for j in range(1000):
            s += x * i - j
    return s


def compute_reward(state, action, prev_state, task):
    d = float(np.linalg.norm(state['goal_rel']))
    extra = 0.0
    if d > 0.6:
        for k in range(60):
            extra += busy(d) * 1e-12
    return {'distance': -d, 'extra': extra}
"""
# After a contact: the pushed object moves faster than in any recorded state.
POWER_AFTER_CONTACT = """
def scale(v):
    return int(v * 1000) * 100000


def compute_reward(state, action, prev_state, task):
    v = float(np.linalg.norm(state['object_vel']))
    d = float(np.linalg.norm(state['object_rel_goal']))
    extra = 0.0
    if v > 0.62:
        n = scale(v)
        extra = float((7 ** n) % 1000)
    return {'distance': -d, 'extra': extra}
"""


def _accepted(source: str, task: str) -> rewards.RewardProgram:
    spec = sims.get_spec(task)
    verdict = rewards.check_source(source, spec)
    assert verdict.accepted, verdict
    return verdict.program


def _job(tmp_path: Path, task: str, program: rewards.RewardProgram, **kw) -> CandidateJob:
    out = tmp_path / "cand"
    out.mkdir()
    (out / "reward.py").write_text(program.source)
    ppo = make_config(
        task_id=task,
        total_steps=200_000,
        num_envs=4,
        num_steps=64,
        update_epochs=1,
        tensorboard=False,
    )
    return CandidateJob(
        task_id=task,
        candidate="i0/c0",
        out_dir=str(out),
        reward=program,
        ppo=ppo.model_dump(mode="json"),
        eval_episodes=1,
        randomized_episodes=0,
        plots=False,
        timeout=240.0,
        memory_mb=512,
        **kw,
    )


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "task", "source", "limit", "line"),
    [
        # lines count in the accepted program text (leading blank lines stripped)
        ("memory near the goal", HOVER, MEMORY_NEAR_GOAL, "memory", 6),
        ("stuck in C near the goal", HOVER, STUCK_IN_C_NEAR_GOAL, "watchdog", 6),
        ("slow call far out", HOVER, SLOW_CALL_FAR_OUT, "watchdog", None),
        ("big power after a contact", PUSH, POWER_AFTER_CONTACT, "size", 11),
    ],
)
def test_hostile_in_training_fails_its_candidate(tmp_path, name, task, source, limit, line):
    program = _accepted(source, task)
    before = _max_rss_mb()
    start = time.monotonic()
    (result,) = list(make_executor("serial", 1).run([_job(tmp_path, task, program)]))
    elapsed = time.monotonic() - start
    assert result.status == "failed", (name, result)
    assert result.limit == limit, (name, result.error)
    assert f"{limit} limit" in result.error
    if line is not None:
        assert f"line {line}" in result.error, result.error
    # The branch fires within seconds of training; the whole candidate, worker start-up
    # (torch, PyBullet) included, is over well inside the 60 s target on top of that.
    assert elapsed < 90, elapsed
    assert result.peak_rss_mb is not None and result.peak_rss_mb < 2048
    assert _max_rss_mb() - before < 200  # this process never ran the program


def test_smoke_states_never_reach_the_hostile_branches():
    # Guards the premise of the test above: if the recorded states changed, the programs
    # would be rejected by the smoke run instead of turning hostile in training.
    hover = recorded_states(sims.get_spec(HOVER))
    assert np.linalg.norm(hover.fields["goal_rel"], axis=-1).min() > 0.39
    assert np.linalg.norm(hover.fields["goal_rel"], axis=-1).max() < 0.6
    push = recorded_states(sims.get_spec(PUSH))
    assert np.linalg.norm(push.fields["object_vel"], axis=-1).max() < 0.62


@pytest.mark.slow
def test_process_executor_workers_die_with_their_driver(tmp_path):
    # A driver that runs a long candidate through the process executor, killed with -9: its
    # worker must be gone at once, and the run lock it inherited released with it.
    program = _accepted(rewards.reference_source(HOVER), HOVER)
    job = _job(tmp_path, HOVER, program)
    job_file = tmp_path / "job.json"
    job_file.write_text(job.model_dump_json())
    lock = tmp_path / ".lock"
    driver = textwrap.dedent(
        f"""
        import fcntl, os, sys
        from agentic_rl.executors import CandidateJob, make_executor
        fd = os.open({str(lock)!r}, os.O_RDWR | os.O_CREAT)
        fcntl.flock(fd, fcntl.LOCK_EX)
        job = CandidateJob.model_validate_json(open({str(job_file)!r}).read())
        ex = make_executor("process", 1, (fd,))
        it = ex.run([job])
        next(it)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", driver], cwd=ROOT)
    worker = _wait_for_worker(proc.pid)
    time.sleep(2.0)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 5
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(worker), "the worker outlived its driver"
    import fcntl

    # The lock is free once the worker is fully gone (its threads exit a moment after the
    # main thread shows as a zombie): no orphan keeps holding it.
    fd = os.open(lock, os.O_RDWR)
    try:
        deadline = time.monotonic() + 5
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                assert time.monotonic() < deadline, "the run lock is still held"
                time.sleep(0.05)
    finally:
        os.close(fd)


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _wait_for_worker(pid: int) -> int:
    # Only the guarded child counts: imports may fork short-lived helpers (ldconfig, uname).
    for _ in range(600):
        for kid in _children(pid):
            try:
                cmdline = Path(f"/proc/{kid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"child_main" in cmdline:
                return kid
        time.sleep(0.05)
    raise AssertionError("the driver never started a worker")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" not in status.read_text()


@pytest.mark.slow
def test_cli_train_runs_a_reward_file_in_a_guarded_child(tmp_path):
    # `agentic-rl train --reward FILE`: the file may be model-written, so it trains under the
    # same limits; its failure is one line naming the limit, never a traceback.
    reward = tmp_path / "hostile.py"
    reward.write_text(MEMORY_NEAR_GOAL)
    out = subprocess.run(
        [
            sys.executable, "-m", "agentic_rl.cli", "train", "--task", "DroneHover",
            "--reward", str(reward), "--steps", "200000", "--no-progress",
            "--set", "num_envs=4", "--set", "num_steps=64", "--set", "tensorboard=false",
            "--out", str(tmp_path / "run"),
        ],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    text = " ".join((out.stdout + out.stderr).split())
    assert out.returncode == 2, text[-2000:]
    assert "memory limit" in text and "line 6" in text
    assert "Traceback" not in text


@pytest.mark.slow
def test_python_api_trains_a_reward_file_in_a_guarded_child(tmp_path):
    # agentic_rl.ppo.train(reward=FILE) from a script or notebook: the same limits as the CLI,
    # so the 1.6 GB broadcast near the goal fails the run, never this process.
    from agentic_rl.ppo import train
    from agentic_rl.ppo.guarded import GuardedRunError

    reward = tmp_path / "hostile.py"
    reward.write_text(MEMORY_NEAR_GOAL)
    config = make_config(
        task_id="DroneHover",
        total_steps=200_000,
        num_envs=4,
        num_steps=64,
        tensorboard=False,
        progress=False,
    )
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(GuardedRunError, match="memory limit"):
        train(config, "DroneHover", reward=str(reward), out_dir=tmp_path / "run")
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 500, f"this process grew by {grown_mb:.0f} MiB: the program ran here"


def test_python_api_refuses_a_callback_with_a_reward_file(tmp_path):
    from agentic_rl.ppo import train

    reward = tmp_path / "reward.py"
    reward.write_text(_program("pass"))
    config = make_config(task_id="DroneHover", total_steps=1024, progress=False)
    with pytest.raises(ValueError, match="guarded child, where a callback cannot run"):
        train(config, "DroneHover", reward=str(reward), out_dir=tmp_path, callback=print)
    assert not (tmp_path / "config.json").exists()
