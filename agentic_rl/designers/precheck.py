"""Checks before training: score a new reward on the parent's recorded episodes (CARD-style).

Training a reward costs minutes; scoring it on episodes that were already recorded costs a
second. Before a new reward gets training steps, the loop replays the parent's evaluation
episodes (their per-step states and actions; the ground truth of each: success, termination
reason) through the new reward and asks two questions the issue names:

(a) **ranking**: do the successful episodes earn a higher return than the failed ones (mean
    over each group, with at least :data:`MIN_GROUP` episodes in each; the share of (success,
    failure) pairs ranked right is reported too)?
(b) **survival**: does ending early by a failure ever pay more than surviving to the time
    limit? Measured two ways, on whichever episodes exist:

    * each episode that *did* end early by a failure is continued, on paper, to the time limit
      at its own median per-step reward; ending early paid when its actual return is higher;
    * each episode that *did* reach the time limit is ended, on paper, right after its first
      step with the failure penalty the reward gives (measured on the recorded failures'
      last step relative to their own median step; 0 when none was recorded); ending early
      paid when that beats the episode's actual return.

    The check fails when ending early paid in more than half of the episodes of either kind.

    Where success *ends* the episode (DroneGates, the arm tasks), surviving does not run to
    the time limit: a robot that does not fail goes on to finish, and finishing sooner is
    the point, so a per-step cost there is a reason to hurry, not to crash. On such tasks,
    when successes were recorded, the yardstick for both kinds is the mean return of the
    recorded successes (finishing as they did) instead of the time limit at the median step:
    ending early pays when a failure earns more than succeeding. (Measured with the time-limit
    yardstick, ``benchmarks/check_accuracy.py`` on ArmReach: every proposal refused, the
    designer's own included, and 6 of 8 of them trained to 88-100%.) Without a recorded
    success the time-limit yardstick stays.

A check without the episodes it needs (no success, or no failure) is reported as not
applicable and does not fail. The :class:`PrecheckVerdict` carries every number and a message
worded for a model to repair its reward (the offline designer discards a failing reward).

Model-written code runs here exactly as in training: compiled by the reward pipeline and
called through the guarded runtime (:class:`rewards.RewardFunction`: non-finite terms zeroed,
exceptions counted), inside the reward sandbox's guarded child process under its CPU, address
space and wall-clock limits (:class:`rewards.SandboxLimits`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from agentic_rl.designers.episodes import (
    EPISODES_FILE,
    RecordedEpisode,
    load_episodes,
    parent_episodes,
    save_episodes,
)

if TYPE_CHECKING:
    from rewards import SandboxLimits
    from sims.spec import TaskSpec

#: Default sandbox for scoring: the smoke run's memory cap, more CPU and wall time (a parent's
#: evaluation episodes are up to ~20 x 1,000 steps, where the smoke run scores 256).
DEFAULT_CPU_SECONDS = 30.0
DEFAULT_WALL_SECONDS = 120.0
#: Ending early "pays" in an episode when it earns more than surviving by at least this share
#: of the episode's mean absolute per-step reward (float noise is not a verdict).
PAY_MARGIN = 1e-3
#: Ending early must pay in more than this share of an episode group for check (b) to fail.
PAY_MAJORITY = 0.5
#: Check (a) compares group means only with at least this many successes and failures: one
#: failed episode that nearly succeeded is noise, not a verdict on the reward.
MIN_GROUP = 2


class PrecheckError(RuntimeError):
    """The reward could not be scored: it hit a sandbox limit or the runtime's error budget,
    or it does not compile. The message says which, for the reward's author."""


# ------------------------------------------------------------------------------ the verdict
class CheckResult(BaseModel):
    """One of the checks."""

    model_config = ConfigDict(extra="forbid")

    name: str
    applicable: bool
    passed: bool
    message: str


