"""The closed refinement loop behind ``agentic-rl refine``.

Per iteration (DESIGN.md):

1. **propose** K reward candidates with the designer (it sees every earlier iteration);
2. **validate** each through the reward pipeline, with up to ``repair_rounds`` repair rounds
   (default 2) for rejected code;
3. **train** the accepted ones in parallel with the executor; with successive halving all
   train to a rung (a third of their planned steps), the weaker half stops there and its unused
   budget goes to the survivors, which continue from their checkpoints;
4. **evaluate** each finished candidate on held-out seeds, nominal and randomized, and write
   its diagnosis packet (inside the work unit);
5. **select** on task metrics: the top two are re-evaluated on extra seeds, and the all-time
   best is replaced only by a candidate that beats it (never regress);
6. **feed back**: the iteration's records, packets included, go to the designer.

Every step is persisted in the run folder (``manifest.json``, written atomically) before the
next starts, so ``--resume`` continues after any crash or ``kill -9`` from the last completed
step; finished candidates are never retrained and a candidate interrupted mid-training resumes
from its last checkpoint.
"""

from __future__ import annotations

import json
import math
import resource
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

import rewards
import sims
from agentic_rl import seeds, selection
from agentic_rl.config import RefineConfig
from agentic_rl.executors import CandidateJob, CandidateResult, make_executor
from agentic_rl.records import (
    CandidateRecord,
    IterationRecord,
    Proposal,
    Rejection,
    Usage,
)
from agentic_rl.runstore import RunStore, read_json, write_json

MANIFEST_VERSION = 1


