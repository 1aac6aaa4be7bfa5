"""The event pump against the emulator over HTTP: delete on success, partial batch failures, redrive
to the dead-letter queue, S3 notifications through their queue, and the threaded loop.

The handlers are a tiny real Chalice app defined here (the pump calls Chalice's own event wrappers,
exactly as Lambda would), so these tests do not depend on handlers other people are writing.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from chalice import Chalice

from deertrack.aws import client
from deertrack.s3_events import objects_in
from deertrack.settings import get_settings
from infra.event_sources import SCHEDULE_ATTEMPTS, EventPump, scheduled_event
from infra.eventbridge import target_queue_name
from infra.resources import create_resources
from infra.template import Declarations, HandlerDecl, QueueDecl, declarations

pytestmark = pytest.mark.integration

WORK = "pumptest-work"
WORK_DLQ = "pumptest-work-dlq"


class Behaviour:
    """What the test handler does with each batch; the test sets `respond`."""

    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.respond: Callable[[list[dict[str, Any]]], Any] = lambda records: None
        self.handled = threading.Event()


behaviour = Behaviour()
app = Chalice(app_name="pump-test")


@app.on_sqs_message(queue=WORK, batch_size=10)
def handle_work(event: Any) -> Any:
    records = [record.to_dict() for record in event]
    behaviour.batches.append(records)
    try:
        return behaviour.respond(records)
    finally:
        behaviour.handled.set()


test_app = SimpleNamespace(handle_work=handle_work)


@pytest.fixture
def work(stack: Any) -> Declarations:
    """A queue with no visibility timeout (failures come back at once) and maxReceiveCount 2."""
    global behaviour
    behaviour = Behaviour()
    decl = Declarations(
        "test",
        queues={
            "WorkDeadLetterQueue": QueueDecl("WorkDeadLetterQueue", WORK_DLQ, {}),
            "WorkQueue": QueueDecl("WorkQueue", WORK, {"VisibilityTimeout": "0"}, dead_letter="WorkDeadLetterQueue",
                                   max_receive_count=2),
        },
        buckets={},
        handlers={"WorkFunction": HandlerDecl("WorkFunction", "app.handle_work", queue="WorkQueue", batch_size=10)},
    )
    create_resources(decl)
    return decl


def send(queue: str, *bodies: str) -> list[str]:
    sqs = client("sqs")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    return [sqs.send_message(QueueUrl=url, MessageBody=body)["MessageId"] for body in bodies]


def counts(queue: str) -> int:
    sqs = client("sqs")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def bodies_in(queue: str) -> list[str]:
    sqs = client("sqs")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    return sorted(m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []))


def test_success_deletes_the_batch_and_records_have_the_lambda_shape(work: Declarations) -> None:
    ids = send(WORK, "a", "b", "c")
    report = EventPump(work, test_app).run_once()

    assert (report.received, report.deleted, report.failed) == (3, 3, 0)
    assert counts(WORK) == 0
    records = [r for batch in behaviour.batches for r in batch]
    assert sorted(r["messageId"] for r in records) == sorted(ids)
    queue_arn = client("sqs").get_queue_attributes(
        QueueUrl=client("sqs").get_queue_url(QueueName=WORK)["QueueUrl"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    for record in records:
        assert record["eventSource"] == "aws:sqs"
        assert record["eventSourceARN"] == queue_arn
        assert record["awsRegion"] == get_settings().aws_region
        assert record["attributes"]["ApproximateReceiveCount"] == "1"
        assert record["receiptHandle"] and record["md5OfBody"]
    assert sorted(r["body"] for r in records) == ["a", "b", "c"]


def test_partial_batch_failure_keeps_only_the_failed_message(work: Declarations) -> None:
    send(WORK, "ok-1", "bad", "ok-2")
    behaviour.respond = lambda records: {
        "batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records if r["body"] == "bad"]
    }
    report = EventPump(work, test_app).run_once()

    assert (report.deleted, report.failed) == (2, 1)
    assert bodies_in(WORK) == ["bad"]


def test_a_raising_handler_leaves_every_message_on_the_queue(work: Declarations) -> None:
    send(WORK, "x", "y")

    def boom(records: list[dict[str, Any]]) -> None:
        raise RuntimeError("handler broke")

    behaviour.respond = boom
    report = EventPump(work, test_app).run_once()

    assert (report.received, report.deleted, report.failed) == (2, 0, 2)
    assert report.errors and "handler broke" in report.errors[0]
    assert counts(WORK) == 2


def test_after_max_receive_count_the_message_lands_in_the_dead_letter_queue(work: Declarations) -> None:
    send(WORK, json.dumps({"type": "poison", "version": 1}))

    def boom(records: list[dict[str, Any]]) -> None:
        raise ValueError("cannot handle this")

    behaviour.respond = boom
    pump = EventPump(work, test_app)
    for _ in range(3):  # received twice (maxReceiveCount 2), then moved by the queue's redrive policy
        pump.run_once()

    assert len(behaviour.batches) == 2
    assert [b[0]["attributes"]["ApproximateReceiveCount"] for b in behaviour.batches] == ["1", "2"]
    assert counts(WORK) == 0
    assert bodies_in(WORK_DLQ) == [json.dumps({"type": "poison", "version": 1})]


def test_s3_notifications_arrive_through_their_queue(stack: Any) -> None:
    """template.yaml's requests bucket notifies its queue; the pump hands the notification to the handler."""
    seen: list[str] = []

    def handle_export_request(event: dict[str, Any], context: Any) -> None:
        for record in event["Records"]:
            seen.extend(obj.key for obj in objects_in(record["body"]))

    decl = declarations("test")
    pump = EventPump(decl, SimpleNamespace(handle_export_request=handle_export_request))
    assert [r.decl.handler for r in pump.sqs_routes] == ["app.handle_export_request"]
    pump.run_once()  # whatever the emulator sent when the notification was configured (s3:TestEvent)
    seen.clear()

    client("s3").put_object(Bucket=get_settings().requests_bucket, Key="export-requests/field season 1.json",
                            Body=b"{}")
    client("s3").put_object(Bucket=get_settings().requests_bucket, Key="elsewhere/ignored.json", Body=b"{}")
    report = pump.run_once()

    assert seen == ["export-requests/field season 1.json"]
    assert report.failed == 0
    assert counts(decl.queue_name("ExportRequestsQueue")) == 0


