"""Running a backfill here (CLI, bench): plan it, then process its shards in order.

Runs of the schedule and the API go on the reid queue instead (deertrack.backfill.enqueue); either
way every shard goes through `shard.process_shard`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pg8000.native

from deertrack.backfill import runs
from deertrack.backfill.enqueue import SOCKET_TIMEOUT_S, BackfillRefused, plan
from deertrack.backfill.plan import DEFAULT_SHARD_SIZE
from deertrack.backfill.scope import BackfillScope
from deertrack.logs import logger
from gpu_batch.backfill.shard import BackfillStopped, ShardResult, process_shard

__all__ = ["SOCKET_TIMEOUT_S", "BackfillRefused", "RunOutcome", "dry_run", "execute_run", "prepare_run"]

#: (detections done, detections in the run) as rows stream to the server.
Progress = Callable[[int, int], None]

@dataclass
class RunOutcome:
    run: runs.RunState
    resumed: bool = False
    results: list[ShardResult] = field(default_factory=list)
    stopped: bool = False
    seconds: float = 0.0
    dry_run: bool = False

    @property
    def detections(self) -> int:
        return sum(r.detections for r in self.results)

    @property
    def rows(self) -> int:
        return sum(r.rows for r in self.results)

    @property
    def matched_detections(self) -> int:
        return sum(r.matched_detections for r in self.results)

    @property
    def changed_detections(self) -> int:
        return sum(r.changed_detections for r in self.results)


def prepare_run(con: pg8000.native.Connection, scope: BackfillScope, *, trigger: runs.Trigger, atomic: bool = False,
                shard_size: int = DEFAULT_SHARD_SIZE, resume: bool = True, run_id: str | None = None,
                job_id: str | None = None) -> tuple[runs.RunState, bool]:
    """The run to process: an unfinished one of the same trigger and scope (resumed), or a new plan.

    With `resume=False` an unfinished run of the same scope is abandoned and a new one planned.
    """
    existing = runs.find_resumable(con, scope, atomic=atomic, trigger=trigger)
    if existing is not None:
        if resume:
            logger.info("backfill resumed", extra={"run_id": existing.run_id, "done_shards": existing.done_shards,
                                                   "total_shards": existing.total_shards})
            return existing, True
        runs.finish_run(con, existing.run_id, "abandoned", "a new run of the same scope was started")
    shards = plan(con, scope, atomic=atomic, shard_size=shard_size)
    state = runs.create_run(con, scope, shards, trigger=trigger, atomic=atomic, run_id=run_id, job_id=job_id)
    logger.info("backfill planned", extra={"run_id": state.run_id, "trigger": trigger, "atomic": atomic,
                                           "shards": state.total_shards, "detections": state.total_detections,
                                           "threshold": state.threshold})
    return state, False


def execute_run(con: pg8000.native.Connection, run: runs.RunState, *, on_progress: Progress | None = None,
                should_stop: Callable[[], bool] | None = None) -> RunOutcome:
    """Process the run's pending shards here, in order. Stops between shards when `should_stop()`
    (an atomic run, one shard, stops inside it and rolls back)."""
    started = time.perf_counter()
    outcome = RunOutcome(run=run)
    done = run.done_detections
    total = run.total_detections
    if on_progress is not None:
        on_progress(done, total)
    for shard in runs.pending_shards(con, run.run_id):
        if should_stop is not None and should_stop():
            outcome.stopped = True
            break
        base = done

        def report(n: int, base: int = base) -> None:
            if on_progress is not None:
                on_progress(base + n, total)

        try:
            result = process_shard(
                con, first=shard.first_detection_id, last=shard.last_detection_id, since=run.since,
                threshold=run.threshold, run_id=run.run_id, shard=shard.shard, atomic=run.atomic,
                on_progress=report, abort=should_stop if run.atomic else None,
            )
        except BackfillStopped:
            outcome.stopped = True
            break
        outcome.results.append(result)
        done = base + shard.detections
    outcome.seconds = time.perf_counter() - started
    outcome.run = runs.get_run(con, run.run_id) or run
    return outcome


def dry_run(con: pg8000.native.Connection, scope: BackfillScope, *, atomic: bool = False,
            shard_size: int = DEFAULT_SHARD_SIZE, on_progress: Progress | None = None) -> RunOutcome:
    """What a backfill would do, computed in READ ONLY transactions: nothing is written, not even a run."""
    started = time.perf_counter()
    shards = plan(con, scope, atomic=atomic, shard_size=shard_size)
    total = sum(s.detections for s in shards)
    state = runs.RunState(
        run_id="dry-run", trigger="cli", atomic=atomic, since=scope.since, limit=scope.limit,
        threshold=scope.resolved_threshold(), status="dry_run", job_id=None, total_shards=len(shards),
        done_shards=0, total_detections=total, done_detections=0, rows_written=0,
    )
    outcome = RunOutcome(run=state, dry_run=True)
    done = 0
    for shard in shards:
        outcome.results.append(process_shard(
            con, first=shard.first_detection_id, last=shard.last_detection_id, since=scope.since,
            threshold=state.threshold, shard=shard.shard, dry_run=True,
        ))
        done += shard.detections
        if on_progress is not None:
            on_progress(done, total)
    outcome.seconds = time.perf_counter() - started
    return outcome
