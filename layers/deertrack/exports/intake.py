"""From a request as it arrives (HTTP body, or S3 object) to a queued job: parse, validate, submit.

The HTTP routes and the S3-triggered handler both come through here, so a request is judged the
same way whichever door it used.
"""

from __future__ import annotations

import hashlib
from typing import Any

from deertrack.exports import body, idempotency
from deertrack.exports.schemas import EXPORT_TYPES
from deertrack.exports.submission import Submitted, submit
from deertrack.exports.validation import validate_request
from deertrack.problems import Problem, RequestInvalid


def accept(export_type: str, raw: bytes | str | None, *, owner: str, idempotency_key: str | None = None) -> Submitted:
    """An HTTP POST body for `export_type`, asked for by `owner` → Submitted; raises an ApiProblem otherwise."""
    key = idempotency.checked_key(idempotency_key)
    data = body.load_json(raw)
    valid = validate_request(export_type, data)
    body_hash = idempotency.fingerprint(export_type, data) if key else None
    return submit(valid, owner=owner, idempotency_key=key, body_hash=body_hash)


def accept_document(raw: bytes, *, source: str, owner: str) -> Submitted:
    """An export request stored as a JSON document with its own `export_type` field (S3 requests).

    `source` names the document (e.g. s3://bucket/key): together with the content's hash it is the
    idempotency key, so a redelivered notification yields the same job, never a second one.
    """
    data: Any = body.load_json(raw)
    export_type, rest = split_export_type(data)
    valid = validate_request(export_type, rest)
    key = f"{source}#{hashlib.sha256(raw).hexdigest()}"
    return submit(valid, owner=owner, idempotency_key=key, body_hash=idempotency.fingerprint(export_type, rest))


def split_export_type(data: Any) -> tuple[str, dict[str, Any]]:
    """(export_type, the other fields) of a request document."""
    if not isinstance(data, dict):
        raise RequestInvalid([Problem("body", "json_object", "the request document must be a JSON object")])
    rest = {k: v for k, v in data.items() if k != "export_type"}
    export_type = data.get("export_type")
    allowed = ", ".join(repr(t) for t in EXPORT_TYPES)
    if export_type is None:
        raise RequestInvalid([Problem("export_type", "required", f"export_type is required (one of {allowed})")])
    if export_type not in EXPORT_TYPES:
        raise RequestInvalid([Problem("export_type", "enum",
                                      f"export_type must be one of {allowed} (got {export_type!r})")])
    return str(export_type), rest
