"""Health of the four things the service stands on: Redis, PostgreSQL, SQS, S3 (and which AWS answers)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
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


def _get_json(url: str, timeout: float) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310 - the configured endpoint
        return json.loads(answer.read())


def emulator_identity(endpoint_url: str | None, timeout: float = 1.0) -> dict[str, Any]:
    """Which AWS answers: `{"name": "aws"}` without AWS_ENDPOINT_URL, else the emulator found there.

    LocalStack names its version in `/_localstack/health`; moto answers `/moto-api/config` (it has no
    version over HTTP); anything else is `unknown`.
    """
    if not endpoint_url:
        return {"name": "aws", "version": None, "endpoint": None}
    base = endpoint_url.rstrip("/")
    try:
        document = _get_json(f"{base}/_localstack/health", timeout)
        if isinstance(document, dict) and "services" in document:
            return {"name": "localstack", "version": document.get("version"), "endpoint": endpoint_url}
    except (urllib.error.URLError, OSError, ValueError):
        pass
    try:
        _get_json(f"{base}/moto-api/config", timeout)
        return {"name": "moto", "version": None, "endpoint": endpoint_url}
    except (urllib.error.URLError, OSError, ValueError):
        pass
    return {"name": "unknown", "version": None, "endpoint": endpoint_url}


def describe_emulator(identity: dict[str, Any]) -> str:
    """`LocalStack 4.13.1`, `moto`, `AWS`: what a person reads in a banner."""
    label = {"localstack": "LocalStack", "moto": "moto", "aws": "AWS"}.get(identity["name"], identity["name"])
    return f"{label} {identity['version']}" if identity.get("version") else label


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
    return {"status": "ok" if not down else "degraded", "down": down, "components": components,
            "aws": emulator_identity(get_settings().aws_endpoint_url)}
