"""Chaos: the job store's Redis is killed in the middle of a ZIP and comes back empty (what a cache-only
restart does). The worker's attempt fails, the queue delivers the message again, the worker finds
neither status nor tombstone, rebuilds the status from the message and finishes the job: one file, and
the user's GET shows the job again. The recovery time is printed:

    pytest tests/e2e/test_chaos_redis_restart.py -s
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import redis

from deertrack import db
from deertrack.jobs import JobStatus, JobStore
from deertrack.settings import get_settings
from infra.ports import free_port
from tests.conftest import reset_caches
from tests.export_data import build, enqueue, export_objects

pytestmark = pytest.mark.e2e

ZIP = {"filters": {"start_date": "2023-09-01", "end_date": "2024-01-31"}, "crop_size": 512}


def _redis_server(port: int, workdir: str) -> subprocess.Popen:
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", workdir],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            return server
        except redis.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError("throwaway redis-server did not start")


@pytest.fixture
def own_redis(stack, monkeypatch, tmp_path) -> Iterator[tuple[int, list[subprocess.Popen]]]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    servers = [_redis_server(port, str(tmp_path))]
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{port}/0")
    reset_caches()
    yield port, servers
    for server in servers:
        if server.poll() is None:
            server.kill()
            server.wait()
    reset_caches()


def test_a_job_survives_its_redis_restarting_empty_mid_render(own_redis, tmp_path) -> None:
    port, servers = own_redis
    settings = get_settings()
    with db.connection() as con:
        build(con, detections=600, days=150, upload_images=True, images_bucket=settings.images_bucket)
    store = JobStore()
    job_id = enqueue("zip", ZIP, total=600)
    worker = subprocess.Popen([sys.executable, "-m", "gpu_batch.export_worker", "--wait-seconds", "1"],
                              env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            job = store.get(job_id)
            if job is not None and job.status is JobStatus.PROCESSING and job.progress.processed > 0:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the worker never got going")
        servers[0].send_signal(signal.SIGKILL)
        servers[0].wait()
        lost = time.monotonic()
        servers.append(_redis_server(port, str(tmp_path)))  # back, empty
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
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