class RefineLoop:
    """Runs (or resumes) one refinement run in a run folder.

    Args:
        config: the resolved run configuration.
        store: the run folder (locked by :meth:`run`).
        console: where progress goes (``Console(quiet=True)`` to silence it).
        designer_factory: test seam; builds the designer (default: by ``config.designer``).
    """

    def __init__(
        self,
        config: RefineConfig,
        store: RunStore,
        console: Console | None = None,
        designer_factory: Callable[[RefineConfig, RunStore], Any] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.console = console or Console()
        self.spec = sims.get_spec(config.task)
        self._designer_factory = designer_factory or _make_designer
        self.manifest: dict[str, Any] = {}
        self._executor: Any = None

    # ------------------------------------------------------------------ entry points
    @classmethod
    def start(cls, config: RefineConfig, console: Console | None = None, **kw: Any) -> RefineLoop:
        store = RunStore.create(config.out, config.task)
        write_json(store.config_path, config)
        loop = cls(config, store, console, **kw)
        loop.manifest = {
            "version": MANIFEST_VERSION,
            "task_id": config.task,
            "status": "running",
            "stop_reason": None,
            "iteration": 0,
            "iterations": [],
            "current": None,
            "best": None,
            "usage": Usage().model_dump(),
            "wall_time": 0.0,
            "started": time.time(),
        }
        store.save_manifest(loop.manifest)
        return loop

    @classmethod
    def resume(cls, run_dir: str | Path, console: Console | None = None, **kw: Any) -> RefineLoop:
        store = RunStore(Path(run_dir))
        if not store.config_path.exists():
            raise FileNotFoundError(f"{run_dir} has no config.json: not an agentic-rl run folder")
        config = RefineConfig.model_validate(read_json(store.config_path))
        loop = cls(config, store, console, **kw)
        loop.manifest = store.load_manifest()
        if loop.manifest.get("version") != MANIFEST_VERSION:
            raise ValueError(
                f"{run_dir} was written by manifest version {loop.manifest.get('version')}, "
                f"this agentic-rl reads version {MANIFEST_VERSION}"
            )
        return loop

    def run(self) -> dict[str, Any]:
        """Run to a stop condition and return the summary (also written to summary.json)."""
        self.store.lock()
        try:
            self.designer = self._designer_factory(self.config, self.store)
            if self.manifest["status"] == "running":
                self._loop()
            return self._finish()
        finally:
            if self._executor is not None:
                self._executor.close()
                self._executor = None
            self.store.unlock()

    # ------------------------------------------------------------------ the loop
    def _loop(self) -> None:
        t0 = time.monotonic()
        wall_before = self.manifest["wall_time"]
        while self.manifest["status"] == "running":
            reason = self._stop_reason(wall_before + time.monotonic() - t0)
            if reason:
                self._stop(reason)
                break
            i = self.manifest["iteration"]
            if self.manifest["current"] is None:
                try:
                    self._propose(i)
                except _BudgetStop as exc:
                    self._stop(str(exc))
                    break
            self._validate(i)
            self._train(i)
            self._select(i)
            self.manifest["wall_time"] = wall_before + time.monotonic() - t0
            self._save()
        self.manifest["wall_time"] = wall_before + time.monotonic() - t0
        self._save()

    def _stop_reason(self, wall: float) -> str | None:
        cfg, best = self.config, self.manifest["best"]
        if self.manifest["iteration"] >= cfg.iterations:
            return f"completed {cfg.iterations} iterations"
        if cfg.target_success is not None and best and best["success_rate"] >= cfg.target_success:
            return f"best success {best['success_rate']:.0%} reached the target"
        if cfg.max_wall is not None and wall >= cfg.max_wall:
            return f"wall-clock budget of {cfg.max_wall:g} s used"
        return None

    def _stop(self, reason: str) -> None:
        self.manifest["status"] = "finished"
        self.manifest["stop_reason"] = reason
        self.console.print(f"[bold]stopping:[/] {reason}")
        self._save()

    # ------------------------------------------------------------------ 1. propose
    def _propose(self, i: int) -> None:
        cfg = self.config
        self.console.rule(f"iteration {i}: proposing {cfg.candidates} candidates")
        from agentic_rl.designers.base import BudgetExceeded

        try:
            proposals = self.designer.propose(self.spec, self._history(), cfg.candidates)
        except BudgetExceeded as exc:
            raise _BudgetStop(f"designer budget reached: {exc}") from exc
        finally:
            self._sync_usage()
        current: dict[str, Any] = {"iteration": i, "stage": "validate", "candidates": {}}
        current["randomize"] = self._randomization(i)
        for k, proposal in enumerate(proposals):
            d = self.store.candidate_dir(i, k)
            write_json(d / "proposal.json", proposal)
            current["candidates"][str(k)] = {"state": "proposed"}
        self.manifest["current"] = current
        self._save()

    # ------------------------------------------------------------------ 2. validate
    def _validate(self, i: int) -> None:
        from agentic_rl.designers.base import BudgetExceeded

        current = self.manifest["current"]
        for key, cand in current["candidates"].items():
            if cand["state"] != "proposed":
                continue
            d = self.store.candidate_dir(i, int(key))
            proposal = Proposal.model_validate(read_json(d / "proposal.json"))
            verdict = rewards.check_source(proposal.response, self.spec)
            rounds = self.config.designer_options.repair_rounds
            for r in range(1, rounds + 1):  # repair rounds (designer_options.repair_rounds)
                if not isinstance(verdict, rewards.Rejected):
                    break
                rejection = Rejection(
                    stage=verdict.stage, line=verdict.line, message=verdict.message
                )
                self.console.print(
                    f"i{i}/c{key}: rejected at {verdict.stage} ({verdict.message.splitlines()[0]}); "
                    f"repair round {r} of {rounds}"
                )
                try:
                    proposal = self.designer.repair(
                        self.spec,
                        proposal,
                        rejection,
                        self._history(),
                        round=r,
                        rounds=rounds,
                        candidate=f"i{i}/c{key}",
                    )
                except BudgetExceeded:
                    break
                finally:
                    self._sync_usage()
                write_json(d / "proposal.json", proposal)
                write_json(d / f"rejection_{r}.json", rejection)
                verdict = rewards.check_source(proposal.response, self.spec)
            if isinstance(verdict, rewards.Rejected):
                cand.update(
                    state="rejected",
                    rejection=Rejection(
                        stage=verdict.stage, line=verdict.line, message=verdict.message
                    ).model_dump(),
                )
                self.console.print(f"i{i}/c{key}: [red]rejected[/] ({verdict.stage})")
            else:
                (d / "reward.py").write_text(verdict.program.source)
                write_json(d / "reward.json", verdict.program)  # the checked program, for jobs
                cand.update(state="accepted")
            self._save()
        current["stage"] = "train"
        self._save()

    # ------------------------------------------------------------------ 3-4. train + evaluate
    def _train(self, i: int) -> None:
        cfg = self.config
        current = self.manifest["current"]
        cands = current["candidates"]
        trainable = [k for k, c in cands.items() if c["state"] not in ("rejected",)]
        halving = cfg.halving and len(trainable) >= 2
        steps = (
            selection.survivor_steps(cfg.steps, len(trainable), cfg.rung_fraction)
            if halving
            else cfg.steps
        )
        current["planned_steps"] = steps
        rung = int(steps * cfg.rung_fraction) if halving else None
        if halving:
            todo = [k for k in trainable if cands[k]["state"] in ("accepted", "training_rung")]
            if todo:
                self.console.print(
                    f"iteration {i}: training {len(todo)} candidates to the halving rung "
                    f"({rung:,} of {steps:,} steps)"
                )
                self._run_jobs(i, todo, steps, rung, "training_rung")
            paused = {k: c for k, c in cands.items() if c["state"] == "paused"}
            if paused:
                scores = {
                    k: selection.rung_score(self.spec, c["rung_row"]) for k, c in paused.items()
                }
                keep = selection.halving_survivors(scores)
                for k, c in paused.items():
                    if k not in keep:
                        c["state"] = "stopped_early"
                        c["error"] = (
                            f"stopped at the rung ({c.get('steps', 0):,} steps): training score "
                            f"{scores[k]:.3f} in the lower half; its budget went to the survivors"
                        )
                        self.console.print(f"i{i}/c{k}: stopped early (successive halving)")
                    else:
                        c["state"] = "survivor"
                self._save()
        todo = [k for k, c in cands.items() if c["state"] in ("accepted", "survivor", "training")]
        if todo:
            self.console.print(f"iteration {i}: training {len(todo)} candidates to {steps:,} steps")
            self._run_jobs(i, todo, steps, None, "training")
        current["stage"] = "select"
        self._save()

    def _run_jobs(
        self, i: int, keys: list[str], steps: int, stop_at: int | None, state: str
    ) -> None:
        cfg = self.config
        cands = self.manifest["current"]["candidates"]
        jobs = []
        for k in keys:
            cands[k]["state"] = state
            jobs.append(self._job(i, int(k), steps, stop_at))
        self._save()
        busy = min(cfg.workers, len(jobs))
        wall0, cpu0 = time.monotonic(), _cpu_seconds()
        if self._executor is None:  # one per run: a Ray cluster starts once, not per batch
            self._executor = make_executor(cfg.executor, cfg.workers, self.store.lock_fds)
        for result in self._executor.run(jobs):
            self._record_result(i, result)
        # CPU utilisation of the training phase: CPU seconds of this process and its finished
        # workers over the wall time of the cores it could use
        usage = self.manifest.setdefault("training_cpu", {"cpu_s": 0.0, "core_s": 0.0})
        usage["cpu_s"] += _cpu_seconds() - cpu0
        usage["core_s"] += (time.monotonic() - wall0) * busy
        self._save()

    def _randomization(self, i: int) -> Any:
        """This iteration's training randomization (``auto``: ranges from the robustness
        sweep of the best policy so far, recorded in ``iter_<i>/randomization.json``)."""
        if self.config.randomize != "auto":
            return self.config.randomize
        from agentic_rl.robustness import auto_randomization

        best = self.store.best_dir if self.manifest["best"] else None
        ranges, record = auto_randomization(
            self.spec, best, self._history(), episodes=8, seed=self.config.seed
        )
        write_json(self.store.root / f"iter_{i}" / "randomization.json", record)
        self.console.print(
            f"iteration {i}: training under randomization "
            + ", ".join(f"{k} [{lo:.3g}, {hi:.3g}]" for k, (lo, hi) in ranges.items())
        )
        return {k: [float(lo), float(hi)] for k, (lo, hi) in ranges.items()}

    def _job(self, i: int, k: int, steps: int, stop_at: int | None) -> CandidateJob:
        cfg = self.config
        from agentic_rl.ppo import make_config

        ppo = make_config(
            task_id=cfg.task,
            total_steps=steps,
            seed=seeds.training(cfg.seed, i, k),
            **cfg.ppo,
        )
        checked = self.store.candidate_dir(i, k) / "reward.json"
        return CandidateJob(
            task_id=cfg.task,
            candidate=f"i{i}/c{k}",
            out_dir=str(self.store.candidate_dir(i, k)),
            reward=rewards.RewardProgram.model_validate(read_json(checked))
            if checked.exists()
            else None,
            ppo=ppo.model_dump(mode="json"),
            stop_at=stop_at,
            randomize=self.manifest["current"].get("randomize", cfg.randomize),
            eval_episodes=cfg.seeds,
            eval_seed=seeds.SELECTION.seeds(cfg.seeds, cfg.seed).start,
            randomized_episodes=cfg.randomized_seeds,
            timeout=cfg.candidate_timeout,
        )

    def _record_result(self, i: int, result: CandidateResult) -> None:
        key = result.candidate.split("/c")[1]
        cand = self.manifest["current"]["candidates"][key]
        write_json(self.store.candidate_dir(i, int(key)) / "result.json", result)
        cand.update(
            state=result.status,
            steps=result.steps,
            wall_time=cand.get("wall_time", 0.0) + result.wall_time,
            rung_row=result.rung_row,
            error=result.error,
        )
        if result.status == "done":
            cand.update(
                success_rate=result.success_rate,
                randomized_success_rate=result.randomized_success_rate,
                task_metrics=result.task_metrics,
                score=selection.score(self.spec, result.success_rate or 0.0, result.task_metrics),
            )
            rand = result.randomized_success_rate
            self.console.print(
                f"{result.candidate}: [green]done[/] success {result.success_rate:.0%} nominal"
                + (f", {rand:.0%} randomized" if rand is not None else "")
                + f" ({result.steps:,} steps, {result.wall_time:.0f} s)"
            )
        elif result.status == "paused":
            sr = result.rung_row.get("rollout/success_rate")
            shown = "no episode finished yet" if sr is None else f"training success {sr:.0%}"
            self.console.print(f"{result.candidate}: at the rung ({result.steps:,} steps), {shown}")
        else:
            self.console.print(f"{result.candidate}: [red]{result.status}[/] {result.error}")
        self._save()

    # ------------------------------------------------------------------ 5. select
    def _select(self, i: int) -> None:
        cfg = self.config
        current = self.manifest["current"]
        cands = current["candidates"]
        done = sorted(
            (k for k, c in cands.items() if c["state"] == "done"),
            key=lambda k: (-cands[k]["score"], int(k)),
        )
        for k in done[:2]:
            if cfg.reeval_seeds and "reeval" not in cands[k]:
                cands[k]["reeval"] = self._reevaluate(i, int(k))
                self._save()
        for k in done[:2]:
            c, extra = cands[k], cands[k].get("reeval")
            if extra and not extra.get("merged"):
                n0, n1 = cfg.seeds, extra["episodes"]
                c["success_rate"] = (c["success_rate"] * n0 + extra["success_rate"] * n1) / (
                    n0 + n1
                )
                c["score"] = selection.score(self.spec, c["success_rate"], c["task_metrics"])
                extra["merged"] = True
        best_key = max(done, key=lambda k: (cands[k]["score"], -int(k)), default=None)
        records = [
            self._candidate_record(i, int(k), c)
            for k, c in sorted(cands.items(), key=lambda kv: int(kv[0]))
        ]
        iteration = IterationRecord(
            iteration=i, candidates=records, best_index=None if best_key is None else int(best_key)
        )
        self.manifest["iterations"].append(iteration.model_dump(mode="json"))
        if best_key is not None:
            self._maybe_new_best(iteration.candidates[int(best_key)])
        self.manifest["current"] = None
        self.manifest["iteration"] = i + 1
        self._save()

    def _reevaluate(self, i: int, k: int) -> dict[str, Any]:
        from agentic_rl.ppo import evaluate

        cfg = self.config
        d = self.store.candidate_dir(i, k)
        extra = seeds.REEVALUATION.seeds(cfg.reeval_seeds, cfg.seed)
        result = evaluate(d / "policy.npz", cfg.task, seeds=extra)
        return {
            "episodes": result.episodes,
            "success_rate": result.success_rate,
            "task_metrics": result.mean_metrics(),
        }

    def _candidate_record(self, i: int, k: int, c: dict[str, Any]) -> CandidateRecord:
        d = self.store.candidate_dir(i, k)
        proposal = Proposal.model_validate(read_json(d / "proposal.json"))
        code = (d / "reward.py").read_text() if (d / "reward.py").exists() else None
        status = {"done": "trained", "paused": "stopped_early"}.get(c["state"], c["state"])
        packet = d / "packet.json"
        return CandidateRecord(
            iteration=i,
            index=k,
            proposal=proposal,
            status=status,
            code=code,
            rejection=c.get("rejection"),
            error=c.get("error"),
            success_rate=c.get("success_rate"),
            randomized_success_rate=c.get("randomized_success_rate"),
            task_metrics=c.get("task_metrics", {}),
            score=c.get("score"),
            steps=c.get("steps", 0),
            wall_time=c.get("wall_time", 0.0),
            packet_text=(d / "packet.txt").read_text() if (d / "packet.txt").exists() else None,
            packet_path=str(packet) if packet.exists() else None,
            run_dir=str(d),
        )

    def _maybe_new_best(self, cand: CandidateRecord) -> None:
        best = self.manifest["best"]
        if best is not None and cand.score is not None and cand.score <= best["score"]:
            self.console.print(
                f"iteration best {cand.cid} ({cand.success_rate:.0%}) does not beat the "
                f"all-time best {best['cid']} ({best['success_rate']:.0%}): keeping it"
            )
            return
        self.manifest["best"] = {
            "cid": cand.cid,
            "iteration": cand.iteration,
            "index": cand.index,
            "score": cand.score,
            "success_rate": cand.success_rate,
            "randomized_success_rate": cand.randomized_success_rate,
            "task_metrics": cand.task_metrics,
            "run_dir": cand.run_dir,
        }
        self.console.print(f"[bold green]new best[/] {cand.cid}: success {cand.success_rate:.0%}")
        if self.config.export:
            self._export(cand)
        self._save()

    def _export(self, cand: CandidateRecord) -> None:
        from agentic_rl.export import export_bundle

        tmp = self.store.root / "best.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        export_bundle(Path(cand.run_dir), self.config.task, tmp, reward_source=cand.code)
        onnx_error = _check_onnx_against_torch(tmp, Path(cand.run_dir) / "policy.npz")
        shutil.rmtree(self.store.best_dir, ignore_errors=True)
        tmp.rename(self.store.best_dir)
        write_json(
            self.store.best_dir / "candidate.json",
            {"cid": cand.cid, "onnx_vs_torch_max_abs_error": onnx_error},
        )

    # ------------------------------------------------------------------ finish
    def _finish(self) -> dict[str, Any]:
        best = self.manifest["best"]
        gif = self.store.best_dir / "policy.gif"
        if self.config.video and best and self.store.best_dir.exists() and not gif.exists():
            from agentic_rl.ppo import record_video

            record_video(
                Path(best["run_dir"]) / "policy.npz",
                self.config.task,
                gif,
                seed=seeds.SELECTION.first(self.config.seed),
            )
        summary = build_summary(self.manifest, self.config)
        write_json(self.store.root / "summary.json", summary)
        try:
            from agentic_rl.report import write_report

            write_report(self.store.root)
        except ImportError:  # pragma: no cover - report module is optional during development
            pass
        return summary

    def _history(self) -> list[IterationRecord]:
        return [IterationRecord.model_validate(it) for it in self.manifest["iterations"]]

    def _sync_usage(self) -> None:
        usage = getattr(self.designer, "usage", None)
        if isinstance(usage, Usage):
            self.manifest["usage"] = usage.model_dump()

    def _save(self) -> None:
        self.store.save_manifest(self.manifest)


class _BudgetStop(Exception):
    pass


#: Largest allowed difference between the exported ONNX graph and the torch policy.
ONNX_ATOL = 1e-5


def _check_onnx_against_torch(bundle: Path, policy_path: Path) -> float:
    """Run the bundle's ONNX graph (onnxruntime) and the torch policy on the bundle's golden
    observations; raise if they disagree by more than :data:`ONNX_ATOL`."""
    import numpy as np
    import onnxruntime

    from agentic_rl.export.onnx_export import torch_actions
    from agentic_rl.ppo import load_policy

    obs = np.load(bundle / "golden.npz")["obs"]
    session = onnxruntime.InferenceSession(str(bundle / "policy.onnx"))
    onnx_out = session.run(None, {session.get_inputs()[0].name: obs})[0]
    error = float(np.max(np.abs(onnx_out - torch_actions(load_policy(policy_path), obs))))
    if not error <= ONNX_ATOL:
        raise RuntimeError(
            f"exported ONNX policy differs from the torch policy by {error:.2e} "
            f"(> {ONNX_ATOL:g}) on the golden observations; the bundle was not installed"
        )
    return error


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and its reaped children (workers)."""
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _make_designer(config: RefineConfig, store: RunStore) -> Any:
    from agentic_rl.designers import make_designer

    opts = config.designer_options
    options: dict[str, Any] = {"transcript": store.transcript_path, "seed": config.seed}
    if config.designer == "openai":
        # every designer option but the replay designer's and the loop's own
        llm = opts.model_dump(exclude={"transcript", "repair_rounds"})
        options.update(
            llm,
            budget_tokens=config.budget_tokens,
            budget_usd=config.budget_usd,
            feedback=store.root / "feedback.md",
        )
    elif config.designer == "replay":
        if not opts.transcript:
            raise ValueError(
                "the replay designer needs a transcript: --transcript RUN_DIR/llm_transcript.jsonl"
            )
        source = Path(opts.transcript)
        if not source.exists():
            raise FileNotFoundError(f"transcript to replay {source} does not exist")
        # the run keeps a copy, so it can itself be replayed and reported like any other
        if not store.transcript_path.exists():
            shutil.copyfile(source, store.transcript_path)
        options["transcript"] = store.transcript_path
    return make_designer(config.designer, **options)


def build_summary(manifest: dict[str, Any], config: RefineConfig) -> dict[str, Any]:
    """The machine-readable outcome of a run (``summary.json``)."""
    iterations = manifest["iterations"]
    bests = [
        it["candidates"][it["best_index"]] for it in iterations if it["best_index"] is not None
    ]
    initial = bests[0] if bests else None
    final = manifest["best"]

    def pick(c: dict[str, Any] | None) -> dict[str, Any] | None:
        if c is None:
            return None
        cid = c.get("cid") or f"i{c['iteration']}/c{c['index']}"
        return {"cid": cid, "success_rate": c["success_rate"], "task_metrics": c["task_metrics"]}

    improvement = None
    if initial and final:
        a, b = initial["success_rate"], final["success_rate"]
        improvement = {
            "success_rate_points": b - a,
            "relative": (b - a) / a if a > 0 else (math.inf if b > 0 else 0.0),
        }
    counts: dict[str, int] = {}
    for it in iterations:
        for c in it["candidates"]:
            counts[c["status"]] = counts.get(c["status"], 0) + 1
    return {
        "task_id": manifest["task_id"],
        "status": manifest["status"],
        "stop_reason": manifest["stop_reason"],
        "iterations": len(iterations),
        "candidates": counts,
        "initial": pick(initial),
        "final": pick(final),
        "improvement": improvement,
        "per_iteration": [
            {
                "iteration": it["iteration"],
                "best": pick(it["candidates"][it["best_index"]])
                if it["best_index"] is not None
                else None,
                "success_rates": [c["success_rate"] for c in it["candidates"]],
            }
            for it in iterations
        ],
        "baselines": manifest.get("baselines", {}),
        "training_cpu_utilisation": (
            manifest["training_cpu"]["cpu_s"] / manifest["training_cpu"]["core_s"]
            if manifest.get("training_cpu", {}).get("core_s")
            else None
        ),
        "usage": manifest["usage"],
        "wall_time_s": manifest["wall_time"],
        "designer": config.designer,
        "best_bundle": "best" if final else None,
        "config": json.loads(config.model_dump_json()),
    }
