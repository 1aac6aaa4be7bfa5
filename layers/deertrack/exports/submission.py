"""A valid request becomes a job: status in Redis first, then one SQS message; nothing half-made.

- Redis down: nothing is sent, 503.
- SQS down: the status (and the idempotency key) just written are removed again, 503.
- Idempotency-Key: a retry gets the first answer; the key is claimed with SET NX after the status
  exists, so a lost race removes its own status and answers with the winner's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis
from botocore.exceptions import BotoCoreError, ClientError

from deertrack import queues
from deertrack.exports import idempotency
from deertrack.exports.idempotency import IdempotencyRecord, IdempotencyStore
from deertrack.exports.responses import accepted
from deertrack.exports.validation import ValidRequest
from deertrack.jobs import JobStore
from deertrack.logs import logger
from deertrack.messages import ExportJobMessage
from deertrack.outages import REDIS, SQS
from deertrack.problems import ServiceUnavailable
from deertrack.settings import get_settings


@dataclass(frozen=True)
class Submitted:
    body: dict[str, Any]  # the 202 body
    replayed: bool = False  # the answer to an earlier request with the same Idempotency-Key

    @property
    def job_id(self) -> str:
        return str(self.body["job_id"])


def submit(valid: ValidRequest, *, owner: str, idempotency_key: str | None = None,
           body_hash: str | None = None) -> Submitted:
    """Create `owner`'s job status and enqueue it; raise ServiceUnavailable (nothing left behind) or
    IdempotencyConflict. Idempotency keys are the owner's own: another user's same key is another job."""
    if idempotency_key is not None and body_hash is None:
        raise ValueError("an idempotency key needs the request's body hash")
    shown_key = idempotency_key
    if idempotency_key is not None:
        idempotency_key = idempotency.owned_key(owner, idempotency_key)
    try:
        store = JobStore()
        keys = IdempotencyStore.default()
        if idempotency_key is not None:
            earlier = keys.get(idempotency_key)
            if earlier is not None:
                return Submitted(idempotency.replay(earlier, str(body_hash), str(shown_key)), replayed=True)
        request = valid.request()
        total = valid.total_detections
        job = store.create(valid.export_type, request, total=total or 0, total_detections=total, owner=owner)
        body = accepted(job)
        if idempotency_key is not None:
            first = _claim(keys, store, idempotency_key, IdempotencyRecord(
                body_hash=str(body_hash), job_id=job.job_id, response=body))
            if first is not None:
                return Submitted(idempotency.replay(first, str(body_hash), str(shown_key)), replayed=True)
    except redis.RedisError as exc:
        logger.error("job store unavailable; nothing enqueued",
                     extra={"export_type": valid.export_type, "error": str(exc)})
        raise ServiceUnavailable(REDIS, exc) from exc

    message = ExportJobMessage(job_id=job.job_id, export_type=valid.export_type,  # type: ignore[arg-type]
                               request=request, created_at=job.created_at, owner=owner, total_detections=total)
    queue = get_settings().exports_queue_name
    try:
        queues.send(queue, message, job_id=job.job_id, export_type=valid.export_type)
    except (BotoCoreError, ClientError) as exc:
        logger.error("enqueue failed; removing the job's status",
                     extra={"job_id": job.job_id, "queue": queue, "error": str(exc)})
        _undo(store, keys, job.job_id, idempotency_key)
        raise ServiceUnavailable(SQS, exc) from exc
    return Submitted(body)


def _claim(keys: IdempotencyStore, store: JobStore, idempotency_key: str,
           record: IdempotencyRecord) -> IdempotencyRecord | None:
    try:
        first = keys.claim(idempotency_key, record)
    except redis.RedisError:
        store.discard(record.job_id)
        raise
    if first is not None:
        logger.info("idempotency race lost; removing the duplicate job",
                    extra={"job_id": record.job_id, "kept_job_id": first.job_id})
        store.discard(record.job_id)
    return first


def _undo(store: JobStore, keys: IdempotencyStore, job_id: str, idempotency_key: str | None) -> None:
    try:
        store.discard(job_id)
        if idempotency_key is not None:
            keys.release(idempotency_key)
    except redis.RedisError as exc:  # both down: the status expires with its TTL, no message exists
        logger.error("could not remove the status of a job that was not enqueued",
                     extra={"job_id": job_id, "error": str(exc)})
