"""The job store against the real Redis: key, TTL on every write, one-way transitions."""

from __future__ import annotations

import json
import threading

import pytest

from deertrack.jobs import InvalidTransition, JobNotFound, JobStatus, JobStore, job_key
from deertrack.redis_client import get_redis

pytestmark = pytest.mark.integration


def test_created_job_lives_under_export_job_key_with_ttl(stack) -> None:
    store = JobStore(ttl_seconds=120)
    job = store.create("pdf", {"report_type": "seasonal_activity"}, total=10)
    raw = get_redis().get(job_key(job.job_id))
    assert job_key(job.job_id).endswith(f"export_job:{job.job_id}")
    assert json.loads(raw)["status"] == "queued"
    assert 0 < get_redis().ttl(job_key(job.job_id)) <= 120


def test_every_write_renews_the_ttl(stack) -> None:
    store = JobStore(ttl_seconds=120)
    job = store.create("zip", {})
    get_redis().expire(job_key(job.job_id), 5)
    store.transition(job.job_id, JobStatus.PROCESSING)
    assert get_redis().ttl(job_key(job.job_id)) > 100
    get_redis().expire(job_key(job.job_id), 5)
    store.progress(job.job_id, 3, 4)
    assert get_redis().ttl(job_key(job.job_id)) > 100


def test_lifecycle_and_progress_never_over_100(stack) -> None:
    store = JobStore()
    job = store.create("zip", {}, total=4)
    store.transition(job.job_id, JobStatus.PROCESSING)
    assert store.progress(job.job_id, 9, 4).progress.percent == 100.0
    done = store.transition(job.job_id, JobStatus.COMPLETED, filename="a.zip", file_size_bytes=10)
    assert done.completed_at is not None
    assert done.filename == "a.zip"
    assert done.attempts == 1


@pytest.mark.parametrize("terminal", [JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED])
def test_terminal_state_is_never_left(stack, terminal: JobStatus) -> None:
    store = JobStore()
    job = store.create("pdf", {})
    store.transition(job.job_id, JobStatus.PROCESSING)
    store.transition(job.job_id, terminal)
    for target in JobStatus:
        if target is JobStatus.QUEUED:
            continue
        with pytest.raises(InvalidTransition):
            store.transition(job.job_id, target)
    assert store.get(job.job_id).status is terminal


def test_concurrent_cancel_and_complete_one_wins(stack) -> None:
    store = JobStore()
    outcomes: list[str] = []
    for _ in range(20):
        job = store.create("pdf", {})
        store.transition(job.job_id, JobStatus.PROCESSING)

        def attempt(status: JobStatus, job_id: str = job.job_id) -> None:
            try:
                JobStore().transition(job_id, status)
                outcomes.append(status.value)
            except InvalidTransition:
                pass

        threads = [threading.Thread(target=attempt, args=(s,)) for s in (JobStatus.COMPLETED, JobStatus.CANCELLED)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(outcomes) == 20


def test_missing_job(stack) -> None:
    store = JobStore()
    assert store.get("nope") is None
    with pytest.raises(JobNotFound):
        store.transition("nope", JobStatus.PROCESSING)
    assert store.delete("nope") is False
