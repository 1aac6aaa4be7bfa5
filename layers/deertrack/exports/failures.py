"""Why an export job failed, across attempts: the worker records each attempt's error, and whoever
gives up on the job (the worker on its last attempt, the dead-letter handler, the reaper) marks it
`failed` with "gave up after N attempts: <last error>".

The last error lives beside the job in Redis (`export_job_error:{job_id}`, same TTL), because a job
still `processing` has no field for an error that is going to be retried.
"""

from __future__ import annotations

import json
from typing import Any

from deertrack.jobs import InvalidTransition, Job, JobNotFound, JobStatus, JobStore
from deertrack.logs import logger
from deertrack.queues import QueuePolicy, queue_policy
from deertrack.redis_client import key
from deertrack.settings import get_settings

MAX_ERROR_LENGTH = 500


def exports_queue_policy() -> QueuePolicy:
    """The exports queue's visibility timeout and redrive limit, as deployed (read once, cached)."""
    return queue_policy(get_settings().exports_queue_name)


def error_key(job_id: str) -> str:
    return key(f"export_job_error:{job_id}")


def record_error(store: JobStore, job_id: str, error: str) -> None:
    store.redis.set(error_key(job_id), error[:MAX_ERROR_LENGTH], ex=store.ttl)
    logger.debug("export attempt error recorded", extra={"job_id": job_id, "redis_op": "SET", "ttl": store.ttl})


def last_error(store: JobStore, job_id: str) -> str | None:
    return store.redis.get(error_key(job_id))


def give_up(store: JobStore, job_id: str, attempts: int, error: str | None = None) -> Job | None:
    """Mark the job failed ("gave up after N attempts: …") unless it is gone or already terminal."""
    job = store.get(job_id)
    if job is None or job.is_terminal:
        logger.info("dead export job needs nothing", extra={"job_id": job_id,
                                                              "status": job.status.value if job else None})
        return job
    reason = error or last_error(store, job_id) or "the export worker stopped before finishing (no error recorded)"
    attempts = max(attempts, job.attempts, 1)
    try:
        return store.transition(job_id, JobStatus.FAILED,
                                error=f"gave up after {attempts} attempt{'s' if attempts != 1 else ''}: {reason}")
    except (InvalidTransition, JobNotFound):
        return store.get(job_id)  # it became terminal (or went away) meanwhile: nothing to do


def job_id_of(body: str) -> str | None:
    """The job id in an exports-queue message body, even a malformed one; None when there is none."""
    try:
        payload: Any = json.loads(body)
    except ValueError:
        return None
    job_id = payload.get("job_id") if isinstance(payload, dict) else None
    return job_id if isinstance(job_id, str) and 0 < len(job_id) <= 64 else None


def handle_dead_letter(store: JobStore, body: str) -> Job | None:
    """One message that the exports queue gave up on. Never raises for a bad body: it is logged.

    A message reaches the dead-letter queue after the exports queue delivered it maxReceiveCount
    times, so that is the number of attempts (or the job's own count of claims, if higher).
    """
    job_id = job_id_of(body)
    if job_id is None:
        logger.error("dead export message names no job; dropped after logging", extra={"body": body[:1000]})
        return None
    try:
        attempts = exports_queue_policy().max_receive_count or 1
    except Exception as exc:  # noqa: BLE001 - the count is a detail; never lose the failure over it
        logger.warning("cannot read the exports queue's redrive policy", extra={"error": str(exc)})
        attempts = 1
    job = give_up(store, job_id, attempts)
    logger.warning("dead export message handled",
                   extra={"job_id": job_id, "status": job.status.value if job else None,
                          "error": job.error if job else None})
    return job
