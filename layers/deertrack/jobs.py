"""Async job status in Redis: `export_job:{job_id}`, JSON, a TTL on every write, one-way transitions.

Redis may lose its data (a cache-only restart, an ElastiCache node replaced): the status of a job
whose message still waits on the queue is then gone. To tell that from a job a person deleted or
cancelled, `delete` and a cancel leave a tombstone, `export_job_gone:{job_id}`, that outlives the
message (TOMBSTONE_TTL_SECONDS, the queue's retention). A worker that finds neither status nor
tombstone rebuilds the status from the message (`restore`) and finishes the job. Lost with the
rest: idempotency keys (a client that retries with the same key after such a loss gets a second
job, never a lost one) and tombstones (a job deleted just before the loss may then be rendered,
its file expiring like any other).
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import redis
from pydantic import BaseModel, Field

from deertrack.logs import logger
from deertrack.redis_client import get_redis, key
from deertrack.settings import get_settings


class JobStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})

#: status -> the statuses it may be entered from. processing -> processing is a redelivered
#: message re-claiming a job whose worker died; a terminal state is never left.
ALLOWED_FROM: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset(),
    JobStatus.PROCESSING: frozenset({JobStatus.QUEUED, JobStatus.PROCESSING}),
    JobStatus.COMPLETED: frozenset({JobStatus.PROCESSING}),
    JobStatus.FAILED: frozenset({JobStatus.QUEUED, JobStatus.PROCESSING}),
    JobStatus.CANCELLED: frozenset({JobStatus.QUEUED, JobStatus.PROCESSING}),
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Progress(BaseModel):
    processed: int = Field(0, ge=0)
    total: int = Field(0, ge=0)
    percent: float = Field(0.0, ge=0, le=100)

    @classmethod
    def of(cls, processed: int, total: int) -> Progress:
        processed = max(0, processed)
        percent = 100.0 if total <= 0 and processed > 0 else (100.0 * processed / total if total else 0.0)
        return cls(processed=processed, total=max(total, 0), percent=round(min(percent, 100.0), 1))


class PublicJob(BaseModel):
    """The fields of a job that clients see (the export status view adds its URLs)."""

    job_id: str
    type: str
    status: JobStatus
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None = None
    expires_at: datetime
    progress: Progress = Field(default_factory=Progress)
    filename: str | None = None
    file_size_bytes: int | None = None
    error: str | None = None
    total_detections: int | None = None
    attempts: int = 0
    owner: str | None = Field(None, description="Who asked for the job: a user, or a service identity "
                              "(service:s3-export-requests, service:schedule)")


class Job(PublicJob):
    """A job as stored: the public fields plus where its file is, its heartbeat and its request."""

    s3_key: str | None = None
    heartbeat_at: datetime | None = None
    request: dict[str, Any] = Field(default_factory=dict)
    #: What a job that makes no file reports when it is done (the merge job's summary).
    result: dict[str, Any] | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL


class QueuedJobView(BaseModel):
    """What GET answers for a job that makes no file (a backfill, a merge job)."""

    job_id: str
    status: JobStatus
    progress: Progress
    request: dict[str, Any]
    owner: str | None = None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    expires_at: datetime
    error: str | None


class JobNotFound(LookupError):
    pass


class InvalidTransition(RuntimeError):
    def __init__(self, job_id: str, current: JobStatus, wanted: JobStatus) -> None:
        super().__init__(f"job {job_id} is {current.value}; it cannot become {wanted.value}")
        self.current = current
        self.wanted = wanted


def job_key(job_id: str) -> str:
    return key(f"export_job:{job_id}")


def tombstone_key(job_id: str) -> str:
    return key(f"export_job_gone:{job_id}")


#: A tombstone outlives any message that could still name its job (SQS retention: 4 days).
TOMBSTONE_TTL_SECONDS = 4 * 24 * 3600


def new_job_id() -> str:
    return uuid.uuid4().hex


class JobStore:
    """All reads and writes of job status. Every write sets the TTL (JOB_TTL_SECONDS)."""

    def __init__(self, client: redis.Redis | None = None, ttl_seconds: int | None = None) -> None:
        self.redis = client or get_redis()
        self.ttl = ttl_seconds or get_settings().job_ttl_seconds

    def create(
        self,
        job_type: str,
        request: dict[str, Any],
        *,
        job_id: str | None = None,
        total: int = 0,
        total_detections: int | None = None,
        owner: str | None = None,
    ) -> Job:
        now = utcnow()
        job = Job(
            job_id=job_id or new_job_id(),
            type=job_type,
            status=JobStatus.QUEUED,
            created_at=now,
            updated_at=now,
            expires_at=now + timedelta(seconds=self.ttl),
            progress=Progress.of(0, total),
            total_detections=total_detections,
            request=request,
            owner=owner,
        )
        if not self.redis.set(job_key(job.job_id), job.model_dump_json(), ex=self.ttl, nx=True):
            raise RuntimeError(f"job {job.job_id} already exists")
        logger.info(
            "job created",
            extra={"job_id": job.job_id, "redis_op": "SET", "status": job.status.value, "ttl": self.ttl,
                   "owner": owner},
        )
        return job

    def get(self, job_id: str) -> Job | None:
        raw = self.redis.get(job_key(job_id))
        if raw is None:
            logger.debug("job miss", extra={"job_id": job_id, "redis_op": "GET"})
            return None
        job = Job.model_validate_json(raw)
        if logger.log_level <= logging.DEBUG:  # the TTL is a second round trip: only when it is logged
            logger.debug(
                "job read",
                extra={"job_id": job_id, "redis_op": "GET", "status": job.status.value,
                       "ttl_left": self.redis.ttl(job_key(job_id))},
            )
        return job

    def _update(self, job_id: str, change: Any) -> Job:
        """Read-modify-write under WATCH; `change(job)` returns the new job or raises."""
        k = job_key(job_id)
        result: dict[str, Job] = {}

        def txn(pipe: redis.client.Pipeline) -> None:
            raw = pipe.get(k)
            if raw is None:
                raise JobNotFound(job_id)
            job = change(Job.model_validate_json(raw))
            now = utcnow()
            job.updated_at = now
            job.expires_at = now + timedelta(seconds=self.ttl)
            pipe.multi()
            pipe.set(k, job.model_dump_json(), ex=self.ttl)
            result["job"] = job

        self.redis.transaction(txn, k)
        return result["job"]

    def transition(self, job_id: str, to: JobStatus, **fields: Any) -> Job:
        def change(job: Job) -> Job:
            if job.status not in ALLOWED_FROM[to]:
                raise InvalidTransition(job_id, job.status, to)
            updated = job.model_copy(update={**fields, "status": to})
            if to in TERMINAL:
                updated.completed_at = utcnow()
            if to is JobStatus.PROCESSING:
                updated.attempts = job.attempts + 1
                updated.heartbeat_at = utcnow()
            return Job.model_validate(updated.model_dump())

        job = self._update(job_id, change)
        level = logger.warning if to is JobStatus.FAILED else logger.info
        level(
            "job status changed",
            extra={"job_id": job_id, "redis_op": "SET", "status": to.value, "ttl": self.ttl,
                   "error": job.error},
        )
        return job

    def progress(self, job_id: str, processed: int, total: int) -> Job:
        """Record progress (and a heartbeat) on a processing job; raises InvalidTransition otherwise."""

        def change(job: Job) -> Job:
            if job.status is not JobStatus.PROCESSING:
                raise InvalidTransition(job_id, job.status, JobStatus.PROCESSING)
            job.progress = Progress.of(processed, total)
            job.heartbeat_at = utcnow()
            return job

        job = self._update(job_id, change)
        logger.debug("job progress", extra={"job_id": job_id, "redis_op": "SET",
                                             "progress": job.progress.model_dump(), "ttl": self.ttl})
        return job

    def delete(self, job_id: str, why: str = "deleted") -> bool:
        """Remove a job's status, leaving a tombstone that says it was removed on purpose."""
        pipe = self.redis.pipeline()
        pipe.set(tombstone_key(job_id), why, ex=TOMBSTONE_TTL_SECONDS)
        pipe.delete(job_key(job_id))
        removed = bool(pipe.execute()[1])
        logger.info("job removed", extra={"job_id": job_id, "redis_op": "DEL", "removed": removed, "why": why})
        return removed

    def discard(self, job_id: str) -> None:
        """Remove the status of a job whose message was never sent (nothing can ask for it again)."""
        self.redis.delete(job_key(job_id))
        logger.info("job discarded", extra={"job_id": job_id, "redis_op": "DEL"})

    def bury(self, job_id: str, why: str) -> None:
        """Leave a tombstone and keep the status (a cancel, before the status changes)."""
        self.redis.set(tombstone_key(job_id), why, ex=TOMBSTONE_TTL_SECONDS)

    def tombstone(self, job_id: str) -> str | None:
        """Why a job was removed on purpose (`deleted`, `cancelled`), or None."""
        raw = self.redis.get(tombstone_key(job_id))
        return raw.decode() if isinstance(raw, bytes) else raw

    def restore(self, job_id: str, job_type: str, request: dict[str, Any], *, created_at: datetime | None,
                owner: str | None, total_detections: int | None) -> Job:
        """Rebuild a lost status as it was created (queued), unless one exists meanwhile."""
        now = utcnow()
        job = Job(job_id=job_id, type=job_type, status=JobStatus.QUEUED, created_at=created_at or now,
                  updated_at=now, expires_at=now + timedelta(seconds=self.ttl),
                  progress=Progress.of(0, total_detections or 0), total_detections=total_detections,
                  request=request, owner=owner)
        restored = bool(self.redis.set(job_key(job_id), job.model_dump_json(), ex=self.ttl, nx=True))
        logger.warning("job status lost (Redis restarted empty?); rebuilt from its message" if restored else
                       "job status reappeared while being rebuilt", extra={"job_id": job_id, "redis_op": "SET NX"})
        current = self.get(job_id)
        return current if current is not None else job

    def scan_ids(self) -> list[str]:
        prefix = job_key("")
        return [k[len(prefix):] for k in self.redis.scan_iter(match=prefix + "*", count=500)]

