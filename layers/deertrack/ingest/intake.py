"""From an HTTP detections batch as it arrives (POST /api/detections) to stored records: parse, validate, store.

The batch's own shape (a JSON object with a non-empty `images` list of at most MAX_RECORDS) is judged as a
whole; each record and box then on its own (deertrack.ingest.schema), so one bad record never sinks the batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deertrack.ingest import batches
from deertrack.ingest.schema import MAX_RECORDS, IngestReply, parse_record
from deertrack.ingest.store import store_records
from deertrack.inputs import json_object
from deertrack.problems import Problem, RequestInvalid


@dataclass(frozen=True)
class Ingested:
    status: int  # 202 everything stored, 207 some records or boxes refused
    reply: IngestReply


def batch_records(data: dict[str, Any]) -> list[Any]:
    """The batch's `images` list; RequestInvalid when the batch itself is malformed."""
    extra = sorted(set(data) - {"images"})
    if extra:
        raise RequestInvalid([Problem(name, "unknown_field", f"{name} is not a known field; allowed fields: images")
                              for name in extra])
    images = data.get("images")
    if not isinstance(images, list) or not images:
        raise RequestInvalid([Problem("images", "required", "images must be a non-empty list of photo records")])
    if len(images) > MAX_RECORDS:
        raise RequestInvalid([Problem("images", "max_length", f"images has {len(images)} records; at most {MAX_RECORDS}"
                                      " per request")])
    return images


def accept(raw: bytes | str | None) -> Ingested:
    """Store every valid record of the body; RequestInvalid when nothing could be stored."""
    records, problems = [], []
    for index, raw_record in enumerate(batch_records(json_object(raw))):
        record, found = parse_record(raw_record, index)
        problems += found
        if record is not None:
            records.append(record)
    result = store_records(records, problems)  # a service down: 503 from the view's decorator
    if not result.accepted_anything:
        raise RequestInvalid(result.problems or [Problem("images", "nothing_valid", "no record could be stored")])
    reply = IngestReply(
        batch_id=result.batch_id,
        status_url=batches.status_url(result.batch_id),
        images_accepted=result.images_accepted,
        detections=[{"record": d.path, "detection_id": d.detection_id, "duplicate": d.duplicate}
                    for d in result.detections],
        queued_detections=len(result.queued),
        reid_messages=result.message_ids,
        details=[p.as_dict() for p in result.problems],
    )
    return Ingested(207 if result.problems else 202, reply)
