"""The export worker: long-polls the exports queue and turns each job into a file in S3.

For one message (`process_message`):

1. A job that was deleted or cancelled (its tombstone says so) or is already terminal is skipped
   and the message consumed: redelivery never makes a second file or moves a status backwards. A
   job with neither status nor tombstone lost its status (Redis restarted empty): the status is
   rebuilt from the message, and the job runs (jobs.py).
2. The job becomes `processing` (again, on a redelivery whose worker died) and is rendered into a
   temporary file (spooled: memory up to a few MiB, disk beyond) with cancellation checkpoints and
   batched progress (each progress write is the job's heartbeat). All the while the message is kept
   invisible on a timer (visibility.py), so a killed worker's message is back within the queue's
   short visibility timeout (30 s) and the next worker restarts the job.
3. The file is streamed (multipart) to the exports bucket at `exports/{job_id}/{filename}`: one
   key per job, so a second attempt overwrites and never adds. The job becomes `completed` with
   filename, size and key; if it was cancelled meanwhile, the object is removed again.

Failures: a problem retrying cannot fix (ExportFailed: deer deleted, nothing selected any more, a
stored request that no longer parses) fails the job with that reason and consumes the message.
Anything else (database or S3 down, a bug) is recorded as the attempt's error and the message is
left to the queue, which redelivers it after a backoff (a message the queue lost meanwhile, as when the
emulator restarted empty, is sent again); on the last attempt (maxReceiveCount) the job
is failed "gave up after N attempts: <error>" and the queue moves the message to the dead-letter
queue. A job whose worker died silently is failed by the reaper once its heartbeat is older than
the queue's visibility timeout (plus a grace for the redelivery to claim it first).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError

from deertrack.exports import failures as export_failures
from deertrack.exports.cancellation import export_prefix
from deertrack.exports.schemas import EXPORT_TYPES
from deertrack.jobs import InvalidTransition, Job, JobNotFound, JobStatus, JobStore, Progress
from deertrack.logs import logger
from deertrack.messages import ExportJobMessage
from deertrack.queues import Received, change_visibility, delete, message_gone, resend
from deertrack.settings import get_settings
from deertrack.storage import delete_prefix, upload_stream
from gpu_batch.export_renderers import render_export
from gpu_batch.job_run import CheckpointHook, ExportFailed, JobCancelled, JobRun
from gpu_batch.queue_loop import StopSignal, consume
from gpu_batch.visibility import keep_visible

#: The rendered file stays in memory up to this size, then spills to a temporary file on disk.
SPOOL_BYTES = 8 * 1024 * 1024
#: Seconds before a failed attempt is retried: 30 s, 60 s, 120 s … capped at the visibility timeout.
RETRY_BACKOFF_SECONDS = 30
#: A stale job is reaped this long after the visibility timeout, so a redelivery can reclaim it first.
REAPER_GRACE_SECONDS = 120
REAP_EVERY_SECONDS = 60
#: How often, and for how long, a retry that SQS could not take is tried again.
RETRY_SCHEDULE_POLL_SECONDS = 2.0
RETRY_SCHEDULE_PATIENCE_SECONDS = 600


def export_key(job_id: str, filename: str) -> str:
    return export_prefix(job_id) + filename


@dataclass(frozen=True)
class Outcome:
    """What became of one message: `consume` deletes it from the queue, otherwise it is retried."""

    status: str  # completed, failed, cancelled, skipped, retry, malformed
    consume: bool
    job_id: str | None = None
    detail: str | None = None


class ExportWorker:
    def __init__(self, store: JobStore | None = None, queue_name: str | None = None,
                 on_checkpoint: CheckpointHook | None = None,
                 retry_backoff_seconds: int = RETRY_BACKOFF_SECONDS) -> None:
        self.store = store or JobStore()
        self.retry_backoff_seconds = retry_backoff_seconds
        self.queue_name = queue_name or get_settings().exports_queue_name
        self.on_checkpoint = on_checkpoint
        self._last_reap = 0.0

    # ------------------------------------------------------------------ one message
    def process_message(self, message: Received) -> Outcome:
        """Handle one received message and delete it when it is done with (see the module doc)."""
        with keep_visible(self.queue_name, message, export_failures.exports_queue_policy().visibility_timeout):
            outcome = self._process(message)
        if outcome.consume:
            try:
                delete(self.queue_name, message.receipt_handle)
            except Exception as exc:
                if not message_gone(exc):
                    raise
                logger.info("the exports queue no longer held the message; nothing to delete",
                            extra={"job_id": outcome.job_id, "message_id": message.message_id})
        else:
            self._delay_retry(message, outcome)
        logger.info("export message handled", extra={"job_id": outcome.job_id, "outcome": outcome.status,
                                                      "message_id": message.message_id,
                                                      "receive_count": message.receive_count,
                                                      "detail": outcome.detail})
        return outcome

    def _process(self, message: Received) -> Outcome:
        try:
            parsed = ExportJobMessage.model_validate_json(message.body)
        except ValidationError as exc:
            return self._malformed(message, exc)
        job_id = parsed.job_id
        job = self.store.get(job_id)
        if job is None:
            why = self.store.tombstone(job_id)
            if why is not None:
                logger.info("export job was removed; message consumed", extra={"job_id": job_id, "why": why})
                return Outcome("skipped", True, job_id, f"job {why}")
            # no status and no tombstone: Redis lost it (or its TTL ran out while the message waited)
            job = self._restore(parsed)
        if job.is_terminal:
            logger.info("export job already finished; redelivery ignored",
                        extra={"job_id": job_id, "status": job.status.value})
            return Outcome("skipped", True, job_id, f"already {job.status.value}")
        try:
            job = self.store.transition(job_id, JobStatus.PROCESSING)
        except (InvalidTransition, JobNotFound) as exc:
            return Outcome("skipped", True, job_id, str(exc))

        run = JobRun(self.store, job_id, self.on_checkpoint,
                     on_lost=lambda: self._restore(parsed, JobStatus.PROCESSING))
        try:
            return self._render_and_store(job, parsed, run)
        except JobCancelled as exc:
            self._remove_output(job_id)
            current = self.store.get(job_id)
            if current is not None and current.status is JobStatus.COMPLETED:
                return Outcome("skipped", True, job_id, "completed by another attempt")
            return Outcome("cancelled", True, job_id, str(exc))
        except ExportFailed as exc:
            self._remove_output(job_id)
            self._fail(job_id, str(exc))
            return Outcome("failed", True, job_id, str(exc))
        except Exception as exc:  # noqa: BLE001 - any other failure is retried by the queue
            logger.exception("export attempt failed", extra={"job_id": job_id, "attempt": message.receive_count})
            return self._attempt_failed(message, job_id, describe(exc))

    def _render_and_store(self, job: Job, message: ExportJobMessage, run: JobRun) -> Outcome:
        started = time.perf_counter()
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as out:
            rendered = render_export(message.export_type, message.request, job, run, out)
            size = out.tell()
            out.seek(0)
            run.checkpoint("before_upload")
            key = export_key(job.job_id, rendered.filename)
            upload_stream(get_settings().exports_bucket, key, out, rendered.content_type)
        run.checkpoint("uploaded")
        try:
            self.store.transition(
                job.job_id, JobStatus.COMPLETED, filename=rendered.filename, file_size_bytes=size, s3_key=key,
                progress=Progress.of(run.total or 1, run.total or 1), error=None,
            )
        except (InvalidTransition, JobNotFound) as exc:
            raise JobCancelled(str(exc)) from exc
        logger.info("export completed", extra={"job_id": job.job_id, "s3_key": key, "bytes": size,
                                               "seconds": round(time.perf_counter() - started, 3),
                                               **rendered.summary})
        return Outcome("completed", True, job.job_id, key)

    def _malformed(self, message: Received, exc: ValidationError) -> Outcome:
        job_id = export_failures.job_id_of(message.body)
        reason = f"the export message is malformed ({exc.error_count()} problems, first: {exc.errors()[0]['msg']})"
        if job_id is not None and self.store.get(job_id) is not None:
            self._fail(job_id, f"{reason}; submit the export again")
            return Outcome("failed", True, job_id, reason)
        # No job to report on: leave it to the queue, whose redrive puts it in the dead-letter queue.
        logger.error("export message names no job; left for the dead-letter queue",
                     extra={"message_id": message.message_id, "body": message.body[:1000]})
        return Outcome("malformed", False, job_id, reason)

    def _attempt_failed(self, message: Received, job_id: str, error: str) -> Outcome:
        try:
            export_failures.record_error(self.store, job_id, error)
            limit = export_failures.exports_queue_policy().max_receive_count
        except Exception as exc:  # noqa: BLE001 - Redis/SQS down too: the queue still retries
            logger.error("cannot record the export attempt's error", extra={"job_id": job_id, "error": str(exc)})
            return Outcome("retry", False, job_id, error)
        if limit is not None and message.receive_count >= limit:
            export_failures.give_up(self.store, job_id, message.receive_count, error)
            self._remove_output(job_id)
            # Not deleted: the next receive moves it to the dead-letter queue, the record of what failed.
            return Outcome("failed", False, job_id, error)
        return Outcome("retry", False, job_id, error)

    def _fail(self, job_id: str, reason: str) -> None:
        try:
            self.store.transition(job_id, JobStatus.FAILED, error=reason)
        except (InvalidTransition, JobNotFound) as exc:
            logger.info("export job not failed: it is no longer running", extra={"job_id": job_id,
                                                                                 "error": str(exc)})

    def _remove_output(self, job_id: str) -> None:
        """Remove what this attempt may have written, unless another worker completed the job."""
        try:
            job = self.store.get(job_id)
            if job is not None and job.status is JobStatus.COMPLETED:
                logger.info("export output kept: the job was completed by another attempt", extra={"job_id": job_id})
                return
            delete_prefix(get_settings().exports_bucket, export_prefix(job_id))
        except Exception as exc:  # noqa: BLE001 - best effort; the API's DELETE removes it as well
            logger.warning("cannot remove export output", extra={"job_id": job_id, "error": str(exc)})

    def _restore(self, message: ExportJobMessage, status: JobStatus = JobStatus.QUEUED) -> Job:
        """The job's status rebuilt from its message (Redis lost it), in `status`."""
        job = self.store.restore(message.job_id, message.export_type, message.request, created_at=message.created_at,
                                 owner=message.owner, total_detections=message.total_detections)
        if status is JobStatus.PROCESSING and job.status is JobStatus.QUEUED:
            job = self.store.transition(message.job_id, JobStatus.PROCESSING)
        return job

    def _delay_retry(self, message: Received, outcome: Outcome) -> None:
        """Make the message visible again after the backoff. When SQS no longer holds it (the emulator
        restarted empty), send it again: a failed attempt must never end the job's only message. While SQS
        cannot be reached at all, keep trying (up to RETRY_SCHEDULE_PATIENCE_SECONDS): there is nothing
        else this worker could receive meanwhile."""
        if outcome.status != "retry":
            return
        from botocore.exceptions import ClientError

        deadline = time.monotonic() + RETRY_SCHEDULE_PATIENCE_SECONDS
        while True:
            try:
                timeout = export_failures.exports_queue_policy().visibility_timeout
                delay = min(self.retry_backoff_seconds * 2 ** max(message.receive_count - 1, 0), timeout)
                try:
                    change_visibility(self.queue_name, message.receipt_handle, delay)
                    return
                except ClientError as exc:
                    if not message_gone(exc):
                        raise
                resend(self.queue_name, message.body, delay)
                logger.warning("the exports queue no longer held the message; sent it again",
                               extra={"job_id": outcome.job_id, "message_id": message.message_id,
                                      "delay_s": delay})
                return
            except ClientError as exc:
                if not message_gone(exc):  # SQS answers about the message (e.g. visible again): it has it
                    logger.warning("cannot schedule the export retry; the queue's own timeout applies",
                                   extra={"job_id": outcome.job_id, "error": str(exc)})
                    return
                error = str(exc)  # the queue is not there yet (the emulator is being provisioned)
            except Exception as exc:  # noqa: BLE001 - SQS unreachable: try again
                error = str(exc)
            if time.monotonic() >= deadline:
                logger.error("cannot schedule the export retry; SQS stayed unreachable",
                             extra={"job_id": outcome.job_id, "error": error})
                return
            time.sleep(RETRY_SCHEDULE_POLL_SECONDS)

    # ------------------------------------------------------------------ reaper
    def reap(self, now: datetime | None = None, stale_after: timedelta | None = None) -> list[str]:
        """Fail `processing` jobs whose heartbeat is older than the visibility timeout (+ grace)."""
        if stale_after is None:
            visibility = export_failures.exports_queue_policy().visibility_timeout
            stale_after = timedelta(seconds=visibility + REAPER_GRACE_SECONDS)
        return reap_stale_jobs(self.store, stale_after, now)

    # ------------------------------------------------------------------ loop
    def _reap_now_and_then(self) -> None:
        if time.monotonic() - self._last_reap < REAP_EVERY_SECONDS:
            return
        self._last_reap = time.monotonic()
        try:
            self.reap()
        except Exception:  # noqa: BLE001 - the reaper must never stop the worker
            logger.exception("export reaper failed")

    def run(self, signals: StopSignal, wait_seconds: int = 20) -> None:
        logger.info("export worker started", extra={"queue": self.queue_name})
        consume(self.queue_name, self.process_message, signals, wait_seconds=wait_seconds,
                between_polls=self._reap_now_and_then)
        logger.info("export worker stopped", extra={"queue": self.queue_name})


