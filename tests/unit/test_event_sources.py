"""The event pump's Lambda shapes, batch-response reading and schedule firing (no AWS needed).

Handlers here are plain functions in a SimpleNamespace standing in for functions/app.py: the pump
only looks attributes up by name, and these tests are about what it passes and when.
"""

from __future__ import annotations

import base64
import threading
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from infra.event_sources import (
    EventPump,
    LambdaContext,
    failed_ids,
    function_settings,
    scheduled_event,
    sqs_record,
)
from infra.template import Declarations, HandlerDecl


def test_sqs_record_has_the_lambda_shape() -> None:
    message = {
        "MessageId": "m-1",
        "ReceiptHandle": "rh-1",
        "MD5OfBody": "abc",
        "Body": '{"type": "export"}',
        "Attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "1700000000000"},
        "MessageAttributes": {
            "trace": {"StringValue": "t-1", "DataType": "String"},
            "blob": {"BinaryValue": b"\x00\x01", "DataType": "Binary"},
        },
    }
    record = sqs_record(message, "arn:aws:sqs:us-east-1:123456789012:q", "us-east-1")
    assert record == {
        "messageId": "m-1",
        "receiptHandle": "rh-1",
        "body": '{"type": "export"}',
        "attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "1700000000000"},
        "messageAttributes": {
            "trace": {"stringValue": "t-1", "binaryValue": None, "stringListValues": [], "binaryListValues": [],
                      "dataType": "String"},
            "blob": {"stringValue": None, "binaryValue": base64.b64encode(b"\x00\x01").decode(),
                     "stringListValues": [], "binaryListValues": [], "dataType": "Binary"},
        },
        "md5OfBody": "abc",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
        "awsRegion": "us-east-1",
    }


@pytest.mark.parametrize("result", [None, "done", {}, {"batchItemFailures": []}, {"batchItemFailures": None}])
def test_no_reported_failures_means_all_succeeded(result: Any) -> None:
    assert failed_ids(result, ["a", "b"]) == (set(), None)


def test_partial_failures_name_the_failed_messages() -> None:
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "b"}]}, ["a", "b", "c"]) == ({"b"}, None)


@pytest.mark.parametrize(
    "failures", [[{"itemIdentifier": "zzz"}], [{"itemIdentifier": ""}], [{}], ["b"], "b"],
)
def test_a_bad_batch_response_fails_the_whole_batch(failures: Any) -> None:
    failed, problem = failed_ids({"batchItemFailures": failures}, ["a", "b"])
    assert failed == {"a", "b"}
    assert problem


def test_scheduled_event_shape() -> None:
    event = scheduled_event("deertrack-dev-Backfill", datetime(2024, 1, 2, 3, 0, tzinfo=UTC), "us-east-1")
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["time"] == "2024-01-02T03:00:00Z"
    assert event["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/deertrack-dev-Backfill"]
    assert event["detail"] == {}
    assert event["id"] and event["version"] == "0"


def test_lambda_context_counts_down() -> None:
    context = LambdaContext("f", 512, "arn:aws:lambda:us-east-1:123456789012:function:f", "req-1", timeout_seconds=30)
    remaining = context.get_remaining_time_in_millis()
    assert 0 < remaining <= 30_000
    assert context.log_group_name == "/aws/lambda/f"


def test_function_settings_come_from_the_template() -> None:
    found = function_settings()
    assert found["ImageEventsFunction"].timeout_seconds == 120
    assert found["ExportRequestsFunction"].timeout_seconds == 30
    assert found["ExportRequestsFunction"].memory_mb == 512
    assert found["ExportRequestsFunction"].report_batch_item_failures is True


# ------------------------------------------------------------------------------------------ schedules


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def schedule_decl(*handlers: HandlerDecl) -> Declarations:
    return Declarations("unit", {}, {}, {h.logical_id: h for h in handlers})


