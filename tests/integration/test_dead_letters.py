"""Dead messages of every queue mark what they were about and can be sent back: `deertrack dead-letters` /
the schedule's sweep, then `deertrack redrive QUEUE` (reid, exports, export-requests, image-events)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest

from deertrack import db, storage
from deertrack.aws import client
from deertrack.jobs import JobStatus, JobStore
from deertrack.messages import MergeJobMessage
from deertrack.queues import dead_letter_queue_url, queue_url, receive
from deertrack.settings import get_settings
from infra.api_server import load_app_module
from infra.cli import main
from tests.conftest import reset_caches
from tests.export_api_client import ZIP_FILTERS, seed
from tests.export_data import enqueue, receive_one
from tests.reid_helpers import (
    HEIGHT,
    WIDTH,
    add_location,
    at,
    deer_photo,
    http,
    put_image,
    put_photo,
    record,
    run_reid_queue,
)
from tests.s3_events_helpers import lambda_sqs_event, s3_notification_event

pytestmark = pytest.mark.integration


def _to_dead_letters(body: str, error: str) -> None:
    """What SQS does after maxReceiveCount failed deliveries (the worker's error kept as an attribute)."""
    client("sqs").send_message(QueueUrl=dead_letter_queue_url(get_settings().reid_queue_name), MessageBody=body,
                               MessageAttributes={"error": {"DataType": "String", "StringValue": error}})


def _detection() -> dict:
    with db.connection() as con:
        return db.rows_as_dicts(con, "SELECT id, reid_status, reid_note, deer_id FROM detections")[0]


def test_a_dead_batch_fails_its_detections_stays_alarmed_and_is_redriven_after_a_fix(api, embedder, capsys,
                                                                                       monkeypatch) -> None:
    monkeypatch.setenv("REID_MODEL_URI", "builtin")
    add_location("C1")
    status, _ = http("POST", f"{api}/api/detections",
                     {"images": [record("dl/a.jpg", at(0), "C1", put_photo("dl/a.jpg", 0, 1))]})
    assert status == 202
    (message,) = receive(get_settings().reid_queue_name, wait_seconds=0)
    client("sqs").delete_message(QueueUrl=client("sqs").get_queue_url(
        QueueName=get_settings().reid_queue_name)["QueueUrl"], ReceiptHandle=message.receipt_handle)
    _to_dead_letters(message.body, "OperationalError: could not connect to S3")
    assert _detection()["reid_status"] == "pending"

    assert main(["dead-letters", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["messages"] == 1 and report["detections_failed"] == 1
    failed = _detection()
    assert failed["reid_status"] == "failed"
    assert "reached the dead-letter queue" in failed["reid_note"] and "could not connect to S3" in failed["reid_note"]
    assert main(["dead-letters", "--json"]) == 0  # idempotent, and the message is still there (alarm stays up)
    again = json.loads(capsys.readouterr().out)
    assert again["messages"] == 1 and again["detections_failed"] == 0

    assert main(["redrive", "reid"]) == 0
    assert "moved 1 message(s)" in capsys.readouterr().out
    assert _detection()["reid_status"] == "pending"
    run_reid_queue(embedder)
    done = _detection()
    assert done["reid_status"] == "new_deer" and done["deer_id"] is not None


def test_a_dead_merge_job_is_failed_with_the_reason(stack, capsys) -> None:
    store = JobStore()
    job = store.create("reid-merge", {"auto": None})
    _to_dead_letters(MergeJobMessage(job_id=job.job_id).model_dump_json(), "deadlock detected")
    assert main(["dead-letters"]) == 0
    assert "jobs failed: " + job.job_id in capsys.readouterr().out
    failed = store.get(job.job_id)
    assert failed.status is JobStatus.FAILED and "deadlock detected" in failed.error


# ------------------------------------------------------------------------------------------ Lambda-fed queues

NOWHERE = "postgresql://deertrack@127.0.0.1:1/nowhere"


def _database_down(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """PostgreSQL unreachable for what follows; the returned function is the fix (it is reachable again)."""
    working = get_settings().database_url
    monkeypatch.setenv("DATABASE_URL", NOWHERE)
    reset_caches()

    def fix() -> None:
        monkeypatch.setenv("DATABASE_URL", working or os.environ.get("DATABASE_URL", ""))
        reset_caches()

    return fix


def _deliver_until_dead(queue_name: str, handler: Callable[[dict[str, Any], Any], dict[str, Any]]) -> int:
    """What SQS and Lambda do with a notification whose handler fails: deliver it maxReceiveCount times
    (each attempt reported in batchItemFailures), then the queue's redrive moves it to its dead-letter queue."""
    sqs = client("sqs")
    deliveries = 0
    for _ in range(6):
        messages = []
        for m in sqs.receive_message(QueueUrl=queue_url(queue_name), MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                     VisibilityTimeout=0, AttributeNames=["All"],
                                     MessageAttributeNames=["All"]).get("Messages", []):
            if json.loads(m["Body"]).get("Event") == "s3:TestEvent":  # sent when the notification was set up
                sqs.delete_message(QueueUrl=queue_url(queue_name), ReceiptHandle=m["ReceiptHandle"])
            else:
                messages.append(m)
        if not messages:
            break
        answer = handler(lambda_sqs_event(messages, queue_name), None)
        assert len(answer["batchItemFailures"]) == len(messages) == 1
        deliveries += 1
    return deliveries


def _dead(queue_name: str) -> list[dict]:
    url = dead_letter_queue_url(queue_name)
    assert url is not None
    return client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                         VisibilityTimeout=0).get("Messages", [])


def _sweep(capsys: pytest.CaptureFixture[str], *queue: str) -> dict[str, Any]:
    assert main(["dead-letters", *queue, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_dead_import_notification_fails_its_outcome_and_is_redriven_after_a_fix(stack, monkeypatch,
                                                                                   capsys) -> None:
    settings = get_settings()
    add_location("CAM-01")
    photo, (x, y, w, h) = deer_photo(0, seed=3, exif_time=at(0))
    put_image("images/dl/CAM-01/IMG_0.JPG", photo)
    key = "detections/dl/results.json"
    results = {"images": [{"file": "CAM-01/IMG_0.JPG", "detections": [
        {"category": "1", "conf": 0.9, "bbox": [x / WIDTH, y / HEIGHT, w / WIDTH, h / HEIGHT]}]}],
        "detection_categories": {"1": "animal"}, "info": {"format_version": "1.3"}}
    storage.put_bytes(settings.images_bucket, key, json.dumps(results).encode(), "application/json")
    fix = _database_down(monkeypatch)
    handler = load_app_module().handle_image_event
    assert _deliver_until_dead(settings.image_events_queue_name, handler) == 3
    assert len(_dead(settings.image_events_queue_name)) == 1
    fix()

    report = _sweep(capsys)
    assert report["messages"] == 1 and report["imports_failed"] == [f"s3://{settings.images_bucket}/{key}"]
    outcome = json.loads(storage.get_bytes(settings.images_bucket, "import-results/" + key))
    assert outcome["status"] == "failed" and outcome["key"] == key
    assert "reached the dead-letter queue after 3 deliveries: DatabaseUnavailable" in outcome["error"]
    assert "deertrack redrive image-events" in outcome["error"]
    again = _sweep(capsys, "image-events")  # idempotent; the message stays (its alarm stays up)
    assert again["messages"] == 1 and again["imports_failed"] == []

    assert main(["redrive", "image-events"]) == 0
    assert "moved 1 message(s)" in capsys.readouterr().out
    assert _dead(settings.image_events_queue_name) == []
    assert handler(s3_notification_event(settings.image_events_queue_name), None) == {"batchItemFailures": []}
    outcome = json.loads(storage.get_bytes(settings.images_bucket, "import-results/" + key))
    assert outcome["status"] == "imported" and outcome["detections"] == 1
    with db.connection() as con:
        assert con.run("SELECT reid_status FROM detections") == [["pending"]]


def test_a_dead_export_request_says_failed_in_its_result_and_is_redriven_after_a_fix(stack, monkeypatch,
                                                                                     capsys) -> None:
    settings = get_settings()
    seed()
    key = "export-requests/dl archive.json"
    client("s3").put_object(Bucket=settings.requests_bucket, Key=key,
                            Body=json.dumps({"export_type": "zip", **ZIP_FILTERS}).encode())
    fix = _database_down(monkeypatch)
    handler = load_app_module().handle_export_request
    assert _deliver_until_dead(settings.export_requests_queue_name, handler) == 3
    fix()

    report = _sweep(capsys, "export-requests")
    assert report["requests_failed"] == [f"s3://{settings.requests_bucket}/{key}"]
    result = json.loads(storage.get_bytes(settings.requests_bucket, "export-requests/dl archive.result.json"))
    assert result["status"] == "failed" and result["error"] == "dead_letter" and result["request_key"] == key
    assert "after 3 deliveries: TransientFailure" in result["message"] and "postgres" in result["message"]
    assert result["dead_letter"]["redrive"] == "deertrack redrive export-requests"
    assert _sweep(capsys, "export-requests")["requests_failed"] == []  # idempotent

    assert main(["redrive", "export-requests"]) == 0
    assert "moved 1 message(s)" in capsys.readouterr().out
    event = s3_notification_event(settings.export_requests_queue_name, expected=2)  # and the failed result's put
    assert handler(event, None) == {"batchItemFailures": []}
    result = json.loads(storage.get_bytes(settings.requests_bucket, "export-requests/dl archive.result.json"))
    assert result["status"] == "queued"
    assert JobStore().get(result["job_id"]).status is JobStatus.QUEUED


def test_a_dead_export_message_fails_its_job_and_redrive_returns_it_to_the_exports_queue(stack, capsys) -> None:
    settings = get_settings()
    job_id = enqueue("pdf", {"report_type": "seasonal_activity", "start_date": "2024-09-01",
                             "end_date": "2024-11-30"})
    store = JobStore()
    for _ in range(3):  # three workers each claim it and die without a word
        assert receive_one(visibility_timeout=0) is not None
        store.transition(job_id, JobStatus.PROCESSING)
    assert receive_one(visibility_timeout=0, wait_seconds=1) is None

    report = _sweep(capsys)  # before (or without) the exports dead-letter function
    assert report["jobs_failed"] == [job_id]
    job = store.get(job_id)
    assert job.status is JobStatus.FAILED and job.error.startswith("gave up after 3 attempts")
    assert _sweep(capsys, "exports")["jobs_failed"] == []

    assert main(["redrive", "exports"]) == 0
    assert "moved 1 message(s)" in capsys.readouterr().out
    assert _dead(settings.exports_queue_name) == []
    back = receive_one(wait_seconds=1)
    assert back is not None and json.loads(back.body)["job_id"] == job_id
    assert store.get(job_id).status is JobStatus.FAILED  # a failed job is final: the user submits it again


def test_dead_backfill_shards_fail_their_run_naming_each_shard_and_the_redriven_run_completes(stack,
                                                                                             capsys) -> None:
    from deertrack.backfill import enqueue, runs
    from deertrack.backfill.scope import BackfillScope
    from deertrack.messages import parse_message
    from deertrack.queues import drain
    from gpu_batch.backfill.job import process_backfill_message
    from infra.bench import synthetic

    queue = get_settings().reid_queue_name
    with db.connection() as con:
        synthetic.load(con, detections=60, deer=7, dim=16, seed=3)
        state = enqueue.enqueue_run(con, BackfillScope(), trigger="schedule", shard_size=20)
    first, *dead = list(drain(queue))
    assert len(dead) == 2
    process_backfill_message(first, parse_message(first.body))  # one shard done; two never get through
    for message in dead:
        _to_dead_letters(message.body, "OperationalError: server closed the connection")

    report = _sweep(capsys, "reid")
    assert sorted(report["runs_failed"]) == sorted(f"{state.run_id} shard {parse_message(m.body).shard}"
                                                   for m in dead)
    with db.connection() as con:
        run = runs.get_run(con, state.run_id)
    assert run is not None and run.status == "failed" and run.done_shards == 1 and run.error is not None
    error = run.error
    for message in dead:
        shard = parse_message(message.body)
        assert f"shard {shard.shard} (detections {shard.first_detection_id}-{shard.last_detection_id})" in error
    assert "server closed the connection" in error
    assert _sweep(capsys, "reid")["runs_failed"] == []  # idempotent

    assert main(["redrive", "reid"]) == 0
    assert "moved 2 message(s)" in capsys.readouterr().out
    for message in drain(queue):
        process_backfill_message(message, parse_message(message.body))
    with db.connection() as con:
        assert runs.get_run(con, state.run_id).status == "completed"
