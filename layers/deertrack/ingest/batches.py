"""How far an ingest batch has got: GET /api/ingest/{batch_id}, the `Location` of POST /api/detections.

A batch is what one request (or one MegaDetector file) stored, or found already stored: its detections in the
order of the answer's `detections` (deertrack/ingest/store.py records them). Its view counts them by re-ID
status and lists each one with its status and deer; `done` is true once none is `pending` (each ended
assigned, a new deer, left for review, skipped or failed: `reid_note` says why on the detection).
"""

from __future__ import annotations

import re
from typing import Any, Final

import pg8000.native

#: The re-ID statuses a detection can have, in the order the view counts them.
REID_STATUSES: Final = ("pending", "assigned", "new_deer", "needs_review", "skipped", "failed")
#: What a batch id looks like (the ids this service makes are 32 hex digits); anything else is no batch.
BATCH_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def status_url(batch_id: str) -> str:
    return f"/api/ingest/{batch_id}"


def batch_view(con: pg8000.native.Connection, batch_id: str) -> dict[str, Any] | None:
    """The batch with its detections' re-ID progress; None when there is no such batch."""
    if not BATCH_ID.fullmatch(batch_id):
        return None
    found = con.run("SELECT created_at, images_accepted, refused, detection_ids FROM ingest_batches"
                    " WHERE batch_id = :id", id=batch_id)
    if not found:
        return None
    created_at, images, refused, ids = found[0]
    rows = con.run("SELECT d.id, d.reid_status, d.deer_id FROM unnest(CAST(:ids AS BIGINT[])) WITH ORDINALITY"
                   " AS x (id, n) JOIN detections d ON d.id = x.id ORDER BY x.n", ids=list(ids or []))
    counts = dict.fromkeys(REID_STATUSES, 0)
    for _, status, _ in rows:
        counts[status] = counts.get(status, 0) + 1
    return {
        "batch_id": batch_id,
        "created_at": created_at.isoformat(),
        "images_accepted": images,
        "refused": refused,
        "detections": len(rows),
        "reid": counts,
        "done": counts["pending"] == 0,
        "items": [{"detection_id": i, "reid_status": status, "deer_id": deer} for i, status, deer in rows],
    }
