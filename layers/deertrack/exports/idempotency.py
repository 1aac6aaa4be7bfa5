"""Idempotency-Key: a retried POST gets the same job; the same key with another body is a 409.

Redis holds `export_idempotency:{sha256(key)}` → {body hash, job_id, the 202 body}, written with
SET NX (the first request wins atomically) and the job TTL.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

import redis
from pydantic import BaseModel

from deertrack.logs import logger
from deertrack.problems import IdempotencyConflict, Problem, RequestInvalid
from deertrack.redis_client import get_redis, key
from deertrack.settings import get_settings

HEADER = "Idempotency-Key"
#: 1-255 visible ASCII characters (the OpenAPI document gives the same pattern).
KEY_PATTERN = "^[!-~]{1,255}$"
_VALID_KEY = re.compile(KEY_PATTERN)


class IdempotencyRecord(BaseModel):
    body_hash: str
    job_id: str
    response: dict[str, Any]


def checked_key(value: str | None) -> str | None:
    """The header's value, or None when absent; 1-255 visible ASCII characters."""
    if value is None:
        return None
    if not _VALID_KEY.fullmatch(value):
        raise RequestInvalid([Problem(HEADER, "format",
                                      f"{HEADER} must be 1-255 visible ASCII characters (no spaces)")])
    return value


def fingerprint(export_type: str, data: Any) -> str:
    """Hash of the request as sent (key order and whitespace do not matter), per export type."""
    canonical = json.dumps({"export_type": export_type, "body": data}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def owned_key(owner: str, idempotency_key: str) -> str:
    """The key as stored: scoped to the user (or service) that sent it, so users never share keys."""
    return f"{owner}\n{idempotency_key}"


def _redis_key(idempotency_key: str) -> str:
    return key("export_idempotency:" + hashlib.sha256(idempotency_key.encode()).hexdigest())


@dataclass
class IdempotencyStore:
    client: redis.Redis
    ttl: int

    @classmethod
    def default(cls) -> IdempotencyStore:
        return cls(get_redis(), get_settings().job_ttl_seconds)

    def get(self, idempotency_key: str) -> IdempotencyRecord | None:
        k = _redis_key(idempotency_key)
        raw = self.client.get(k)
        if raw is None:
            logger.debug("idempotency key miss", extra={"redis_op": "GET", "redis_key": k})
            return None
        record = IdempotencyRecord.model_validate_json(raw)
        logger.info("idempotency key hit", extra={"redis_op": "GET", "redis_key": k, "job_id": record.job_id,
                                                   "ttl_left": self.client.ttl(k)})
        return record

    def claim(self, idempotency_key: str, record: IdempotencyRecord) -> IdempotencyRecord | None:
        """Store `record` unless the key is taken (SET NX EX); return the record that was there first."""
        k = _redis_key(idempotency_key)
        for _ in range(3):  # the first holder may expire between SET NX and GET
            if self.client.set(k, record.model_dump_json(), nx=True, ex=self.ttl):
                logger.info("idempotency key stored", extra={"redis_op": "SET NX", "redis_key": k,
                                                              "job_id": record.job_id, "ttl": self.ttl})
                return None
            existing = self.get(idempotency_key)
            if existing is not None:
                return existing
        raise RuntimeError(f"idempotency key {k} keeps expiring while being claimed")

    def release(self, idempotency_key: str) -> None:
        k = _redis_key(idempotency_key)
        removed = self.client.delete(k)
        logger.info("idempotency key removed", extra={"redis_op": "DEL", "redis_key": k, "removed": bool(removed)})


def replay(record: IdempotencyRecord, body_hash: str, idempotency_key: str) -> dict[str, Any]:
    """The first answer for this key, or IdempotencyConflict when the body differs."""
    if record.body_hash != body_hash:
        raise IdempotencyConflict(
            f"{HEADER} {idempotency_key!r} was already used with a different request (job {record.job_id})",
            [Problem(HEADER, "same_body", f"a retry with {HEADER} {idempotency_key!r} must send the same body "
                                          f"to the same endpoint; use a new key for a new request")],
        )
    return record.response