class PrecheckVerdict(BaseModel):
    """What the checks found, with the numbers (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    passed: bool
    episodes: int
    successes: int
    failures: int
    early_failures: int
    at_limit: int
    success_return: float | None = Field(None, description="Mean return of the successes.")
    failure_return: float | None = Field(None, description="Mean return of the failures.")
    pairs_ranked_right: float | None = Field(
        None, description="Share of (success, failure) pairs where the success earns more."
    )
    early_paid: int = Field(0, description="Early failures that earned more than surviving.")
    limit_paid: int = Field(0, description="Time-limit episodes that would earn more failing.")
    early_return: float | None = Field(None, description="Mean return of the early failures.")
    early_survival_return: float | None = Field(
        None, description="Their mean return continued to the time limit at the median step."
    )
    failure_penalty: float | None = Field(
        None, description="Mean extra reward of a failure's last step over its median step."
    )
    reward_errors: int = Field(0, description="Steps on which the reward raised (paid 0).")
    checks: list[CheckResult] = Field(default_factory=list)
    message: str = Field(description="The verdict in words, written for the reward's author.")

    @property
    def feedback(self) -> str:
        """The message to hand back to a designer (a repair prompt for a model)."""
        return self.message


# ------------------------------------------------------------------------------ scoring
def score_episodes(
    source: str,
    spec: TaskSpec,
    episodes: Sequence[RecordedEpisode],
    *,
    limits: SandboxLimits | None = None,
) -> tuple[list[np.ndarray], int]:
    """Per-step rewards of ``source`` on every episode, computed in a sandboxed child.

    Returns:
        ``(rewards, errors)``: one ``(length,)`` array of per-step totals per episode, and the
        number of steps on which the program raised (the guarded runtime paid 0 there).

    Raises:
        PrecheckError: if the program does not compile, raised more often than the runtime
            tolerates, or the child hit a limit (the message names it).
    """
    from rewards import SandboxLimits
    from rewards.child import run_guarded

    limits = limits or SandboxLimits(
        cpu_seconds=DEFAULT_CPU_SECONDS, wall_seconds=DEFAULT_WALL_SECONDS
    )
    payload = {
        "source": source,
        "spec": spec,
        "episodes": list(episodes),
        "limits": limits,
    }
    # The reward sandbox's guarded child (rewards.child): limits armed before the program is
    # compiled, no caller's __main__ re-imported, the child dies with this process.
    outcome = run_guarded(
        "agentic_rl.designers.precheck:score_child",
        (payload,),
        limits=limits.process_limits(),
        preload=("numpy", "rewards", "sims", "agentic_rl.designers.precheck"),
        name="precheck",
    )
    result: dict[str, Any] | None = outcome.value if outcome.ok else None
    if result is None:
        raise PrecheckError(
            f"scoring the recorded episodes did not finish within the sandbox's limits "
            f"({limits.cpu_seconds:g} s CPU, {limits.memory_mb} MiB, {limits.wall_seconds:g} s "
            f"wall; {outcome.message}): keep the reward cheap and bounded",
        )
    if "rejected" in result:
        raise PrecheckError(result["rejected"])
    return [np.asarray(r, dtype=np.float64) for r in result["rewards"]], int(result["errors"])


def score_child(payload: dict[str, Any]) -> dict[str, Any]:
    """Inside the guarded child: compile and call the reward on every recorded step."""
    from rewards import RewardRejected

    try:
        return _score(payload)
    except RewardRejected as exc:
        where = f" at line {exc.line}" if exc.line else ""
        return {"rejected": f"it does not compile ({exc.stage}{where}): {exc.message[:1000]}"}
    except MemoryError:
        return {"rejected": "it ran out of memory in the sandbox"}
    except Exception as exc:  # report anything (a limit names itself), never hang the parent
        return {"rejected": f"{type(exc).__name__}: {str(exc)[:1000]}"}


def _score(payload: dict[str, Any]) -> dict[str, Any]:
    from types import MappingProxyType

    import rewards

    spec = payload["spec"]
    fn = rewards.compile_program(payload["source"], spec)
    task = MappingProxyType(dict(spec.constants))
    out = []
    for ep in payload["episodes"]:
        per_step = [sum(fn(s, a, p, task).values()) for s, a, p in ep.transitions()]
        out.append(per_step)
    return {"rewards": out, "errors": sum(fn.error_counts.values())}


# ------------------------------------------------------------------------------ the checks
def check_reward(
    source: str,
    spec: TaskSpec,
    episodes: Sequence[RecordedEpisode],
    *,
    limits: SandboxLimits | None = None,
) -> PrecheckVerdict:
    """Score ``source`` on recorded episodes and run checks (a) and (b).

    Args:
        source: the reward program (already accepted by :func:`rewards.check_source`).
        spec: the task.
        episodes: the parent's recorded evaluation episodes.
        limits: sandbox limits of the scoring child.

    Returns:
        The verdict; a reward that cannot be scored (see :func:`score_episodes`) fails it,
        with the reason as its message.
    """
    try:
        per_step, errors = score_episodes(source, spec, episodes, limits=limits)
    except PrecheckError as exc:
        message = (
            "The reward was run on the parent's recorded evaluation episodes before training "
            f"and failed there: {exc}"
        )
        return PrecheckVerdict(
            passed=False,
            episodes=len(episodes),
            successes=sum(ep.success for ep in episodes),
            failures=sum(not ep.success for ep in episodes),
            early_failures=0,
            at_limit=0,
            checks=[CheckResult(name="runs", applicable=True, passed=False, message=str(exc))],
            message=message,
        )
    return judge(spec, episodes, per_step, reward_errors=errors)


def judge(
    spec: TaskSpec,
    episodes: Sequence[RecordedEpisode],
    per_step: Sequence[np.ndarray],
    *,
    reward_errors: int = 0,
) -> PrecheckVerdict:
    """Checks (a) and (b) on already computed per-step rewards (pure arithmetic)."""
    early_reasons = set(spec.failure_reasons)
    returns = np.array([float(r.sum()) for r in per_step])
    ok = np.array([ep.success for ep in episodes], dtype=bool)
    early = np.array([not ep.success and ep.reason in early_reasons for ep in episodes])
    at_limit = np.array([ep.length >= spec.max_episode_steps for ep in episodes])

    checks = [_ranking(returns, ok)]
    finish = _mean(returns[ok]) if spec.success_ends_episode else None
    survival, numbers = _survival(spec, per_step, returns, early, at_limit, finish)
    checks.append(survival)
    passed = all(c.passed for c in checks)
    failed = [c for c in checks if not c.passed]
    if passed:
        message = "The reward passes the checks on the parent's recorded episodes: " + "; ".join(
            c.message for c in checks
        )
    else:
        message = (
            "The reward was scored on the parent's recorded evaluation episodes before "
            "training and rejected: "
            + " ".join(c.message for c in failed)
            + " Fix the reward so that succeeding always earns more than failing and staying "
            "alive never costs more than ending the episode (keep per-step rewards of a "
            "surviving robot non-negative, e.g. bounded positive shaping, or make failure cost "
            "more than the rest of the episode could)."
        )
    if reward_errors:
        message += f" Note: the reward raised on {reward_errors} recorded steps (paid 0 there)."
    return PrecheckVerdict(
        passed=passed,
        episodes=len(episodes),
        successes=int(ok.sum()),
        failures=int((~ok).sum()),
        early_failures=int(early.sum()),
        at_limit=int(at_limit.sum()),
        success_return=_mean(returns[ok]),
        failure_return=_mean(returns[~ok]),
        pairs_ranked_right=_pairs(returns[ok], returns[~ok]),
        reward_errors=reward_errors,
        checks=checks,
        message=message,
        **numbers,
    )


def _mean(x: np.ndarray) -> float | None:
    return float(x.mean()) if x.size else None


def _pairs(good: np.ndarray, bad: np.ndarray) -> float | None:
    if not good.size or not bad.size:
        return None
    return float((good[:, None] > bad[None, :]).mean())


def _ranking(returns: np.ndarray, ok: np.ndarray) -> CheckResult:
    good, bad = returns[ok], returns[~ok]
    if good.size < MIN_GROUP or bad.size < MIN_GROUP:
        which = "successful" if good.size < MIN_GROUP else "failed"
        return CheckResult(
            name="ranking",
            applicable=False,
            passed=True,
            message=f"(a) not applicable: fewer than {MIN_GROUP} {which} episodes were recorded",
        )
    g, b = float(good.mean()), float(bad.mean())
    pairs = _pairs(good, bad)
    numbers = (
        f"successful episodes earn {g:.4g} on average ({good.size} episodes), failed ones "
        f"{b:.4g} ({bad.size}); {pairs:.0%} of (success, failure) pairs are ranked right"
    )
    if g > b:
        return CheckResult(name="ranking", applicable=True, passed=True, message=f"(a) {numbers}")
    return CheckResult(
        name="ranking",
        applicable=True,
        passed=False,
        message=f"(a) Failing pays: {numbers}. The reward prefers failing to succeeding.",
    )


def _survival(
    spec: TaskSpec,
    per_step: Sequence[np.ndarray],
    returns: np.ndarray,
    early: np.ndarray,
    at_limit: np.ndarray,
    finish: float | None = None,
) -> tuple[CheckResult, dict[str, Any]]:
    """Check (b). ``finish``: the recorded successes' mean return where success ends the
    episode (the yardstick for not failing there), else ``None`` (the time limit's)."""
    limit = spec.max_episode_steps
    scale = [max(float(np.abs(r).mean()), 1e-9) if r.size else 1e-9 for r in per_step]
    # the failure penalty: how much a failure's last step pays over that episode's usual step
    extras = [
        float(per_step[i][-1] - np.median(per_step[i][:-1]))
        for i in np.flatnonzero(early)
        if per_step[i].size >= 2
    ]
    penalty = float(np.mean(extras)) if extras else None
    # early failures continued, on paper, at their median step to the time limit
    early_paid, early_ret, survive_ret = 0, [], []
    for i in np.flatnonzero(early):
        r = per_step[i]
        typical = float(np.median(r[:-1])) if r.size >= 2 else 0.0
        survive = (
            finish if finish is not None else float(r[:-1].sum()) + typical * (limit - r.size + 1)
        )
        early_ret.append(returns[i])
        survive_ret.append(survive)
        early_paid += returns[i] > survive + PAY_MARGIN * scale[i]
    # time-limit episodes ended, on paper, right after their first step by a failure
    limit_paid = 0
    for i in np.flatnonzero(at_limit):
        r = per_step[i]
        fail_now = float(r[0]) + (penalty if penalty is not None else 0.0)
        stay = finish if finish is not None else returns[i]
        limit_paid += fail_now > stay + PAY_MARGIN * scale[i]
    n_early, n_limit = int(early.sum()), int(at_limit.sum())
    numbers: dict[str, Any] = {
        "early_paid": early_paid,
        "limit_paid": limit_paid,
        "early_return": float(np.mean(early_ret)) if early_ret else None,
        "early_survival_return": float(np.mean(survive_ret)) if survive_ret else None,
        "failure_penalty": penalty,
    }
    if not n_early and not n_limit:
        return CheckResult(
            name="survival",
            applicable=False,
            passed=True,
            message="(b) not applicable: no episode ended early by a failure or reached the "
            "time limit",
        ), numbers
    parts, bad = [], False
    survive = (
        "finishing as the recorded successes did"
        if finish is not None
        else "surviving to the time limit at their median step"
    )
    if n_early:
        pays = early_paid > PAY_MAJORITY * n_early
        bad |= pays
        parts.append(
            f"{early_paid} of {n_early} episodes that ended early by a failure earned more "
            f"({numbers['early_return']:.4g} on average) than {survive} would have "
            f"({numbers['early_survival_return']:.4g})"
        )
    if n_limit:
        pays = limit_paid > PAY_MAJORITY * n_limit
        bad |= pays
        how = (
            f"with the failure penalty measured on the recorded failures ({penalty:+.4g} on "
            "the failing step)"
            if penalty is not None
            else "(no recorded failure to measure a failure penalty: taken as 0)"
        )
        than = f" than the recorded successes ({finish:.4g})" if finish is not None else ""
        parts.append(
            f"{limit_paid} of {n_limit} episodes that reached the time limit would have earned "
            f"more by failing right after the first step{than} {how}"
        )
    text = "; ".join(parts)
    if bad:
        return CheckResult(
            name="survival",
            applicable=True,
            passed=False,
            message=f"(b) Ending the episode early pays: {text}. Per-step rewards are negative "
            "enough that a failure ends the cost.",
        ), numbers
    return CheckResult(
        name="survival", applicable=True, passed=True, message=f"(b) {text}"
    ), numbers


__all__ = [
    "EPISODES_FILE",
    "CheckResult",
    "PrecheckError",
    "PrecheckVerdict",
    "RecordedEpisode",
    "check_reward",
    "judge",
    "load_episodes",
    "parent_episodes",
    "save_episodes",
    "score_episodes",
]
