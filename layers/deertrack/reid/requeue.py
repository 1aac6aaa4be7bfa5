"""Put detections that are still `pending` on the re-ID queue, in time order, in burst-whole batches.

This is how detections that were stored without going through ingest (the demo data set, an
import) reach the re-ID worker, which then assigns them exactly as it assigns new uploads. A batch
is cut only where the next detection is more than a burst gap (BURST_SECONDS) later than the
previous one, so no burst is split between two messages; `wait_for` lets a caller send the next
batch only once the worker has committed this one, so the gallery grows in time order as the
evaluation replays it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import timedelta

import pg8000.native

from deertrack.messages import ReidBatchMessage
from deertrack.queues import send
from deertrack.reid.bursts import BURST_SECONDS

DEFAULT_BATCH = 256


def pending_batches(con: pg8000.native.Connection, batch_size: int = DEFAULT_BATCH,
                    burst_seconds: float = BURST_SECONDS) -> list[list[int]]:
    """Ids of pending detections in capture-time order, cut into batches between bursts."""
    rows = con.run("SELECT d.id, i.captured_at FROM detections d JOIN images i ON i.id = d.image_id"
                   " WHERE d.reid_status = 'pending' ORDER BY i.captured_at, d.id")
    gap = timedelta(seconds=burst_seconds)
    batches: list[list[int]] = []
    current: list[int] = []
    previous = None
    for detection_id, captured_at in rows:
        if current and len(current) >= batch_size and captured_at - previous > gap:
            batches.append(current)
            current = []
        current.append(int(detection_id))
        previous = captured_at
    if current:
        batches.append(current)
    return batches


def enqueue(batch: Sequence[int], batch_id: str, queue_name: str | None = None) -> str:
    """One reid.batch message; returns its message id."""
    from deertrack.settings import get_settings

    return send(queue_name or get_settings().reid_queue_name,
                ReidBatchMessage(batch_id=batch_id, detection_ids=list(batch)))


def still_pending(con: pg8000.native.Connection, ids: Sequence[int]) -> int:
    return int(con.run("SELECT count(*) FROM detections WHERE id = ANY(CAST(:ids AS BIGINT[]))"
                       " AND reid_status = 'pending'", ids=list(ids))[0][0])


def wait_for(con: pg8000.native.Connection, ids: Sequence[int], timeout_s: float,
             poll_s: float = 0.25, stop: Callable[[], bool] | None = None) -> bool:
    """Wait until none of `ids` is pending any more; whether that happened within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if still_pending(con, ids) == 0:
            return True
        if stop is not None and stop():
            return False
        time.sleep(poll_s)
    return still_pending(con, ids) == 0
