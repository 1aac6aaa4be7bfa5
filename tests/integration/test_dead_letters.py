"""Dead re-ID messages mark what they were about and can be sent back: `deertrack dead-letters` / the
schedule's sweep, then `deertrack redrive reid`."""

from __future__ import annotations

import json

import pytest

from deertrack import db
from deertrack.aws import client
from deertrack.jobs import JobStatus, JobStore
from deertrack.messages import MergeJobMessage
from deertrack.queues import dead_letter_queue_url, receive
from deertrack.settings import get_settings
from infra.cli import main
from tests.reid_helpers import add_location, at, http, put_photo, record, run_reid_queue

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