def test_threaded_loop_long_polls_and_stops(work: Declarations) -> None:
    pump = EventPump(work, test_app, wait_seconds=1).start()
    try:
        send(WORK, "later")
        assert behaviour.handled.wait(20)
    finally:
        pump.stop(timeout=10)
    assert [r["body"] for b in behaviour.batches for r in b] == ["later"]
    assert not any(t.name == "pump-WorkFunction" and t.is_alive() for t in threading.enumerate())
    assert counts(WORK) == 0


def test_unknown_queue_is_reported_not_raised(stack: Any) -> None:
    decl = Declarations("test", {"Q": QueueDecl("Q", "pumptest-never-created", {})}, {},
                        {"F": HandlerDecl("F", "app.handle_work", queue="Q")})
    report = EventPump(decl, test_app).run_once()
    assert report.errors and "pumptest-never-created" in report.errors[0]



# ------------------------------------------------------------------------------------------ schedules by EventBridge


SCHEDULED = "pumptest-nightly"


@pytest.fixture
def scheduled(stack: Any) -> Declarations:
    """A scheduled function whose rule's stand-in queue redelivers at once (visibility timeout 0)."""
    decl = Declarations("test", {}, {}, {"NightlyFunction": HandlerDecl(
        "NightlyFunction", "app.nightly", schedule="rate(1 minute)", schedule_name=SCHEDULED)})
    client("sqs").create_queue(QueueName=target_queue_name(SCHEDULED), Attributes={"VisibilityTimeout": "0"})
    return decl


def put_scheduled_event(rule: str) -> dict[str, Any]:
    """What EventBridge puts on a rule's SQS target: the event itself as the message body."""
    event = scheduled_event(rule, datetime(2026, 3, 1, 3, 0, tzinfo=UTC), get_settings().aws_region)
    send(target_queue_name(rule), json.dumps(event))
    return event


def test_on_eventbridge_the_pump_calls_the_handler_with_the_delivered_event(scheduled: Declarations) -> None:
    seen: list[dict[str, Any]] = []
    pump = EventPump(scheduled, SimpleNamespace(nightly=lambda event, context: seen.append(event)),
                     schedules="eventbridge")
    assert pump.schedule_routes == []  # EventBridge fires; the pump's clock does not
    assert pump.run_once(datetime(2030, 1, 1, tzinfo=UTC)).fired == 0
    event = put_scheduled_event(SCHEDULED)

    report = pump.run_once()

    assert seen == [event]
    assert (report.received, report.deleted, report.failed) == (1, 1, 0)
    assert counts(target_queue_name(SCHEDULED)) == 0


def test_a_raising_scheduled_handler_is_tried_three_times_then_the_event_is_dropped(scheduled: Declarations) -> None:
    calls: list[str] = []

    def nightly(event: dict[str, Any], context: Any) -> None:
        calls.append(event["id"])
        raise RuntimeError("database down")

    pump = EventPump(scheduled, SimpleNamespace(nightly=nightly), schedules="eventbridge")
    event = put_scheduled_event(SCHEDULED)
    reports = [pump.run_once() for _ in range(SCHEDULE_ATTEMPTS + 1)]

    assert calls == [event["id"]] * SCHEDULE_ATTEMPTS  # as Lambda's asynchronous invocation: 1 try + 2 retries
    assert [r.failed for r in reports] == [1] * SCHEDULE_ATTEMPTS + [0]
    assert "database down" in reports[0].errors[0]
    assert counts(target_queue_name(SCHEDULED)) == 0


def test_schedules_must_be_clock_or_eventbridge(scheduled: Declarations) -> None:
    with pytest.raises(ValueError, match="schedules must be one of"):
        EventPump(scheduled, SimpleNamespace(nightly=lambda event, context: None), schedules="cron")
