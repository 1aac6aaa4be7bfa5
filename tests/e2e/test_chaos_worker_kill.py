"""Chaos: an export worker SIGKILLed in the middle of a ZIP. Its heartbeat stops, the exports queue
(30 s visibility) hands the message to the next worker, which restarts the job; the job completes
with one file. The recovery time (kill -> completed) is printed:

    pytest tests/e2e/test_chaos_worker_kill.py -s
"""

from __future__ import annotations

import signal
import time

import pytest

from deertrack import db
from deertrack.jobs import JobStatus, JobStore
from deertrack.queues import queue_policy
from deertrack.settings import get_settings
from tests.chaos import ZIP, wait_until, worker
from tests.export_data import build, enqueue, export_objects

pytestmark = pytest.mark.e2e


def test_a_killed_workers_job_is_finished_by_the_next_worker_within_a_minute(stack) -> None:
    settings = get_settings()
    with db.connection() as con:
        build(con, detections=600, days=150, upload_images=True, images_bucket=settings.images_bucket)
    visibility = queue_policy(settings.exports_queue_name).visibility_timeout
    store = JobStore()
    job_id = enqueue("zip", ZIP, total=600)
    first = worker("exports")
    second = None
    try:
        assert wait_until(lambda: (j := store.get(job_id)) is not None and j.status is JobStatus.PROCESSING
                     and j.progress.processed > 0, 120), "the first worker never got going"
        at = store.get(job_id).progress.percent
        first.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        first.wait(timeout=10)
        assert store.get(job_id).status is JobStatus.PROCESSING  # frozen mid-job
        second = worker("exports")
        assert wait_until(lambda: store.get(job_id).status is JobStatus.COMPLETED, visibility + 60)
        recovered = time.monotonic() - killed
        print(f"\nworker killed at {at}% of the ZIP; the job completed {recovered:.1f} s after the kill "
              f"(visibility timeout {visibility} s)")
        job = store.get(job_id)
        assert job.attempts == 2
        assert export_objects(job_id) == [job.s3_key]  # one file, no duplicate
        assert recovered < 60
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
