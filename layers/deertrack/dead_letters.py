"""Dead letters are never silent: a message that the queue gave up on marks what it was about, and can be
sent back once the cause is fixed.

The reid queue's dead letters are swept (`sweep`, on a schedule and by `deertrack dead-letters`):
each message is read without being consumed and marks, idempotently,

* a `reid.batch`: its detections still open (`pending`, `failed`) become `failed`, with the reason
  in `reid_note` (so they leave the "pending" count and show in the review queue);
* a `reid.backfill` shard: its run `failed`, naming the shard, and its job `failed`;
* a `reid.merge`: its job `failed`.

The messages stay in the dead-letter queue, so its alarm stays raised (template.yaml) until a person
looks; `deertrack redrive reid` moves them back to the reid queue after a fix (their detections are
open again, so the worker re-identifies them). The exports dead-letter queue has its own handler,
which fails the export job (`export_failures.py`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import pg8000.native
import redis
from pydantic import ValidationError

from deertrack import db
from deertrack.aws import client
from deertrack.backfill.runs import finish_run
from deertrack.jobs import InvalidTransition, JobNotFound, JobStatus, JobStore
from deertrack.logs import logger
from deertrack.messages import BackfillShardMessage, MergeJobMessage, ReidBatchMessage, parse_message
from deertrack.queues import dead_letter_queue_url, queue_policy, queue_url

#: How long a swept message stays invisible while the sweep marks it (it is made visible again at the end).
SWEEP_VISIBILITY_SECONDS = 30


@dataclass
class SweepReport:
    queue: str
    messages: int = 0
    detections_failed: int = 0
    runs_failed: list[str] = field(default_factory=list)
    jobs_failed: list[str] = field(default_factory=list)
    unreadable: int = 0

    def as_dict(self) -> dict[str, object]:
        return {"queue": self.queue, "messages": self.messages, "detections_failed": self.detections_failed,
                "runs_failed": self.runs_failed, "jobs_failed": self.jobs_failed, "unreadable": self.unreadable}


def _reason(attributes: dict, deliveries: int | None) -> str:
    """The same for every sweep of one message (so marking twice changes nothing)."""
    error = attributes.get("error", {}).get("StringValue")
    why = f": {error}" if error else ""
    after = f" after {deliveries} deliveries" if deliveries else ""
    return (f"gave up: the re-ID message reached the dead-letter queue{after}{why}; "
            "run `deertrack redrive reid` once the cause is fixed")


def _fail_job(store: JobStore, job_id: str | None, reason: str) -> bool:
    if job_id is None:
        return False
    with contextlib.suppress(InvalidTransition, JobNotFound):
        store.transition(job_id, JobStatus.FAILED, error=reason[:1000])
        return True
    return False


def mark(con: pg8000.native.Connection, store: JobStore, body: str, reason: str, report: SweepReport) -> None:
    """Mark what one dead reid-queue message was about (idempotent)."""
    try:
        message = parse_message(body)
    except (ValidationError, ValueError):
        report.unreadable += 1
        logger.error("unreadable message in the reid dead-letter queue", extra={"body": body[:500]})
        return
    if isinstance(message, ReidBatchMessage):
        rows = con.run(
            "UPDATE detections SET reid_status = 'failed', reid_note = :note, reid_at = now(), updated_at = now()"
            " WHERE id = ANY(CAST(:ids AS BIGINT[])) AND reid_status IN ('pending', 'failed')"
            "   AND reid_note IS DISTINCT FROM :note RETURNING id",
            ids=list(message.detection_ids), note=reason[:1000],
        )
        report.detections_failed += len(rows)
    elif isinstance(message, BackfillShardMessage):
        finish_run(con, message.run_id, "failed", f"shard {message.shard} (detections {message.first_detection_id}-"
                                                  f"{message.last_detection_id}) {reason}")
        report.runs_failed.append(f"{message.run_id} shard {message.shard}")
        if _fail_job(store, message.job_id, reason):
            report.jobs_failed.append(str(message.job_id))
    elif isinstance(message, MergeJobMessage) and _fail_job(store, message.job_id, reason):
        report.jobs_failed.append(str(message.job_id))


def sweep(queue_name: str, limit: int = 1000) -> SweepReport:
    """Mark what every message in `queue_name`'s dead-letter queue was about; the messages stay there."""
    report = SweepReport(queue_name)
    target = dead_letter_queue_url(queue_name)
    if target is None:
        return report
    sqs = client("sqs")
    store = JobStore()
    deliveries = queue_policy(queue_name).max_receive_count
    seen: set[str] = set()
    handles: list[str] = []
    with db.connection() as con:
        while report.messages < limit:
            batch = sqs.receive_message(QueueUrl=target, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                        VisibilityTimeout=SWEEP_VISIBILITY_SECONDS,
                                        MessageAttributeNames=["All"]).get("Messages", [])
            fresh = [m for m in batch if m["MessageId"] not in seen]
            if not fresh:
                break
            for m in fresh:
                seen.add(m["MessageId"])
                handles.append(m["ReceiptHandle"])
                report.messages += 1
                with contextlib.suppress(redis.RedisError):  # the detections are marked even so
                    mark(con, store, m["Body"], _reason(m.get("MessageAttributes", {}), deliveries), report)
    for handle in handles:  # only looked at: visible again at once, for the alarm and for `redrive`
        with contextlib.suppress(Exception):
            sqs.change_message_visibility(QueueUrl=target, ReceiptHandle=handle, VisibilityTimeout=0)
    if report.messages:
        logger.warning("reid dead letters swept", extra=report.as_dict())
    return report


def redrive(queue_name: str, limit: int = 10_000) -> int:
    """Move every message of `queue_name`'s dead-letter queue back to `queue_name`; how many moved."""
    target = dead_letter_queue_url(queue_name)
    if target is None:
        raise LookupError(f"queue {queue_name} has no dead-letter queue")
    sqs = client("sqs")
    source = queue_url(queue_name)
    moved = 0
    while moved < limit:
        batch = sqs.receive_message(QueueUrl=target, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                    VisibilityTimeout=60, MessageAttributeNames=["All"]).get("Messages", [])
        if not batch:
            break
        for m in batch:
            _reopen(m["Body"])
            sqs.send_message(QueueUrl=source, MessageBody=m["Body"])
            sqs.delete_message(QueueUrl=target, ReceiptHandle=m["ReceiptHandle"])
            moved += 1
    logger.info("dead letters redriven", extra={"queue": queue_name, "moved": moved})
    return moved


def _reopen(body: str) -> None:
    """A redriven re-ID batch's detections that the sweep failed are pending again (the worker takes them)."""
    try:
        message = parse_message(body)
    except (ValidationError, ValueError):
        return
    if isinstance(message, ReidBatchMessage):
        with db.connection() as con:
            con.run("UPDATE detections SET reid_status = 'pending', reid_note = NULL, updated_at = now()"
                    " WHERE id = ANY(CAST(:ids AS BIGINT[])) AND reid_status = 'failed'"
                    "   AND reid_note LIKE 'gave up: the re-ID message reached the dead-letter queue%'",
                    ids=list(message.detection_ids))
