"""Running a backfill: plan it, then process its shards here (CLI, bench) or on the reid queue
(schedule, API). Either way every shard goes through `shard.process_shard`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pg8000.native

from deertrack.aws import client
from deertrack.backfill import runs
from deertrack.backfill.plan import DEFAULT_SHARD_SIZE, ShardPlan, one_shard, plan_shards
from deertrack.backfill.scope import BackfillScope
from deertrack.logs import logger
from deertrack.messages import BackfillShardMessage
from deertrack.queues import queue_url
from deertrack.settings import get_settings
from gpu_batch.backfill.shard import BackfillStopped, ShardResult, process_shard

#: (detections done, detections in the run) as rows stream to the server.
Progress = Callable[[int, int], None]

#: Socket timeout of backfill connections (seconds): the answer to a COPY comes only once the server
#: has indexed every row it was sent, which takes far longer than db.connect's default allows.
SOCKET_TIMEOUT_S = 3600.0


class BackfillRefused(ValueError):
    """A backfill that cannot be run as asked; the message says why."""


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


def plan(con: pg8000.native.Connection, scope: BackfillScope, *, atomic: bool,
         shard_size: int = DEFAULT_SHARD_SIZE) -> list[ShardPlan]:
    if atomic and not scope.whole_log:
        raise BackfillRefused("an atomic backfill replaces the whole score log; it cannot take --since or --limit")
    return one_shard(con, scope) if atomic else plan_shards(con, scope, shard_size)


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


def shard_messages(run: runs.RunState, shards: list[ShardPlan]) -> list[BackfillShardMessage]:
    return [
        BackfillShardMessage(run_id=run.run_id, shard=s.shard, first_detection_id=s.first_detection_id,
                             last_detection_id=s.last_detection_id, since=run.since, threshold=run.threshold,
                             job_id=run.job_id)
        for s in shards
    ]


def send_shards(messages: list[BackfillShardMessage], queue_name: str | None = None) -> int:
    """Send shard messages ten per SendMessageBatch call; raises if SQS refuses any of them."""
    queue_name = queue_name or get_settings().reid_queue_name
    sqs = client("sqs")
    url = queue_url(queue_name)
    for start in range(0, len(messages), 10):
        batch = messages[start:start + 10]
        answer = sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": m.model_dump_json()} for i, m in enumerate(batch)],
        )
        if answer.get("Failed"):
            raise RuntimeError(f"SQS refused backfill shard messages: {answer['Failed']}")
    logger.info("backfill shards enqueued", extra={"queue": queue_name, "messages": len(messages),
                                                   "run_id": messages[0].run_id if messages else None})
    return len(messages)


def enqueue_run(con: pg8000.native.Connection, scope: BackfillScope, *, trigger: runs.Trigger,
                shard_size: int = DEFAULT_SHARD_SIZE, run_id: str | None = None, job_id: str | None = None,
                queue_name: str | None = None, requested_by: str | None = None,
                on_planned: Callable[[runs.RunState], None] | None = None) -> runs.RunState:
    """Plan a run and put one `reid.backfill` message per shard on the reid queue (schedule, API).

    `on_planned(run)` is called once the run is recorded and before any message is sent (the API
    creates its job there, so a worker never finds a shard whose job does not exist yet).
    """
    shards = plan(con, scope, atomic=False, shard_size=shard_size)
    state = runs.create_run(con, scope, shards, trigger=trigger, run_id=run_id, job_id=job_id,
                            requested_by=requested_by)
    try:
        if on_planned is not None:
            on_planned(state)
        send_shards(shard_messages(state, shards), queue_name)
    except Exception as exc:
        runs.finish_run(con, state.run_id, "failed", f"could not enqueue its shards: {exc}")
        raise
    return state
