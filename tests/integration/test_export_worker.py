"""The export worker over real Redis, PostgreSQL and the emulator: job flow, redelivery, cancellation,
failures, the dead-letter queue and the reaper (PDF jobs; ZIP and Camtrap DP have their own files)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from deertrack import db
from deertrack.aws import client
from deertrack.jobs import JobStatus, JobStore
from deertrack.queues import dead_letter_queue_url, queue_policy, queue_url
from deertrack.settings import get_settings
from gpu_batch import export_worker
from gpu_batch.export_worker import ExportWorker
from gpu_batch.job_run import ExportFailed
from tests.export_data import build, enqueue, export_bytes, export_objects, pdf_text, receive_one, sql_counts

pytestmark = pytest.mark.integration

START, END = date(2023, 9, 1), date(2023, 12, 31)
SEASONAL = {"report_type": "seasonal_activity", "start_date": START.isoformat(), "end_date": END.isoformat(),
            "group_by": "month"}


@pytest.fixture
def data(stack):
    with db.connection() as con:
        return build(con, detections=240, days=150)


def dead_letters() -> list[dict]:
    sqs = client("sqs")
    url = sqs.get_queue_url(QueueName=get_settings().exports_dead_letter_queue_name)["QueueUrl"]
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                               VisibilityTimeout=0).get("Messages", [])


def test_pdf_job_completes_with_counts_from_sql(data) -> None:
    job_id = enqueue("pdf", SEASONAL)
    outcome = ExportWorker().process_message(receive_one())
    assert outcome.status == "completed", outcome
    job = JobStore().get(job_id)
    assert job.status is JobStatus.COMPLETED
    assert job.filename == "seasonal_activity_2023-09-01_2023-12-31.pdf"
    assert job.s3_key == f"exports/{job_id}/{job.filename}"
    assert export_objects(job_id) == [job.s3_key]
    content = export_bytes(job_id)
    assert job.file_size_bytes == len(content)
    assert job.progress.percent == 100
    with db.connection() as con:
        counts = sql_counts(con, START, END)
    text = pdf_text(content)
    assert f"Detections: {counts['total']:,} (" in text
    for cls in ("buck", "doe", "fawn", "unknown"):
        assert f"{cls} {counts.get(cls, 0):,}" in text
    assert receive_one(visibility_timeout=0, wait_seconds=0) is None  # consumed


def test_redelivery_of_a_finished_job_changes_nothing(data) -> None:
    job_id = enqueue("pdf", SEASONAL)
    message = receive_one(visibility_timeout=0)
    worker = ExportWorker()
    assert worker.process_message(message).status == "completed"
    before = JobStore().get(job_id)
    # The same message delivered again (SQS delivers at least once).
    again = worker.process_message(message)
    assert again.status == "skipped"
    after = JobStore().get(job_id)
    assert after.status is JobStatus.COMPLETED and after.completed_at == before.completed_at
    assert export_objects(job_id) == [before.s3_key]


def test_redelivery_after_a_dead_worker_reclaims_and_makes_one_file(data) -> None:
    job_id = enqueue("pdf", SEASONAL)
    message = receive_one(visibility_timeout=0)
    store = JobStore()
    store.transition(job_id, JobStatus.PROCESSING)  # the first worker claimed it, then died
    outcome = ExportWorker().process_message(message)
    assert outcome.status == "completed"
    job = store.get(job_id)
    assert job.attempts == 2
    assert len(export_objects(job_id)) == 1


def test_cancelled_and_missing_jobs_are_skipped(data) -> None:
    store = JobStore()
    cancelled = enqueue("pdf", SEASONAL)
    store.transition(cancelled, JobStatus.CANCELLED)
    gone = enqueue("pdf", SEASONAL)
    store.delete(gone)
    worker = ExportWorker()
    outcomes = [worker.process_message(receive_one()) for _ in range(2)]
    assert {o.job_id for o in outcomes} == {cancelled, gone}
    assert {o.status for o in outcomes} == {"skipped"}
    assert store.get(cancelled).status is JobStatus.CANCELLED
    assert export_objects() == []


@pytest.mark.parametrize("where", ["queried", "rendered", "before_upload", "uploaded"])
def test_cancel_during_rendering_leaves_no_object(data, where) -> None:
    job_id = enqueue("pdf", SEASONAL)
    store = JobStore()
    seen = []

    def cancel_at(name: str, jid: str) -> None:
        seen.append(name)
        if name == where:
            store.transition(jid, JobStatus.CANCELLED)

    outcome = ExportWorker(on_checkpoint=cancel_at).process_message(receive_one())
    assert outcome.status == "cancelled"
    assert where in seen
    assert store.get(job_id).status is JobStatus.CANCELLED
    assert export_objects(job_id) == []
    assert receive_one(visibility_timeout=0, wait_seconds=0) is None


def test_deleted_job_mid_render_writes_nothing(data) -> None:
    job_id = enqueue("pdf", SEASONAL)
    store = JobStore()

    def delete_at(name: str, jid: str) -> None:
        if name == "rendered":
            store.delete(jid)

    assert ExportWorker(on_checkpoint=delete_at).process_message(receive_one()).status == "cancelled"
    assert store.get(job_id) is None
    assert export_objects(job_id) == []


def test_deleted_deer_fails_with_a_reason(data) -> None:
    request = {**SEASONAL, "report_type": "deer_profile", "deer_id": 999}
    job_id = enqueue("pdf", request)
    outcome = ExportWorker().process_message(receive_one())
    assert outcome.status == "failed"
    job = JobStore().get(job_id)
    assert job.status is JobStatus.FAILED
    assert "deer 999 does not exist" in job.error and "choose another deer" in job.error
    assert receive_one(visibility_timeout=0, wait_seconds=0) is None  # nothing to retry


def test_poisoned_message_is_retried_then_failed_and_dead_lettered(data, monkeypatch) -> None:
    def explode(*args, **kwargs):
        raise RuntimeError("renderer blew up")

    monkeypatch.setattr(export_worker, "render_export", explode)
    job_id = enqueue("pdf", SEASONAL)
    worker = ExportWorker(retry_backoff_seconds=0)
    store = JobStore()
    statuses = []
    for _ in range(3):
        message = receive_one(visibility_timeout=0)
        assert message is not None
        statuses.append(worker.process_message(message).status)
    assert statuses == ["retry", "retry", "failed"]
    job = store.get(job_id)
    assert job.status is JobStatus.FAILED
    assert job.error == "gave up after 3 attempts: RuntimeError: renderer blew up"
    # The queue's redrive moves it to the dead-letter queue on the next receive.
    assert receive_one(visibility_timeout=0, wait_seconds=1) is None
    dead = dead_letters()
    assert [json.loads(m["Body"])["job_id"] for m in dead] == [job_id]


def test_crashed_worker_message_reaches_dlq_and_the_handler_fails_the_job(data) -> None:
    from infra.api_server import load_app_module
    from infra.event_sources import EventPump

    job_id = enqueue("pdf", SEASONAL)
    store = JobStore()
    for _ in range(3):  # three workers each claim it and die without a word
        message = receive_one(visibility_timeout=0)
        assert message is not None
        store.transition(job_id, JobStatus.PROCESSING)
    assert receive_one(visibility_timeout=0, wait_seconds=1) is None
    assert store.get(job_id).status is JobStatus.PROCESSING

    pump = EventPump(app_module=load_app_module())
    route = next(r for r in pump.sqs_routes if r.decl.handler == "app.handle_exports_dead_letter")
    outcome = pump.deliver(route, wait_seconds=1)
    assert outcome.received == 1 and outcome.failed == 0
    job = store.get(job_id)
    assert job.status is JobStatus.FAILED
    assert job.error.startswith("gave up after 3 attempts: the export worker stopped before finishing")
    assert dead_letters() == []  # consumed


def test_dead_letter_handler_consumes_bodies_naming_no_job(stack) -> None:
    from infra.api_server import load_app_module

    app = load_app_module()
    event = {"Records": [{
        "messageId": "m1", "receiptHandle": "r1", "body": "not json", "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:deertrack-test-exports-dlq", "awsRegion": "us-east-1",
    }, {
        "messageId": "m2", "receiptHandle": "r2", "body": json.dumps({"job_id": "finished"}),
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "md5OfBody": "",
        "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:deertrack-test-exports-dlq",
        "awsRegion": "us-east-1",
    }]}
    assert app.handle_exports_dead_letter(event, None) == {"batchItemFailures": []}


def test_malformed_message_without_a_job_is_left_for_the_dead_letter_queue(stack) -> None:
    sqs = client("sqs")
    url = sqs.get_queue_url(QueueName=get_settings().exports_queue_name)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody='{"type": "export.requested"}')
    outcome = ExportWorker().process_message(receive_one(visibility_timeout=0))
    assert outcome.status == "malformed" and not outcome.consume
    assert receive_one(visibility_timeout=0) is not None  # still there: the redrive takes it


def test_malformed_message_of_a_known_job_fails_it(stack) -> None:
    job = JobStore().create("pdf", SEASONAL)
    sqs = client("sqs")
    url = sqs.get_queue_url(QueueName=get_settings().exports_queue_name)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"type": "export.requested", "job_id": job.job_id}))
    outcome = ExportWorker().process_message(receive_one())
    assert outcome.status == "failed"
    assert "malformed" in JobStore().get(job.job_id).error


def test_exports_queue_policy_names_its_dead_letter_queue(stack) -> None:
    settings = get_settings()
    policy = queue_policy(settings.exports_queue_name)
    assert policy.visibility_timeout > 0 and policy.max_receive_count
    assert dead_letter_queue_url(settings.exports_queue_name) == queue_url(settings.exports_dead_letter_queue_name)
    assert dead_letter_queue_url(settings.exports_dead_letter_queue_name) is None


def test_reaper_fails_jobs_without_a_heartbeat(stack) -> None:
    store = JobStore()
    stale = store.create("pdf", SEASONAL)
    store.transition(stale.job_id, JobStatus.PROCESSING)
    fresh = store.create("pdf", SEASONAL)
    queued = store.create("pdf", SEASONAL)
    later = datetime.now(UTC) + timedelta(seconds=900 + export_worker.REAPER_GRACE_SECONDS + 5)
    store.transition(fresh.job_id, JobStatus.PROCESSING)
    # `fresh` beats at `later`, so only `stale` is silent for longer than visibility timeout + grace.
    store.redis.set(  # heartbeat far in the future for `fresh`
        f"{get_settings().redis_key_prefix}export_job:{fresh.job_id}",
        store.get(fresh.job_id).model_copy(update={"heartbeat_at": later}).model_dump_json(), ex=store.ttl)
    reaped = ExportWorker().reap(now=later)
    assert reaped == [stale.job_id]
    job = store.get(stale.job_id)
    assert job.status is JobStatus.FAILED
    assert "stopped responding" in job.error and "submit the export again" in job.error
    assert store.get(fresh.job_id).status is JobStatus.PROCESSING
    assert store.get(queued.job_id).status is JobStatus.QUEUED


def test_reaper_leaves_backfill_jobs_alone(stack) -> None:
    store = JobStore()
    backfill = store.create("backfill", {"limit": 10})
    store.transition(backfill.job_id, JobStatus.PROCESSING)
    later = datetime.now(UTC) + timedelta(seconds=900 + export_worker.REAPER_GRACE_SECONDS + 5)
    assert ExportWorker().reap(now=later) == []
    assert store.get(backfill.job_id).status is JobStatus.PROCESSING


def test_export_failed_reason_reaches_the_job(data, monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise ExportFailed("no detections match the request any more; check the filters")

    monkeypatch.setattr(export_worker, "render_export", refuse)
    job_id = enqueue("pdf", SEASONAL)
    assert ExportWorker().process_message(receive_one()).status == "failed"
    assert JobStore().get(job_id).error == "no detections match the request any more; check the filters"


def test_worker_command_handles_the_queue_once(data, capsys) -> None:
    from infra.cli import main

    first, second = enqueue("pdf", SEASONAL), enqueue("pdf", {**SEASONAL, "group_by": "week"})
    assert main(["worker", "exports", "--once", "--wait-seconds", "1"]) == 0
    assert "handled 2 export messages" in capsys.readouterr().out
    assert {JobStore().get(j).status for j in (first, second)} == {JobStatus.COMPLETED}


def test_worker_process_renders_jobs_and_stops_on_sigterm(data) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    job_id = enqueue("pdf", SEASONAL)
    worker = subprocess.Popen([sys.executable, "-m", "gpu_batch.export_worker", "--wait-seconds", "20"],
                              env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and JobStore().get(job_id).status is not JobStatus.COMPLETED:
            time.sleep(0.2)
        assert JobStore().get(job_id).status is JobStatus.COMPLETED
        time.sleep(0.5)  # back to its (20 s) long poll
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=8) == 0  # the idle poll ends at once
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def test_two_live_attempts_leave_one_file_and_a_completed_job(data) -> None:
    job_id = enqueue("pdf", SEASONAL)
    message = receive_one(visibility_timeout=0)
    second: list[str] = []

    def overtaken(name: str, jid: str) -> None:
        if name == "rendered" and not second:  # a redelivery finishes first (the first worker looked dead)
            second.append(ExportWorker().process_message(message).status)

    first = ExportWorker(on_checkpoint=overtaken).process_message(message)
    assert second == ["completed"]
    assert first.status == "skipped" and first.detail == "completed by another attempt"
    job = JobStore().get(job_id)
    assert job.status is JobStatus.COMPLETED
    assert export_objects(job_id) == [job.s3_key]


def test_a_job_whose_status_redis_lost_is_rebuilt_from_its_message_and_completes(data) -> None:
    from deertrack.jobs import job_key

    store = JobStore()
    job_id = enqueue("pdf", SEASONAL)
    created = store.get(job_id)
    store.redis.delete(job_key(job_id))  # what a Redis restart without persistence does
    assert store.get(job_id) is None and store.tombstone(job_id) is None
    outcome = ExportWorker().process_message(receive_one())
    assert outcome.status == "completed", outcome
    job = store.get(job_id)  # the user's GET shows it again
    assert job.status is JobStatus.COMPLETED and job.created_at == created.created_at
    assert job.request == created.request and job.type == "pdf"
    assert export_objects(job_id) == [job.s3_key]


def test_a_deleted_or_cancelled_job_leaves_a_tombstone_and_is_never_rebuilt(data) -> None:
    store = JobStore()
    deleted, cancelled = enqueue("pdf", SEASONAL), enqueue("pdf", SEASONAL)
    store.delete(deleted)
    store.bury(cancelled, "cancelled")
    store.delete(cancelled, "cancelled")
    worker = ExportWorker()
    outcomes = {o.job_id: o for o in (worker.process_message(receive_one()) for _ in range(2))}
    assert outcomes[deleted].detail == "job deleted" and outcomes[cancelled].detail == "job cancelled"
    assert {o.status for o in outcomes.values()} == {"skipped"}
    assert store.get(deleted) is None and store.get(cancelled) is None and export_objects() == []


def test_a_retry_whose_message_the_queue_lost_is_sent_again(stack) -> None:
    """The emulator restarted empty while the attempt ran: the queue (made again) no longer holds the message."""
    from infra.resources import create_resources
    from infra.template import declarations

    job_id = enqueue("zip", {"detection_ids": [1]})
    message = receive_one()
    assert message is not None
    stack.emulator.reset()  # everything gone, as after a restart
    create_resources(declarations("test"))  # what the stack's service watch does next
    worker = ExportWorker(retry_backoff_seconds=0)
    worker._delay_retry(message, export_worker.Outcome("retry", False, job_id, "AWS unreachable"))
    again = receive_one(wait_seconds=5)
    assert again is not None and again.body == message.body
    assert json.loads(again.body)["job_id"] == job_id
