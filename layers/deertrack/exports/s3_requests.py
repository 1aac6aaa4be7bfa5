"""Export requests dropped as JSON under `export-requests/` in the requests bucket.

Each object is a request body plus `"export_type": "pdf" | "zip" | "camtrap-dp"`; it is validated
and queued exactly like the HTTP request, and the outcome is written next to it as
`<name>.result.json`:

    {"status": "queued", "job_id": ..., "type": ..., "status_url": ..., "created_at": ..., "request_key": ...}
    {"status": "rejected", "error": "validation_error", "message": ..., "details": [...], "request_key": ...}

A malformed file is rejected (a result says why); it is not retried. Redis, SQS, PostgreSQL or S3
being down raises, so the queue delivers the notification again.
"""

from __future__ import annotations

import json
from typing import Any

from deertrack import storage
from deertrack.auth import S3_REQUESTS_SERVICE
from deertrack.exports.intake import accept_document
from deertrack.logs import logger
from deertrack.problems import RequestInvalid, ServiceUnavailable
from deertrack.s3_events import S3Object

REQUEST_PREFIX = "export-requests/"
RESULT_SUFFIX = ".result.json"


class TransientFailure(RuntimeError):
    """Something the request depends on is down; the notification should be delivered again."""


def result_key(request_key: str) -> str:
    """export-requests/foo.json -> export-requests/foo.result.json."""
    stem = request_key[: -len(".json")] if request_key.endswith(".json") else request_key
    return stem + RESULT_SUFFIX


def is_request_key(request_key: str) -> bool:
    return (request_key.startswith(REQUEST_PREFIX) and request_key.endswith(".json")
            and not request_key.endswith(RESULT_SUFFIX))


def handle_object(obj: S3Object) -> dict[str, Any] | None:
    """Validate and queue one request object, write its result; None when there is nothing to do."""
    if not is_request_key(obj.key):
        logger.debug("not an export request; ignored", extra={"bucket": obj.bucket, "key": obj.key})
        return None
    try:
        raw = storage.get_bytes(obj.bucket, obj.key)
    except storage.ObjectMissing:
        logger.warning("export request gone before it was read; nothing to do",
                       extra={"bucket": obj.bucket, "key": obj.key})
        return None
    try:
        submitted = accept_document(raw, source=f"s3://{obj.bucket}/{obj.key}", owner=S3_REQUESTS_SERVICE)
    except RequestInvalid as problem:
        result: dict[str, Any] = {"status": "rejected", **problem.body()}
        logger.warning("export request rejected", extra={"bucket": obj.bucket, "key": obj.key,
                                                          "problems": len(problem.details)})
    except ServiceUnavailable as exc:
        raise TransientFailure(f"s3://{obj.bucket}/{obj.key}: {exc.message} ({exc.cause})") from exc
    else:
        body = submitted.body
        result = {"status": "queued", "job_id": body["job_id"], "type": body["type"],
                  "status_url": body["status_url"], "created_at": body["created_at"]}
        logger.info("export request queued", extra={"bucket": obj.bucket, "key": obj.key,
                                                    "job_id": body["job_id"], "replayed": submitted.replayed})
    result["request_key"] = obj.key
    storage.put_bytes(obj.bucket, result_key(obj.key), json.dumps(result, indent=2).encode(),
                      content_type="application/json")
    return result
