"""DELETE a job: mark it cancelled (so a worker stops at its next checkpoint), remove its files
under `exports/{job_id}/` in the exports bucket, then forget its status."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from botocore.exceptions import BotoCoreError, ClientError

from deertrack import storage
from deertrack.auth import Principal
from deertrack.exports.status import not_found, valid_job_id
from deertrack.jobs import InvalidTransition, JobNotFound, JobStatus, JobStore
from deertrack.logs import logger
from deertrack.outages import REDIS, S3
from deertrack.problems import ServiceUnavailable
from deertrack.settings import get_settings


def export_prefix(job_id: str) -> str:
    """Where a job's files live in the exports bucket."""
    return f"exports/{job_id}/"


@dataclass(frozen=True)
class Cancelled:
    job_id: str
    previous_status: str
    objects_removed: int


def cancel(job_id: str, caller: Principal) -> Cancelled:
    """Cancel and clean up; raise NotFound for an unknown job or one `caller` may not see (not theirs, and
    not an admin), ServiceUnavailable when Redis/S3 is down.

    A retry after a 503 finishes the clean-up: the status stays (cancelled) until the files are gone.
    """
    if not valid_job_id(job_id):
        raise not_found(job_id)
    store = JobStore()
    try:
        job = store.get(job_id)
        if job is None:
            logger.info("cancel of unknown job", extra={"job_id": job_id, "redis_op": "GET", "found": False})
            raise not_found(job_id)
        if not caller.sees(job.owner):
            logger.info("cancel of another user's job refused", extra={"job_id": job_id, "user": caller.user})
            raise not_found(job_id)
        previous = job.status
        if not job.is_terminal:
            store.bury(job_id, "cancelled")  # before the status changes: a Redis loss never revives it
            try:
                job = store.transition(job_id, JobStatus.CANCELLED, error="cancelled by request")
            except (InvalidTransition, JobNotFound) as exc:  # finished or vanished meanwhile
                logger.info("job changed while being cancelled", extra={"job_id": job_id, "detail": str(exc)})
    except redis.RedisError as exc:
        raise ServiceUnavailable(REDIS, exc) from exc

    bucket = get_settings().exports_bucket
    try:
        removed = storage.delete_prefix(bucket, export_prefix(job_id))  # the job's file is always under it
    except (BotoCoreError, ClientError) as exc:
        logger.error("cancel could not remove the job's files; status kept",
                     extra={"job_id": job_id, "bucket": bucket, "error": str(exc)})
        raise ServiceUnavailable(S3, exc) from exc

    try:
        store.delete(job_id)
    except redis.RedisError as exc:
        raise ServiceUnavailable(REDIS, exc) from exc
    logger.info("job cancelled", extra={"job_id": job_id, "previous_status": previous.value,
                                        "s3_objects_removed": removed, "redis_op": "DEL"})
    return Cancelled(job_id, previous.value, removed)
