"""The refinement loop's state machine: :class:`RefineLoop`.

Per iteration (DESIGN.md):

1. **propose** K reward candidates with the designer (it sees every earlier iteration); from
   iteration 1 they may warm-start from their parent's policy, one slot is the control
   (:mod:`~agentic_rl.loop.lineage`);
2. **validate** each through the reward pipeline, with up to ``repair_rounds`` repair rounds
   (default 2) for rejected code;
3. **check** each new reward on its parent's recorded episodes before it gets training steps
   (:mod:`~agentic_rl.loop.checks`);
4. **train** the accepted ones in parallel with the executor, with successive halving
   (:mod:`~agentic_rl.loop.training`); each finished candidate is evaluated on selection
   seeds, nominal and randomized, and gets its diagnosis packet (inside the work unit);
5. **select** on task metrics over selection seeds; the all-time best is replaced only by a
   candidate that beats it (:mod:`~agentic_rl.loop.selecting`);
6. **feed back**: the iteration's records, packets included, go to the designer.

When the loop stops, the final best and iteration 0's best are evaluated on test seeds that
selection never saw (:mod:`~agentic_rl.loop.testing`). Every step is persisted in the run
folder (``manifest.json``, a :class:`~agentic_rl.records.Manifest` written atomically) before
the next starts, so ``--resume`` continues after any crash or ``kill -9`` from the last
completed step; finished candidates are never retrained and a candidate interrupted
mid-training resumes from its last checkpoint.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

import rewards
import sims
from agentic_rl.config import RefineConfig
from agentic_rl.designers import designer_for_run
from agentic_rl.loop import checks, lineage, selecting, testing, training
from agentic_rl.records import (
    CandidateRecord,
    CandidateState,
    CurrentIteration,
    IterationRecord,
    Manifest,
    Rejection,
    Usage,
)
from agentic_rl.report.summary import build_summary
from agentic_rl.runstore import RunStore, read_json, write_json


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
        self._designer_factory = designer_factory or designer_for_run
        self.manifest = Manifest(task_id=config.task)
        self.executor: Any = None

    # ------------------------------------------------------------------ entry points
    @classmethod
    def start(cls, config: RefineConfig, console: Console | None = None, **kw: Any) -> RefineLoop:
        store = RunStore.create(config.out, config.task)
        write_json(store.config_path, config)
        loop = cls(config, store, console, **kw)
        loop.manifest = Manifest(task_id=config.task, started=time.time())
        loop.save()
        return loop

    @classmethod
    def resume(cls, run_dir: str | Path, console: Console | None = None, **kw: Any) -> RefineLoop:
        store = RunStore(Path(run_dir))
        if not store.config_path.exists():
            raise FileNotFoundError(f"{run_dir} has no config.json: not an agentic-rl run folder")
        manifest = Manifest.from_json(store.load_manifest(), str(run_dir))
        config = RefineConfig.model_validate(read_json(store.config_path))
        loop = cls(config, store, console, **kw)
        loop.manifest = manifest
        return loop

    def run(self) -> dict[str, Any]:
        """Run to a stop condition and return the summary (also written to summary.json)."""
        self.store.lock()
        try:
            self.designer = self._designer_factory(self.config, self.store)
            if self.manifest.status == "running":
                self._loop()
            return self._finish()
        finally:
            if self.executor is not None:
                self.executor.close()
                self.executor = None
            self.store.unlock()

    # ------------------------------------------------------------------ the loop
    def _loop(self) -> None:
        t0 = time.monotonic()
        wall_before = self.manifest.wall_time
        while self.manifest.status == "running":
            reason = self._stop_reason(wall_before + time.monotonic() - t0)
            if reason:
                self._stop(reason)
                break
            i = self.manifest.iteration
            if self.manifest.current is None:
                try:
                    self._propose(i)
                except _BudgetStop as exc:
                    self._stop(str(exc))
                    break
            self._validate(i)
            if self.current.stage == "check":
                checks.check(self)
            training.train(self, i)
            selecting.select(self, i)
            self.manifest.wall_time = wall_before + time.monotonic() - t0
            self.save()
        self.manifest.wall_time = wall_before + time.monotonic() - t0
        self.save()

    def _stop_reason(self, wall: float) -> str | None:
        cfg, best = self.config, self.manifest.best
        if self.manifest.iteration >= cfg.iterations:
            return f"completed {cfg.iterations} iteration{'' if cfg.iterations == 1 else 's'}"
        if cfg.target_success is not None and best and best.success_rate >= cfg.target_success:
            return f"best success {best.success_rate:.0%} reached the target"
        if cfg.max_wall is not None and wall >= cfg.max_wall:
            return f"wall-clock budget of {cfg.max_wall:g} s used"
        return None

    def _stop(self, reason: str) -> None:
        self.manifest.status = "finished"
        self.manifest.stop_reason = reason
        self.console.print(f"[bold]stopping:[/] {reason}")
        self.save()

    # ------------------------------------------------------------------ 1. propose
    def _propose(self, i: int) -> None:
        cfg = self.config
        from agentic_rl.designers.base import BudgetExceeded

        parent = lineage.warm_parent(self.manifest, cfg)
        n = lineage.designer_slots(cfg, parent)
        self.console.rule(
            f"iteration {i}: proposing {n} candidates"
            + (f", warm-started from {parent.cid}, plus its control" if parent else "")
        )
        try:
            proposals = self.designer.propose(self.spec, self.history(), n)
        except BudgetExceeded as exc:
            raise _BudgetStop(f"designer budget reached: {exc}") from exc
        finally:
            self.sync_usage()
        records = [
            CandidateRecord(
                iteration=i,
                index=k,
                proposal=p,
                lineage=lineage.lineage_for(
                    lineage.start_kind(k, len(proposals), cfg, parent), parent
                ),
            )
            for k, p in enumerate(proposals)
        ]
        if parent is not None and len(records) < cfg.candidates:
            records.append(lineage.control(parent, i, len(records)))
        for rec in records:
            rec.run_dir = str(self.store.candidate_dir(i, rec.index))
            write_json(Path(rec.run_dir) / "proposal.json", rec.proposal)
        self.manifest.current = CurrentIteration(
            iteration=i, candidates=records, randomize=self._randomization(i)
        )
        self.save()

    def _randomization(self, i: int) -> Any:
        """This iteration's training randomization (``auto``: ranges from the robustness
        sweep of the best policy so far, recorded in ``iter_<i>/randomization.json``)."""
        if self.config.randomize != "auto":
            return self.config.randomize
        from agentic_rl.robustness import auto_randomization

        best = self.store.best_dir if self.manifest.best else None
        ranges, record = auto_randomization(
            self.spec, best, self.history(), episodes=8, seed=self.config.seed
        )
        write_json(self.store.root / f"iter_{i}" / "randomization.json", record)
        self.console.print(
            f"iteration {i}: training under randomization "
            + ", ".join(f"{k} [{lo:.3g}, {hi:.3g}]" for k, (lo, hi) in ranges.items())
        )
        return {k: [float(lo), float(hi)] for k, (lo, hi) in ranges.items()}

    # ------------------------------------------------------------------ 2. validate
    def _validate(self, i: int) -> None:
        from agentic_rl.designers.base import BudgetExceeded

        current = self.current
        for cand in current.candidates:
            if cand.status != CandidateState.PROPOSED:
                continue
            d = Path(cand.run_dir)
            if cand.lineage.start == "control":  # the parent's reward, checked when it was new
                parent = Path(str(cand.lineage.init_checkpoint)).parent
                if (parent / "reward.json").exists():
                    shutil.copyfile(parent / "reward.json", d / "reward.json")
                (d / "reward.py").write_text(cand.proposal.response)
                cand.code = cand.proposal.response
                cand.status = CandidateState.ACCEPTED
                self.save()
                continue
            verdict = rewards.check_source(cand.proposal.response, self.spec)
            rounds = self.config.designer_options.repair_rounds
            for r in range(1, rounds + 1):  # repair rounds (designer_options.repair_rounds)
                if not isinstance(verdict, rewards.Rejected):
                    break
                rejection = Rejection(
                    stage=verdict.stage, line=verdict.line, message=verdict.message
                )
                self.console.print(
                    f"{cand.cid}: rejected at {verdict.stage} "
                    f"({verdict.message.splitlines()[0]}); repair round {r} of {rounds}"
                )
                try:
                    cand.proposal = self.designer.repair(
                        self.spec,
                        cand.proposal,
                        rejection,
                        self.history(),
                        round=r,
                        rounds=rounds,
                        candidate=cand.cid,
                    )
                except BudgetExceeded:
                    break
                finally:
                    self.sync_usage()
                write_json(d / "proposal.json", cand.proposal)
                write_json(d / f"rejection_{r}.json", rejection)
                verdict = rewards.check_source(cand.proposal.response, self.spec)
            if isinstance(verdict, rewards.Rejected):
                cand.status = CandidateState.REJECTED
                cand.rejection = Rejection(
                    stage=verdict.stage, line=verdict.line, message=verdict.message
                )
                self.console.print(f"{cand.cid}: [red]rejected[/] ({verdict.stage})")
            else:
                (d / "reward.py").write_text(verdict.program.source)
                write_json(d / "reward.json", verdict.program)  # the checked program, for jobs
                cand.code = verdict.program.source
                cand.status = CandidateState.ACCEPTED
            self.save()
        if current.stage == "validate":
            current.stage = "check"
        self.save()

    # ------------------------------------------------------------------ finish
    def _finish(self) -> dict[str, Any]:
        best = self.manifest.best
        if best and self.manifest.status == "finished" and "final" not in self.manifest.test:
            testing.test_final(self)
        if best and self.manifest.status == "finished":
            selecting.record_test(self)  # idempotent: also after a resume past the test
        if self.config.video and best and not (self.store.root / "views" / "final").exists():
            self._write_views()
        summary = build_summary(self.manifest, self.config)
        write_json(self.store.root / "summary.json", summary)
        from agentic_rl.report import write_report

        write_report(self.store.root)
        return summary

    def _write_views(self) -> None:
        """The final best next to iteration 0's best in the report: a follow-camera GIF and
        trajectory plots of test episodes (test seeds: selection never saw them)."""
        from agentic_rl.seeds import TEST
        from agentic_rl.showcase import write_policy_views

        initial = testing.initial_best(self.manifest)
        assert self.manifest.best is not None
        for key, cid, run_dir in (
            ("final", self.manifest.best.cid, self.manifest.best.run_dir),
            ("initial", initial.cid if initial else None, initial.run_dir if initial else None),
        ):
            if cid is None or run_dir is None:
                continue
            write_policy_views(
                Path(run_dir) / "policy.npz",
                self.config.task,
                self.store.root / "views" / key,
                seeds=TEST.seeds(VIEW_EPISODES, self.config.seed),
                title=f"{'final best' if key == 'final' else 'iteration 0 best'} ({cid})",
            )

    # ------------------------------------------------------------------ shared by the steps
    @property
    def current(self) -> CurrentIteration:
        """The iteration in flight (the steps after propose only run while there is one)."""
        assert self.manifest.current is not None, "no iteration in flight"
        return self.manifest.current

    def history(self) -> list[IterationRecord]:
        return list(self.manifest.iterations)

    def sync_usage(self) -> None:
        usage = getattr(self.designer, "usage", None)
        if isinstance(usage, Usage):
            self.manifest.usage = usage.model_copy()

    def save(self) -> None:
        self.store.save_manifest(self.manifest)


#: Test episodes drawn in the report's trajectory plots of the final and iteration 0's best.
VIEW_EPISODES = 6


class _BudgetStop(Exception):
    pass
