"""What the chaos tests (tests/e2e/test_chaos_*.py) share: batch workers as real processes, throwaway
Redis and PostgreSQL servers of the test's own (the dev stack's classes, infra/services.py), waiting,
and the end-of-run checks (every job terminal, one file per completed job, no orphaned object).

The fixtures that start the servers are in tests/e2e/conftest.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from deertrack.jobs import Job, JobStatus, JobStore
from tests.export_data import export_objects

#: A ZIP of crops over the whole export data set (tests/export_data.py): several seconds of work.
ZIP = {"filters": {"start_date": "2023-09-01", "end_date": "2024-01-31"}, "crop_size": 512}
CAMTRAP_DP = {"filters": {"start_date": "2023-09-01", "end_date": "2024-01-31"}}


def wait_until(predicate: Callable[[], object], timeout: float, every: float = 0.05) -> bool:
    """Poll `predicate` until it is true (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


def worker(kind: str, log: Path | None = None) -> subprocess.Popen[bytes]:
    """`python -m gpu_batch.<kind>_worker` (exports or reid) on this test's environment, 1 s long polls; its
    output (JSON log lines) goes to `log` when given."""
    module = {"exports": "gpu_batch.export_worker", "reid": "gpu_batch.reid.worker"}[kind]
    output = log.open("ab") if log is not None else subprocess.DEVNULL
    env = {**os.environ, "LOG_LEVEL": "INFO"} if log is not None else os.environ.copy()
    return subprocess.Popen([sys.executable, "-m", module, "--wait-seconds", "1"], env=env,
                            stdout=output, stderr=subprocess.STDOUT)


def log_tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else "(no log)"


def stop(*processes: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM (a worker finishes the message in hand), then SIGKILL after 10 s."""
    for process in processes:
        if process is not None and process.poll() is None:
            process.terminate()
    for process in processes:
        if process is None:
            continue
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def running(store: JobStore, job_id: str) -> bool:
    """The job is `processing` and has made progress."""
    job = store.get(job_id)
    return job is not None and job.status is JobStatus.PROCESSING and job.progress.processed > 0


def ended(store: JobStore, job_id: str) -> bool:
    """The job is `completed`, `failed` (with a reason) or `cancelled`."""
    job = store.get(job_id)
    return job is not None and job.is_terminal


def check_outputs(store: JobStore, job_ids: list[str]) -> list[Job]:
    """Every job ended completed, or failed with a reason; a completed one left exactly its file, a failed one
    nothing; and the exports bucket holds nothing else. Returns the jobs."""
    jobs = [store.get(job_id) for job_id in job_ids]
    expected: list[str] = []
    for job_id, job in zip(job_ids, jobs, strict=True):
        assert job is not None, f"job {job_id} lost its status"
        assert job.status in (JobStatus.COMPLETED, JobStatus.FAILED), (job_id, job.status)
        if job.status is JobStatus.FAILED:
            assert job.error, f"job {job_id} failed without a reason"
            assert export_objects(job_id) == []
        else:
            assert export_objects(job_id) == [job.s3_key]  # one file, no duplicate
            expected.append(job.s3_key)
    assert sorted(export_objects()) == sorted(expected)  # no orphaned object
    return [job for job in jobs if job is not None]
