"""Schedules through EventBridge on LocalStack: the template's backfill rule, made due every minute, fires
into the queue that stands in for its function, and the event pump calls the real scheduled handler with
the event EventBridge delivered; the handler starts a nightly backfill. Runs under `--emulator
localstack` (CI's second e2e run); moto never fires rules, and the pump's own clock is tested in
tests/integration/test_event_sources.py and test_backfill.py.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest

from deertrack import db
from deertrack.aws import client
from deertrack.queues import queue_url
from deertrack.settings import get_settings
from infra.api_server import load_app_module
from infra.event_sources import EventPump
from infra.eventbridge import create_schedule_rules, schedule_rules
from infra.template import declarations

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

#: A rate(1 minute) rule first fires about a minute after it is created; leave room for a slow machine.
DELIVERY_DEADLINE_S = 150


def test_the_template_schedule_is_an_eventbridge_rule_of_the_same_name_and_expression(stack: Any) -> None:
    if stack.emulator.name != "localstack":
        pytest.skip("moto keeps rules but never fires them; on moto the pump's clock fires schedules")
    decl = declarations("test")
    (rule,) = [r for r in create_schedule_rules(decl) if r.handler == "app.backfill_nightly"]
    (handler,) = [h for h in decl.handlers.values() if h.handler == "app.backfill_nightly"]
    described = client("events").describe_rule(Name=rule.name)
    assert rule.name == handler.schedule_name == "deertrack-test-backfill-nightly"
    assert described["ScheduleExpression"] == handler.schedule == get_settings().backfill_schedule
    assert described["State"] == "ENABLED"
    (target,) = client("events").list_targets_by_rule(Rule=rule.name)["Targets"]
    assert target["Arn"].endswith(f":{rule.target_queue}")


def test_eventbridge_delivers_a_rate_rule_to_the_scheduled_handler(stack: Any) -> None:
    if stack.emulator.name != "localstack":
        pytest.skip("moto never fires EventBridge rules; on moto the pump's clock fires schedules")
    template = declarations("test")
    # The template's backfill schedule, due every minute: the same rule name, handler and target queue (the
    # other schedules are left out of this pump).
    handlers = {key: replace(h, schedule="rate(1 minute)") if h.schedule else h for key, h in template.handlers.items()
                if not h.schedule or h.handler == "app.backfill_nightly"}
    decl = replace(template, handlers=handlers)
    (rule,) = create_schedule_rules(decl)
    assert client("events").describe_rule(Name=rule.name)["ScheduleExpression"] == "rate(1 minute)"

    delivered: list[dict[str, Any]] = []
    answers: list[dict[str, Any]] = []
    real_handler = load_app_module().backfill_nightly

    def backfill_nightly(event: dict[str, Any], context: Any) -> Any:
        delivered.append(event)
        answers.append(real_handler(event, context))
        return answers[-1]

    pump = EventPump(decl, SimpleNamespace(backfill_nightly=backfill_nightly), schedules="eventbridge")
    assert [r.queue_name for r in pump.eventbridge_routes] == [rule.target_queue] and pump.schedule_routes == []
    (route,) = pump.eventbridge_routes
    deadline = time.monotonic() + DELIVERY_DEADLINE_S
    while not delivered and time.monotonic() < deadline:
        outcome = pump.deliver_scheduled(route, wait_seconds=10)
        assert outcome.failed == 0, outcome.error

    assert delivered, f"EventBridge delivered nothing to {rule.target_queue} within {DELIVERY_DEADLINE_S} s"
    event = delivered[0]
    rule_arn = client("events").describe_rule(Name=rule.name)["Arn"]
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"
    assert event["resources"] == [rule_arn]
    assert answers[0]["skipped"] is False
    # the real handler ran: a scheduled backfill run, and the merge job beside it on the reid queue
    with db.connection() as con:
        runs = con.run("SELECT id FROM backfill_runs WHERE trigger = 'schedule'")
    assert [r[0] for r in runs][:1] == [answers[0]["run_id"]]
    messages = client("sqs").receive_message(QueueUrl=queue_url(get_settings().reid_queue_name),
                                             MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    assert any(json.loads(m["Body"]).get("type") == "reid.merge" for m in messages)


def test_schedule_rules_come_from_the_template() -> None:
    rules = schedule_rules(declarations("dev"))
    assert sorted((r.name, r.handler, r.target_queue) for r in rules) == [
        ("deertrack-dev-backfill-nightly", "app.backfill_nightly", "deertrack-dev-backfill-nightly-target"),
        ("deertrack-dev-dead-letter-sweep", "app.sweep_dead_letters",
         "deertrack-dev-dead-letter-sweep-target")]