def process_message(message: Received, on_checkpoint: CheckpointHook | None = None) -> Outcome:
    """Handle one message from the exports queue (tests and one-shot runs)."""
    return ExportWorker(on_checkpoint=on_checkpoint).process_message(message)


def reap_stale_jobs(store: JobStore, stale_after: timedelta, now: datetime | None = None) -> list[str]:
    """Fail stale `processing` export jobs. Other jobs share the key space (backfill jobs heartbeat
    per shard, on their own schedule) and are not this reaper's to judge."""
    now = now or datetime.now(UTC)
    reaped = []
    for job_id in store.scan_ids():
        job = store.get(job_id)
        if job is None or job.status is not JobStatus.PROCESSING or job.type not in EXPORT_TYPES:
            continue
        beat = job.heartbeat_at or job.updated_at
        if now - beat <= stale_after:
            continue
        silent = int((now - beat).total_seconds())
        reason = (f"the export worker stopped responding (no heartbeat for {silent} s, since "
                  f"{beat:%Y-%m-%d %H:%M:%S} UTC); submit the export again")
        last = export_failures.last_error(store, job_id)
        if last:
            reason += f" (last error: {last})"
        try:
            store.transition(job_id, JobStatus.FAILED, error=reason)
        except (InvalidTransition, JobNotFound):
            continue
        try:
            delete_prefix(get_settings().exports_bucket, export_prefix(job_id))
        except Exception as exc:  # noqa: BLE001
            logger.warning("cannot remove a reaped job's output", extra={"job_id": job_id, "error": str(exc)})
        logger.warning("stale export job reaped", extra={"job_id": job_id, "silent_seconds": silent})
        reaped.append(job_id)
    return reaped


