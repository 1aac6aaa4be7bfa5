"""Chaos: the job store's Redis is killed in the middle of a ZIP and comes back empty (what a cache-only
restart does). The worker's attempt fails, the queue delivers the message again, the worker finds
neither status nor tombstone, rebuilds the status from the message and finishes the job: one file, and
the user's GET shows the job again. The recovery time is printed:

    pytest tests/e2e/test_chaos_redis_restart.py -s
"""

from __future__ import annotations

import signal
import time

import pytest

from deertrack import db
from deertrack.jobs import JobStatus, JobStore
from deertrack.settings import get_settings
from tests.chaos import ZIP, stop, worker
from tests.export_data import build, enqueue, export_objects

pytestmark = pytest.mark.e2e


def test_a_job_survives_its_redis_restarting_empty_mid_render(throwaway_redis) -> None:
    settings = get_settings()
    with db.connection() as con:
        build(con, detections=600, days=150, upload_images=True, images_bucket=settings.images_bucket)
    store = JobStore()
    job_id = enqueue("zip", ZIP, total=600)
    export_worker = worker("exports")
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            job = store.get(job_id)
            if job is not None and job.status is JobStatus.PROCESSING and job.progress.processed > 0:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the worker never got going")
        throwaway_redis.process.send_signal(signal.SIGKILL)
        throwaway_redis.process.wait()
        lost = time.monotonic()
        throwaway_redis.restart()  # back on the same port, empty
        assert store.get(job_id) is None  # GET would answer 404 now
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            job = store.get(job_id)
            if job is not None and job.status is JobStatus.COMPLETED:
                break
            time.sleep(0.1)
        recovered = time.monotonic() - lost
        assert job is not None and job.status is JobStatus.COMPLETED, job
        print(f"\nRedis restarted empty mid-ZIP; the job was rebuilt and completed {recovered:.1f} s later")
        assert export_objects(job_id) == [job.s3_key]  # one file, no duplicate
    finally:
        stop(export_worker)
