"""The backfill shard consumer: one `reid.backfill` message of the reid queue = one shard.

The re-ID worker loop receives these messages beside its `reid.batch` ones and hands them to
`process_backfill_message` with the message it parsed. A shard
re-scores stored embeddings only (no images, no embedder), replaces its detections' score rows in
one transaction and marks itself done there, so a redelivered message is skipped. The API job
(if the run has one) gets its progress, and `completed` with the run's last shard.

Failures: an error retrying cannot fix (embeddings and profiles of different lengths) fails the
run and its job and the message is deleted; anything else (PostgreSQL down, a deadlock) leaves the
message on the queue to be delivered again (dead-letter queue after maxReceiveCount).
"""

from __future__ import annotations

import contextlib

import redis

from deertrack import db
from deertrack.backfill import runs
from deertrack.backfill.enqueue import SOCKET_TIMEOUT_S
from deertrack.jobs import InvalidTransition, JobNotFound, JobStatus, JobStore
from deertrack.logs import logger
from deertrack.messages import BackfillShardMessage
from deertrack.queues import Received, delete
from deertrack.reid.vectors import DimensionMismatch
from deertrack.settings import get_settings
from gpu_batch.backfill.shard import ShardResult, process_shard
from gpu_batch.visibility import keep_visible

#: Errors no redelivery can fix.
PERMANENT = (DimensionMismatch,)


def handle_backfill_shard(message: BackfillShardMessage, store: JobStore | None = None) -> ShardResult:
    """Process one shard (idempotent) and report the run's progress to its API job, if any."""
    with db.connection(timeout=SOCKET_TIMEOUT_S) as con:
        try:
            result = process_shard(
                con, first=message.first_detection_id, last=message.last_detection_id, since=message.since,
                threshold=message.threshold, run_id=message.run_id, shard=message.shard,
            )
        except PERMANENT as exc:
            runs.finish_run(con, message.run_id, "failed", str(exc))
            _fail_job(message, str(exc), store)
            raise
    report_progress(message, result, store)
    return result


def report_progress(message: BackfillShardMessage, result: ShardResult, store: JobStore | None = None) -> None:
    """Mirror the run's progress into its Redis job (best effort: the database holds the truth)."""
    run = result.run
    if message.job_id is None or run is None:
        return
    try:
        store = store or JobStore()
        job = store.get(message.job_id)
        if job is None or job.is_terminal:
            return
        if job.status is JobStatus.QUEUED:
            store.transition(message.job_id, JobStatus.PROCESSING)
        store.progress(message.job_id, run.done_detections, run.total_detections)
        if run.status == "completed":
            store.transition(message.job_id, JobStatus.COMPLETED)
    except (InvalidTransition, JobNotFound):
        pass  # cancelled or expired meanwhile
    except redis.RedisError as exc:
        logger.warning("backfill progress not written to Redis", extra={"job_id": message.job_id,
                                                                       "redis_op": "SET", "error": str(exc)})


def _fail_job(message: BackfillShardMessage, reason: str, store: JobStore | None) -> None:
    if message.job_id is None:
        return
    with contextlib.suppress(InvalidTransition, JobNotFound, redis.RedisError):
        (store or JobStore()).transition(message.job_id, JobStatus.FAILED, error=reason[:1000])


def process_backfill_message(received: Received, message: BackfillShardMessage, queue_name: str | None = None,
                             store: JobStore | None = None) -> ShardResult | None:
    """Handle one received `reid.backfill` message, already parsed by the re-ID worker into `message`,
    and delete it when it is done (or can never be).

    Returns None for a shard that failed for good (deleted, logged as an error).
    Raises for errors worth a redelivery; the message then stays on the queue.
    """
    queue_name = queue_name or get_settings().reid_queue_name
    log = {"message_id": received.message_id, "queue": queue_name, "receive_count": received.receive_count}
    try:
        with keep_visible(queue_name, received):
            result = handle_backfill_shard(message, store)
    except PERMANENT as exc:
        logger.error("backfill shard failed for good; run and job marked failed",
                     extra={**log, "run_id": message.run_id, "shard": message.shard, "error": str(exc)})
        delete(queue_name, received.receipt_handle)
        return None
    delete(queue_name, received.receipt_handle)
    return result
