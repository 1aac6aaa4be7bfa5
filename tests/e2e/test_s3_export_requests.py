"""S3-triggered exports end to end through the emulator: put a request under export-requests/ →
the bucket's notification lands on the export-requests queue → `app.handle_export_request` gets a
Lambda-shaped SQS event built from the received messages → the job is queued and
`<name>.result.json` is written next to the request."""

from __future__ import annotations

import json
from typing import Any

import pytest

from deertrack import storage
from deertrack.aws import client
from deertrack.jobs import JobStatus, JobStore
from deertrack.settings import get_settings
from infra.api_server import load_app_module
from tests.conftest import reset_caches
from tests.export_api_client import PDF, ZIP_FILTERS, call, export_messages, redis_keys, seed
from tests.s3_events_helpers import lambda_sqs_event, s3_notification_event

pytestmark = pytest.mark.e2e


def _put(key: str, body: bytes | dict[str, Any]) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    client("s3").put_object(Bucket=get_settings().requests_bucket, Key=key, Body=data)


def _notifications(expected: int = 1) -> dict[str, Any]:
    """The next `expected` object notifications of the export-requests queue, as a Lambda SQS event.

    The s3:TestEvent sent when the bucket's notification was configured is deleted on the way
    (test_test_events_and_foreign_bodies hands one to the handler).
    """
    return s3_notification_event(get_settings().export_requests_queue_name, expected)


def _result(key: str) -> dict[str, Any]:
    return json.loads(storage.get_bytes(get_settings().requests_bucket, key))


def _handler() -> Any:
    return load_app_module().handle_export_request


def test_a_dropped_request_is_queued_and_answered(stack) -> None:
    _put("export-requests/rut season.json", {"export_type": "pdf", **PDF, "group_by": "week"})
    event = _notifications()
    assert _handler()(event, None) == {"batchItemFailures": []}

    result = _result("export-requests/rut season.result.json")
    assert result["status"] == "queued" and result["type"] == "pdf"
    assert result["status_url"] == f"/api/exports/pdf/{result['job_id']}"
    assert result["request_key"] == "export-requests/rut season.json"
    job = JobStore().get(result["job_id"])
    assert job is not None and job.status is JobStatus.QUEUED and job.request["group_by"] == "week"
    [message] = export_messages()
    assert message.job_id == result["job_id"] and message.export_type == "pdf"

    # Writing the result notifies the queue too; the handler ignores *.result.json.
    echo = _notifications()
    assert "result.json" in echo["Records"][0]["body"]
    assert _handler()(echo, None) == {"batchItemFailures": []}
    keys = [o["Key"] for o in client("s3").list_objects_v2(Bucket=get_settings().requests_bucket)["Contents"]]
    assert sorted(keys) == ["export-requests/rut season.json", "export-requests/rut season.result.json"]

    # SQS delivers at least once: the same notification again is the same job, not a second one.
    assert _handler()(event, None) == {"batchItemFailures": []}
    assert _result("export-requests/rut season.result.json")["job_id"] == result["job_id"]
    assert export_messages() == []
    assert len(redis_keys("export_job:*")) == 1


def test_the_queued_job_is_visible_over_http(api) -> None:
    seed()
    _put("export-requests/archive.json", {"export_type": "zip", **ZIP_FILTERS})
    assert _handler()(_notifications(), None) == {"batchItemFailures": []}
    result = _result("export-requests/archive.result.json")
    status = call("GET", f"{api}{result['status_url']}")
    assert status.status == 200 and status.body["total_detections"] == 5


def test_an_invalid_request_gets_the_same_details_as_http(api) -> None:
    body = {**PDF, "start_date": "2024-12-01", "group_by": "year"}
    _put("export-requests/bad.json", {"export_type": "pdf", **body})
    assert _handler()(_notifications(), None) == {"batchItemFailures": []}
    result = _result("export-requests/bad.result.json")
    over_http = call("POST", f"{api}/api/exports/pdf", body)
    assert result["status"] == "rejected" and result["error"] == "validation_error"
    assert result["details"] == over_http.body["details"]
    assert {d["rule"] for d in result["details"]} == {"date_order", "enum"}
    assert export_messages() == [] and redis_keys() == []


@pytest.mark.parametrize(
    ("raw", "field", "rule"),
    [
        (b"{\"export_type\": \"pdf\", ", "body", "json"),
        (b"[1, 2, 3]", "body", "json_object"),
        (json.dumps(PDF).encode(), "export_type", "required"),
        (json.dumps({"export_type": "docx", **PDF}).encode(), "export_type", "enum"),
    ],
)
def test_a_malformed_file_is_rejected_not_retried(stack, raw, field, rule) -> None:
    _put("export-requests/broken.json", raw)
    assert _handler()(_notifications(), None) == {"batchItemFailures": []}
    result = _result("export-requests/broken.result.json")
    assert result["status"] == "rejected"
    assert [(d["field"], d["rule"]) for d in result["details"]] == [(field, rule)]


def test_a_request_matching_nothing_is_rejected(stack) -> None:
    _put("export-requests/empty.json", {"export_type": "camtrap-dp", **ZIP_FILTERS})
    assert _handler()(_notifications(), None) == {"batchItemFailures": []}
    result = _result("export-requests/empty.result.json")
    assert [(d["field"], d["rule"]) for d in result["details"]] == [("filters", "no_matches")]


def test_redis_down_reports_the_record_for_retry(stack, monkeypatch) -> None:
    _put("export-requests/later.json", {"export_type": "pdf", **PDF})
    _put("export-requests/bad.json", b"nope")
    event = _notifications(2)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    reset_caches()
    outcome = _handler()(event, None)
    bodies = {r["messageId"]: r["body"] for r in event["Records"]}
    failed = [f["itemIdentifier"] for f in outcome["batchItemFailures"]]
    assert len(failed) == 1 and "later.json" in bodies[failed[0]]
    assert not storage.exists(get_settings().requests_bucket, "export-requests/later.result.json")
    assert _result("export-requests/bad.result.json")["status"] == "rejected"  # no Redis needed for that
    monkeypatch.delenv("REDIS_URL")
    reset_caches()
    assert export_messages() == [] and redis_keys() == []


def test_sqs_down_reports_the_record_for_retry_and_leaves_no_status(stack) -> None:
    _put("export-requests/later.json", {"export_type": "pdf", **PDF})
    event = _notifications()
    sqs = client("sqs")
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=get_settings().exports_queue_name)["QueueUrl"])
    reset_caches()
    outcome = _handler()(event, None)
    assert [f["itemIdentifier"] for f in outcome["batchItemFailures"]] == [event["Records"][0]["messageId"]]
    assert redis_keys() == []


def test_test_events_and_foreign_bodies(stack) -> None:
    test_event = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": get_settings().requests_bucket}
    fake = [{"MessageId": "m-1", "ReceiptHandle": "r-1", "Body": json.dumps(test_event)},
            {"MessageId": "m-2", "ReceiptHandle": "r-2", "Body": "not a notification"}]
    outcome = _handler()(lambda_sqs_event(fake, get_settings().export_requests_queue_name), None)
    # The test event is done with; a body that is no S3 notification goes back (and on to the DLQ).
    assert outcome == {"batchItemFailures": [{"itemIdentifier": "m-2"}]}