def test_handlers_missing_from_the_app_are_skipped() -> None:
    decl = schedule_decl(HandlerDecl("Gone", "app.not_written_yet", schedule="rate(1 minute)"),
                         HandlerDecl("Api", "app.app"))
    pump = EventPump(decl, SimpleNamespace(app=object()))
    assert pump.skipped == ["app.not_written_yet"]
    assert pump.schedule_routes == [] and pump.sqs_routes == []


def test_rate_schedule_fires_once_per_interval() -> None:
    events: list[dict[str, Any]] = []
    clock = Clock(datetime(2024, 1, 1, 0, 0, 0, tzinfo=UTC))
    module = SimpleNamespace(tick=lambda event, context: events.append(event))
    pump = EventPump(schedule_decl(HandlerDecl("Tick", "app.tick", schedule="rate(5 minutes)")), module, clock=clock)

    assert pump.run_once(clock.now + timedelta(minutes=4)).fired == 0
    assert pump.run_once(clock.now + timedelta(minutes=5)).fired == 1
    assert pump.run_once(clock.now + timedelta(minutes=6)).fired == 0
    # missed several intervals: one event, not a burst, and the next one is in the future
    assert pump.run_once(clock.now + timedelta(minutes=31)).fired == 1
    assert pump.schedule_routes[0].next_at == clock.now + timedelta(minutes=35)
    assert [e["time"] for e in events] == ["2024-01-01T00:05:00Z", "2024-01-01T00:10:00Z"]


def test_cron_schedule_fires_at_its_minute_with_a_context() -> None:
    seen: list[tuple[dict[str, Any], Any]] = []
    clock = Clock(datetime(2024, 1, 1, 2, 59, 30, tzinfo=UTC))
    module = SimpleNamespace(backfill=lambda event, context: seen.append((event, context)))
    decl = schedule_decl(HandlerDecl("BackfillScheduleFunction", "app.backfill", schedule="cron(0 3 * * ? *)"))
    pump = EventPump(decl, module, clock=clock)

    assert pump.run_once(datetime(2024, 1, 1, 2, 59, 59, tzinfo=UTC)).fired == 0
    assert pump.run_once(datetime(2024, 1, 1, 3, 0, 1, tzinfo=UTC)).fired == 1
    event, context = seen[0]
    assert event["time"] == "2024-01-01T03:00:00Z"
    assert event["resources"][0].endswith(":rule/deertrack-unit-BackfillScheduleFunction")
    assert context.function_name == "deertrack-unit-BackfillScheduleFunction"
    assert context.timeout_seconds == 60  # from template.yaml
    assert context.get_remaining_time_in_millis() > 0


def test_a_raising_scheduled_handler_does_not_stop_the_schedule() -> None:
    calls: list[str] = []

    def boom(event: dict[str, Any], context: Any) -> None:
        calls.append(event["time"])
        raise RuntimeError("backfill broke")

    clock = Clock(datetime(2024, 1, 1, tzinfo=UTC))
    pump = EventPump(schedule_decl(HandlerDecl("B", "app.boom", schedule="rate(1 minute)")),
                     SimpleNamespace(boom=boom), clock=clock)
    pump.run_once(clock.now + timedelta(minutes=1))
    pump.run_once(clock.now + timedelta(minutes=2))
    assert calls == ["2024-01-01T00:01:00Z", "2024-01-01T00:02:00Z"]


def test_threaded_schedule_loop_fires_and_stops() -> None:
    fired = threading.Event()
    clock = Clock(datetime(2024, 1, 1, tzinfo=UTC))
    pump = EventPump(schedule_decl(HandlerDecl("T", "app.tick", schedule="rate(1 minute)")),
                     SimpleNamespace(tick=lambda event, context: fired.set()), clock=clock)
    pump.start()
    try:
        assert not fired.wait(0.3)
        clock.now += timedelta(minutes=1)  # time passes
        assert fired.wait(5)
    finally:
        pump.stop(timeout=5)
    assert all(not t.is_alive() for t in threading.enumerate() if t.name.startswith("pump-"))

