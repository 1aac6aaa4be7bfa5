"""Health of the four things the service stands on: Redis, PostgreSQL, SQS, S3."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from deertrack import db
from deertrack.aws import client
from deertrack.logs import logger
from deertrack.queues import queue_url
from deertrack.redis_client import get_redis
from deertrack.settings import get_settings


def _redis() -> str:
    get_redis().ping()
    return "PING ok"


def _postgres() -> str:
    with db.connection() as con:
        version = con.run("SELECT max(version) FROM schema_migrations")[0][0]
    return f"schema version {version}"


def _sqs() -> str:
    s = get_settings()
    for name in (s.exports_queue_name, s.reid_queue_name):
        queue_url(name)
    return "queues reachable"


def _s3() -> str:
    s = get_settings()
    for bucket in (s.images_bucket, s.exports_bucket, s.requests_bucket):
        client("s3").head_bucket(Bucket=bucket)
    return "buckets reachable"


CHECKS: dict[str, Callable[[], str]] = {"redis": _redis, "postgres": _postgres, "sqs": _sqs, "s3": _s3}


def check_all() -> dict[str, Any]:
    components: dict[str, Any] = {}
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            detail = check()
            components[name] = {"status": "ok", "detail": detail}
        except Exception as exc:  # every failure is reported, none raised
            components[name] = {"status": "down", "detail": f"{type(exc).__name__}: {exc}"}
            logger.warning("health check failed", extra={"component": name, "error": str(exc)})
        components[name]["ms"] = round(1000 * (time.perf_counter() - started), 1)
    down = [n for n, c in components.items() if c["status"] != "ok"]
    return {"status": "ok" if not down else "degraded", "down": down, "components": components}
