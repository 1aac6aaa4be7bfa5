"""GET a job's status: unknown, expired, malformed or another type's id are all 404."""

from __future__ import annotations

import re
from typing import Any

import redis

from deertrack.auth import Principal
from deertrack.exports.responses import status_view
from deertrack.jobs import JobStore
from deertrack.logs import logger
from deertrack.outages import REDIS
from deertrack.problems import NotFound, ServiceUnavailable

_JOB_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def not_found(job_id: str, export_type: str | None = None) -> NotFound:
    what = f"{export_type} export job" if export_type else "export job"
    return NotFound(f"no {what} {job_id!r} (unknown, expired or removed)")


def job_status(export_type: str, job_id: str, caller: Principal) -> dict[str, Any]:
    """The status view of an `export_type` job that `caller` may see (its owner, or an admin); raise NotFound /
    ServiceUnavailable. Someone else's job is not found, the same as an unknown one."""
    if not _JOB_ID.match(job_id):
        raise not_found(job_id, export_type)
    try:
        job = JobStore().get(job_id)
    except redis.RedisError as exc:
        raise ServiceUnavailable(REDIS, exc) from exc
    if job is None:
        logger.info("status of unknown job", extra={"job_id": job_id, "redis_op": "GET", "found": False})
        raise not_found(job_id, export_type)
    if job.type != export_type:
        logger.info("status asked under the wrong type",
                    extra={"job_id": job_id, "job_type": job.type, "asked_type": export_type})
        raise not_found(job_id, export_type)
    if not caller.sees(job.owner):
        logger.info("status of another user's job refused", extra={"job_id": job_id, "user": caller.user})
        raise not_found(job_id, export_type)
    return status_view(job)


def valid_job_id(job_id: str) -> bool:
    return bool(_JOB_ID.match(job_id))
