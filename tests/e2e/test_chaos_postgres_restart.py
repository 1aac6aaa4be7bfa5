"""Chaos: PostgreSQL restarted (fast shutdown, then started again on the same port and data directory) while
an export worker renders a ZIP, a second export worker starts a Camtrap DP package, and the re-ID worker
is in the middle of a batch, holding its connection.

The fast shutdown ends every connection (57P01). The Camtrap DP attempt that finds the server down, and the
re-ID batch whose connection died under it, fail their attempt and leave their message to the queue, which
delivers it again; the next attempt, on a fresh connection, finishes. Every job ends completed (or failed with
a reason), nothing stays pending, no score row, deer or detection is doubled, and the exports bucket holds
one file per completed job. The recovery time is printed:

    pytest tests/e2e/test_chaos_postgres_restart.py -s
"""

from __future__ import annotations

import time
import uuid

import pytest

from deertrack import db
from deertrack.exports.failures import last_error
from deertrack.jobs import JobStore
from deertrack.messages import ReidBatchMessage
from deertrack.queues import queue_url, send
from deertrack.settings import get_settings
from tests.chaos import CAMTRAP_DP, ZIP, check_outputs, ended, log_tail, running, stop, wait_until, worker
from tests.export_data import build, enqueue

pytestmark = pytest.mark.e2e

DETECTIONS = 600


def _in_flight(queue_name: str) -> int:
    from deertrack.aws import client

    attributes = client("sqs").get_queue_attributes(QueueUrl=queue_url(queue_name),
                                                    AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"])


def _open(ids: list[int]) -> int:
    with db.connection() as con:
        return con.run("SELECT count(*) FROM detections WHERE id = ANY(CAST(:ids AS BIGINT[])) "
                       "AND reid_status = 'pending'", ids=ids)[0][0]


def test_jobs_survive_postgres_restarting_mid_job(throwaway_postgres, throwaway_redis, tmp_path) -> None:
    settings = get_settings()
    with db.connection() as con:
        data = build(con, detections=DETECTIONS, days=150, upload_images=True, images_bucket=settings.images_bucket)
        pending = [r[0] for r in con.run("SELECT id FROM detections WHERE reid_status = 'pending' ORDER BY id")]
    store = JobStore()
    zip_job = enqueue("zip", ZIP, total=DETECTIONS)
    send(settings.reid_queue_name, ReidBatchMessage(batch_id=f"chaos-{uuid.uuid4().hex[:8]}", detection_ids=pending))
    reid_log = tmp_path / "reid-worker.log"
    # The second export worker stays idle, for the Camtrap DP job sent while the server is down.
    workers = [worker("exports"), worker("exports")]
    try:
        assert wait_until(lambda: running(store, zip_job), 120), "the export worker never got going"
        # The re-ID worker starts last, and the restart follows its first receive at once: its batch takes
        # seconds, and it must still be in the middle of it when the server goes.
        workers.append(worker("reid", reid_log))
        assert wait_until(lambda: _in_flight(settings.reid_queue_name) == 1, 120, every=0.05), (
            "the re-ID worker never got going")
        assert _open(pending) == len(pending), "the re-ID batch was done before the restart"
        throwaway_postgres.stop()  # SIGINT to the postmaster: PostgreSQL's fast shutdown
        down = time.monotonic()
        camtrap_job = enqueue("camtrap-dp", CAMTRAP_DP, total=DETECTIONS)
        noticed = wait_until(lambda: last_error(store, camtrap_job) is not None, 15)
        throwaway_postgres.start()  # same port, same data directory
        up = time.monotonic()
        jobs = [zip_job, camtrap_job]
        assert wait_until(lambda: all(ended(store, j) for j in jobs) and _open(pending) == 0, 150, every=0.2), (
            [store.get(j) for j in jobs], _open(pending))
        recovered = time.monotonic() - up
        finished = check_outputs(store, jobs)
        reid_lines = reid_log.read_text(errors="replace")
        left = reid_lines.count("message not handled; the queue will redeliver it")
        print(f"\nPostgreSQL down {up - down:.1f} s (fast shutdown, start on the same port) mid-ZIP and mid-re-ID; "
              f"every job ended {recovered:.1f} s after it was back: "
              + ", ".join(f"{j.type} {j.status.value} (attempt {j.attempts})" for j in finished)
              + f", re-ID batch of {len(pending)} detections done (attempt {left + 1})"
              + ("" if noticed else " (the Camtrap DP attempt did not meet the outage)"))
        assert noticed, "the Camtrap DP attempt never met the outage"
        assert left >= 1, f"the re-ID batch never met the outage:\n{log_tail(reid_log)}"  # and was not consumed
        assert reid_lines.count("re-ID message done") == 1
    finally:
        stop(*workers)
    with db.connection() as con:
        assert con.run("SELECT count(*) FROM detections")[0][0] == DETECTIONS  # none doubled
        assert con.run("SELECT count(*) FROM detections WHERE reid_status = 'pending'")[0][0] == 0
        assert con.run("SELECT count(*) FROM (SELECT 1 FROM reid_similarity_scores GROUP BY detection_id, deer_id "
                       "HAVING count(*) > 1) AS doubled")[0][0] == 0
        scored = con.run("SELECT count(DISTINCT detection_id) FROM reid_similarity_scores")[0][0]
        assert scored > 0  # the batch was scored, once
        orphans = con.run("SELECT id FROM deer d WHERE NOT EXISTS (SELECT 1 FROM detections WHERE deer_id = d.id)")
        assert orphans == [], "a deer made by a failed attempt was left behind"
        assert len(data.deer_ids) <= con.run("SELECT count(*) FROM deer")[0][0]
