"""Dead letters are never silent: a message that a queue gave up on marks what it was about, and can be
sent back once the cause is fixed.

Every work queue's dead-letter queue is swept (`sweep_all`, on a schedule every 5 minutes, and by
`deertrack dead-letters [QUEUE]`): each message is read without being consumed and marks,
idempotently, with the reason (the worker's or handler's last error, and the number of deliveries):

* reid, a `reid.batch`: its detections still open (`pending`, `failed`) become `failed`, with the
  reason in `reid_note` (so they leave the "pending" count and show in the review queue);
* reid, a `reid.backfill` shard: its run `failed`, naming every dead shard, and its job `failed`;
* reid, a `reid.merge`: its job `failed`;
* exports: its export job `failed` ("gave up after N attempts: ..."; the exports dead-letter function
  does the same as the messages arrive, and consumes them);
* export-requests (an S3 notification of an export request): the request's result next to it,
  `export-requests/<name>.result.json`, says `"status": "failed"` with the reason, where the requester
  looks for its job id;
* image-events (an S3 notification of a MegaDetector results file): the file's import outcome,
  `import-results/<key>` in the images bucket, says `"status": "failed"` with the reason, where the
  import's counts appear when it works (whatever the import stored before it failed stays stored and
  queued for re-ID: importing is idempotent, so the redriven import completes it without duplicates).

A result or outcome written after the event (the handler finished after all) is left alone. The messages
stay in the dead-letter queue, so its alarm stays raised (template.yaml) until a person looks;
`deertrack redrive QUEUE` moves them back after a fix: re-ID batches failed by the sweep are pending
again, a backfill run failed by dead shards is running again (its other shards stay done), and the
redriven notifications rewrite their results when they succeed.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pg8000.native
import redis
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from deertrack import db, delivery_errors, storage
from deertrack.aws import client
from deertrack.exports import failures as export_failures
from deertrack.exports.s3_requests import is_request_key, result_key
from deertrack.ingest.s3_import import RESULTS_PREFIX, outcome_key
from deertrack.jobs import InvalidTransition, JobNotFound, JobStatus, JobStore
from deertrack.logs import logger
from deertrack.messages import BackfillShardMessage, MergeJobMessage, ReidBatchMessage, parse_message
from deertrack.queues import dead_letter_queue_url, queue_policy, queue_url
from deertrack.s3_events import NotS3Notification, S3Object, objects_in
from deertrack.settings import get_settings

#: How long a swept message stays invisible while the sweep marks it (it is made visible again at the end).
SWEEP_VISIBILITY_SECONDS = 30
REID_GAVE_UP = "gave up: the re-ID message reached the dead-letter queue"


def work_queues() -> dict[str, str]:
    """Each work queue with a dead-letter queue: short name (as `deertrack redrive` takes it) -> queue name."""
    settings = get_settings()
    return {"reid": settings.reid_queue_name, "exports": settings.exports_queue_name,
            "export-requests": settings.export_requests_queue_name, "image-events": settings.image_events_queue_name}


@dataclass
class SweepReport:
    queue: str
    messages: int = 0
    detections_failed: int = 0
    runs_failed: list[str] = field(default_factory=list)
    jobs_failed: list[str] = field(default_factory=list)
    requests_failed: list[str] = field(default_factory=list)
    imports_failed: list[str] = field(default_factory=list)
    unreadable: int = 0

    def add(self, other: SweepReport) -> None:
        self.messages += other.messages
        self.detections_failed += other.detections_failed
        self.runs_failed += other.runs_failed
        self.jobs_failed += other.jobs_failed
        self.requests_failed += other.requests_failed
        self.imports_failed += other.imports_failed
        self.unreadable += other.unreadable

    def as_dict(self) -> dict[str, Any]:
        return {"queue": self.queue, "messages": self.messages, "detections_failed": self.detections_failed,
                "runs_failed": self.runs_failed, "jobs_failed": self.jobs_failed,
                "requests_failed": self.requests_failed, "imports_failed": self.imports_failed,
                "unreadable": self.unreadable}


@dataclass(frozen=True)
class DeadLetter:
    """One message of a dead-letter queue, as the sweep read it."""

    short: str  # the work queue's short name
    message_id: str
    body: str
    reason: str


def _error(message: dict[str, Any]) -> str | None:
    """The failure kept with the message (the re-ID worker's attribute) or recorded by its handler."""
    given = message.get("MessageAttributes", {}).get("error", {}).get("StringValue")
    return given or delivery_errors.last(message["MessageId"])


#: What each queue's messages are, in a reason ("gave up: the re-ID message reached ...").
_WHAT = {"reid": "the re-ID message", "exports": "the export message",
         "export-requests": "the export request's notification",
         "image-events": "the MegaDetector import's notification"}


def _reason(short: str, error: str | None, deliveries: int | None) -> str:
    """The same for every sweep of one message (so marking twice changes nothing)."""
    why = f": {error}" if error else ": no error was recorded"
    after = f" after {deliveries} deliveries" if deliveries else ""
    return (f"gave up: {_WHAT[short]} reached the dead-letter queue{after}{why}; "
            f"run `deertrack redrive {short}` once the cause is fixed")


def _fail_job(store: JobStore, job_id: str | None, reason: str) -> bool:
    if job_id is None:
        return False
    with contextlib.suppress(InvalidTransition, JobNotFound):
        store.transition(job_id, JobStatus.FAILED, error=reason[:1000])
        return True
    return False


def _fail_shard(con: pg8000.native.Connection, message: BackfillShardMessage, reason: str) -> bool:
    """The run fails, naming this shard; a run already failed by other dead shards names this one too."""
    shard = f"shard {message.shard} (detections {message.first_detection_id}-{message.last_detection_id})"
    rows = con.run(
        "UPDATE backfill_runs SET status = 'failed', updated_at = now(), finished_at = coalesce(finished_at, now()),"
        " error = left(CASE WHEN status = 'running' OR error IS NULL THEN :first"
        "                   ELSE error || '; ' || :shard || ' too' END, 2000)"
        " WHERE id = :id AND (status = 'running' OR (status = 'failed' AND error LIKE 'shard %'"
        "                                           AND position(:shard IN error) = 0)) RETURNING id",
        id=message.run_id, first=f"{shard} {reason}", shard=shard,
    )
    return bool(rows)


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
        if _fail_shard(con, message, reason):
            report.runs_failed.append(f"{message.run_id} shard {message.shard}")
        if _fail_job(store, message.job_id, reason):
            report.jobs_failed.append(str(message.job_id))
    elif isinstance(message, MergeJobMessage) and _fail_job(store, message.job_id, reason):
        report.jobs_failed.append(str(message.job_id))


def mark_export(store: JobStore, body: str, report: SweepReport) -> None:
    """A dead exports-queue message: its job failed, as the exports dead-letter function does (idempotent)."""
    job_id = export_failures.job_id_of(body)
    if job_id is None:
        report.unreadable += 1
        logger.error("dead export message names no job", extra={"body": body[:500]})
        return
    before = store.get(job_id)
    job = export_failures.handle_dead_letter(store, body)
    if before is not None and not before.is_terminal and job is not None and job.status is JobStatus.FAILED:
        report.jobs_failed.append(job_id)


def _handled_after(bucket: str, key: str, message_id: str, event_time: str | None) -> bool:
    """Whether `key` already says what happened: this sweep's mark, or a result written after the event."""
    try:
        head = client("s3").head_object(Bucket=bucket, Key=key)
        current = json.loads(storage.get_bytes(bucket, key))
    except (ClientError, storage.ObjectMissing, ValueError):
        return False
    if isinstance(current, dict) and (current.get("dead_letter") or {}).get("message_id") == message_id:
        return True
    if event_time is None:
        return False
    try:
        return head["LastModified"] >= datetime.fromisoformat(event_time.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return False


def _objects(letter: DeadLetter, report: SweepReport) -> list[S3Object]:
    try:
        return objects_in(letter.body)
    except NotS3Notification as exc:
        report.unreadable += 1
        logger.error("unreadable message in a dead-letter queue",
                     extra={"queue": letter.short, "error": str(exc), "body": letter.body[:500]})
        return []


def _dead_letter_note(letter: DeadLetter) -> dict[str, str]:
    return {"queue": letter.short, "message_id": letter.message_id, "redrive": f"deertrack redrive {letter.short}"}


def mark_export_request(letter: DeadLetter, report: SweepReport) -> None:
    """A dead export-request notification: the request's result says it failed, and why."""
    for obj in _objects(letter, report):
        if not is_request_key(obj.key) or _handled_after(obj.bucket, result_key(obj.key), letter.message_id,
                                                         obj.event_time):
            continue
        result = {"status": "failed", "error": "dead_letter", "message": letter.reason, "request_key": obj.key,
                  "dead_letter": _dead_letter_note(letter)}
        storage.put_bytes(obj.bucket, result_key(obj.key), json.dumps(result, indent=2).encode(), "application/json")
        report.requests_failed.append(f"s3://{obj.bucket}/{obj.key}")


def mark_import(letter: DeadLetter, report: SweepReport) -> None:
    """A dead MegaDetector import notification: the file's import outcome says it failed, and why."""
    for obj in _objects(letter, report):
        if not obj.key.startswith(RESULTS_PREFIX) or _handled_after(obj.bucket, outcome_key(obj.key),
                                                                    letter.message_id, obj.event_time):
            continue
        outcome = {"status": "failed", "key": obj.key, "error": letter.reason, "dead_letter": _dead_letter_note(letter)}
        storage.put_bytes(obj.bucket, outcome_key(obj.key), json.dumps(outcome, indent=2).encode(), "application/json")
        report.imports_failed.append(f"s3://{obj.bucket}/{obj.key}")


def _marker(short: str, con: pg8000.native.Connection | None, store: JobStore,
            report: SweepReport) -> Callable[[DeadLetter], None]:
    if short == "reid":
        assert con is not None
        return lambda letter: mark(con, store, letter.body, letter.reason, report)
    if short == "exports":
        return lambda letter: mark_export(store, letter.body, report)
    if short == "export-requests":
        return lambda letter: mark_export_request(letter, report)
    return lambda letter: mark_import(letter, report)


def sweep(queue_name: str, limit: int = 1000) -> SweepReport:
    """Mark what every message in `queue_name`'s dead-letter queue was about; the messages stay there."""
    short = next((s for s, name in work_queues().items() if name == queue_name), None)
    if short is None:
        raise LookupError(f"{queue_name} is not a work queue ({', '.join(work_queues())})")
    report = SweepReport(short)
    target = dead_letter_queue_url(queue_name)
    if target is None:
        return report
    sqs = client("sqs")
    store = JobStore()
    deliveries = queue_policy(queue_name).max_receive_count
    seen: set[str] = set()
    handles: list[str] = []
    with db.connection() if short == "reid" else contextlib.nullcontext() as con:
        marker = _marker(short, con, store, report)
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
                letter = DeadLetter(short, m["MessageId"], m["Body"], _reason(short, _error(m), deliveries))
                with contextlib.suppress(redis.RedisError):  # the detections and S3 results are marked even so
                    marker(letter)
    for handle in handles:  # only looked at: visible again at once, for the alarm and for `redrive`
        with contextlib.suppress(Exception):
            sqs.change_message_visibility(QueueUrl=target, ReceiptHandle=handle, VisibilityTimeout=0)
    if report.messages:
        logger.warning("dead letters swept", extra=report.as_dict())
    return report


def sweep_all(limit: int = 1000) -> tuple[SweepReport, list[SweepReport]]:
    """Sweep every work queue's dead-letter queue: (the totals, one report per queue).

    One queue's failure (its store down) does not stop the others; it is logged and swept next time."""
    total, reports = SweepReport("all"), []
    for name in work_queues().values():
        try:
            report = sweep(name, limit)
        except (db.DatabaseUnavailable, pg8000.native.DatabaseError, BotoCoreError, ClientError) as exc:
            logger.error("dead-letter queue not swept", extra={"queue": name, "error": str(exc)})
            continue
        reports.append(report)
        total.add(report)
    return total, reports


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
            if queue_name == get_settings().reid_queue_name:
                _reopen(m["Body"])
            sqs.send_message(QueueUrl=source, MessageBody=m["Body"])
            sqs.delete_message(QueueUrl=target, ReceiptHandle=m["ReceiptHandle"])
            moved += 1
    logger.info("dead letters redriven", extra={"queue": queue_name, "moved": moved})
    return moved


def _reopen(body: str) -> None:
    """What the sweep failed for a redriven re-ID message is open again: a batch's detections are pending
    (the worker takes them), a backfill run failed by dead shards is running (its done shards stay done)."""
    try:
        message = parse_message(body)
    except (ValidationError, ValueError):
        return
    if isinstance(message, ReidBatchMessage):
        with db.connection() as con:
            con.run("UPDATE detections SET reid_status = 'pending', reid_note = NULL, updated_at = now()"
                    " WHERE id = ANY(CAST(:ids AS BIGINT[])) AND reid_status = 'failed'"
                    f"   AND reid_note LIKE '{REID_GAVE_UP}%'",
                    ids=list(message.detection_ids))
    elif isinstance(message, BackfillShardMessage):
        with db.connection() as con:
            con.run("UPDATE backfill_runs SET status = 'running', error = NULL, finished_at = NULL,"
                    " updated_at = now() WHERE id = :id AND status = 'failed'"
                    f"   AND error LIKE 'shard % {REID_GAVE_UP}%'", id=message.run_id)