def describe(exc: BaseException) -> str:
    """An exception as one line a person can act on (what failed, then the detail)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from deertrack.db import DatabaseUnavailable

    if isinstance(exc, DatabaseUnavailable):
        return f"database unavailable: {exc}"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"AWS {exc.operation_name} failed: {error.get('Code')} {error.get('Message', '')}".strip()
    if isinstance(exc, BotoCoreError):
        return f"AWS unreachable: {exc}"
    return f"{type(exc).__name__}: {exc}"


def main(argv: list[str] | None = None) -> int:
    """`deertrack worker exports` and the container entry point: run until SIGTERM / SIGINT,
    finishing the message in hand."""
    import argparse

    parser = argparse.ArgumentParser(prog="deertrack worker exports",
                                     description="Render export jobs from the exports queue into S3.")
    parser.add_argument("--once", action="store_true", help="handle what is on the queue now, then exit")
    parser.add_argument("--reap", action="store_true", help="fail stale processing jobs once, then exit")
    parser.add_argument("--wait-seconds", type=int, default=20, choices=range(0, 21), metavar="0-20",
                        help="SQS long-poll wait (default 20)")
    args = parser.parse_args(argv)
    worker = ExportWorker()
    if args.reap:
        for job_id in worker.reap():
            print(f"reaped {job_id}")
        return 0
    if args.once:
        handled = consume(worker.queue_name, worker.process_message, StopSignal().install(),
                          wait_seconds=min(args.wait_seconds, 1), once=True)
        print(f"handled {handled} export messages")
        return 0
    worker.run(StopSignal().install(), wait_seconds=args.wait_seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
