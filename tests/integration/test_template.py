"""The local stack is template.yaml: the emulator's queues (timeouts, retention, redrive) and bucket
notifications are the declarations, and the event pump routes exactly the Chalice app's SQS and
schedule handlers, from the same declarations. Over real HTTP to the embedded emulator.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from deertrack.aws import client
from deertrack.settings import get_settings
from infra.api_server import load_app_module
from infra.event_sources import EventPump
from infra.template import declarations
from tests.template_checks import code_surface

pytestmark = pytest.mark.integration


def test_queues_in_the_emulator_are_the_declared_ones(stack: Any) -> None:
    decl = declarations("test")
    sqs = client("sqs")
    for queue in decl.queues.values():
        url = sqs.get_queue_url(QueueName=queue.name)["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        for name, value in queue.attributes.items():
            assert attributes[name] == value, f"{queue.name} {name}"
        if queue.dead_letter:
            redrive = json.loads(attributes["RedrivePolicy"])
            assert redrive["deadLetterTargetArn"].rsplit(":", 1)[1] == decl.queue_name(queue.dead_letter)
            assert int(redrive["maxReceiveCount"]) == queue.max_receive_count
        else:
            assert "RedrivePolicy" not in attributes


def test_bucket_notifications_in_the_emulator_are_the_declared_ones(stack: Any) -> None:
    decl = declarations("test")
    s3 = client("s3")
    for bucket in decl.buckets.values():
        configuration = s3.get_bucket_notification_configuration(Bucket=bucket.name)
        found = []
        for entry in configuration.get("QueueConfigurations", []):
            rules = {r["Name"].lower(): r["Value"] for r in entry["Filter"]["Key"]["FilterRules"]}
            queue = entry["QueueArn"].rsplit(":", 1)[1]
            found += [(event, queue, rules.get("prefix", ""), rules.get("suffix", "")) for event in entry["Events"]]
        assert found == [(event, decl.queue_name(queue_id), prefix, suffix)
                         for event, queue_id, prefix, suffix in bucket.queue_notifications], bucket.name


def test_the_event_pump_routes_the_chalice_handlers_from_the_same_declarations(stack: Any) -> None:
    module = load_app_module()
    decl = declarations("test")
    pump = EventPump(decl, module)
    code = code_surface(module.app, get_settings())
    assert {(r.decl.handler, r.queue_name) for r in pump.sqs_routes} == {
        (handler, queue) for handler, (queue, _) in code.sqs_handlers.items()}
    assert {(r.decl.handler, r.schedule.expression) for r in pump.schedule_routes} == set(
        code.schedule_handlers.items())
    for route in pump.sqs_routes:
        route.resolve()  # the queue each handler is fed from exists in the emulator
        assert route.queue_url and route.queue_arn
