"""Putting a backfill on the reid queue (schedule, API): plan its shards, record the run, send one
`reid.backfill` message per shard. The batch image's reid worker processes them (gpu_batch.backfill)."""

from __future__ import annotations

from collections.abc import Callable

import pg8000.native

from deertrack.aws import client
from deertrack.backfill import runs
from deertrack.backfill.plan import DEFAULT_SHARD_SIZE, ShardPlan, one_shard, plan_shards
from deertrack.backfill.scope import BackfillScope
from deertrack.logs import logger
from deertrack.messages import BackfillShardMessage
from deertrack.queues import queue_url
from deertrack.settings import get_settings

#: Socket timeout of backfill connections (seconds): the answer to a COPY comes only once the server
#: has indexed every row it was sent, which takes far longer than db.connect's default allows.
SOCKET_TIMEOUT_S = 3600.0


class BackfillRefused(ValueError):
    """A backfill that cannot be run as asked; the message says why."""


def plan(con: pg8000.native.Connection, scope: BackfillScope, *, atomic: bool,
         shard_size: int = DEFAULT_SHARD_SIZE) -> list[ShardPlan]:
    if atomic and not scope.whole_log:
        raise BackfillRefused("an atomic backfill replaces the whole score log; it cannot take --since or --limit")
    return one_shard(con, scope) if atomic else plan_shards(con, scope, shard_size)


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
