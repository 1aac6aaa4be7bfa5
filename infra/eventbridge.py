"""The schedules of template.yaml as EventBridge rules, each with an SQS queue standing in for its function.

In AWS a `Schedule` event is a rule whose target is the function. Locally no emulator runs functions,
so on LocalStack each rule (same name, same expression) targets a queue of its own,
`<rule name>-target`, and the event pump calls the scheduled handler with each event EventBridge
delivers there. moto never fires rules, so there the pump keeps the clock instead (infra/event_sources.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from deertrack.aws import client
from deertrack.logs import logger
from infra.template import Declarations, HandlerDecl


@dataclass(frozen=True)
class ScheduleRule:
    name: str
    expression: str
    handler: str
    target_queue: str


def target_queue_name(rule_name: str) -> str:
    """The queue that stands in locally for the rule's function target."""
    return f"{rule_name}-target"


def schedule_rules(decl: Declarations) -> list[ScheduleRule]:
    """Every Schedule event of the template, as the rule it is in EventBridge."""
    return [_rule(handler) for handler in decl.handlers.values() if handler.schedule]


def _rule(handler: HandlerDecl) -> ScheduleRule:
    assert handler.schedule is not None and handler.schedule_name is not None
    return ScheduleRule(handler.schedule_name, handler.schedule, handler.handler,
                        target_queue_name(handler.schedule_name))


def create_schedule_rules(decl: Declarations, visibility_timeout: int = 60) -> list[ScheduleRule]:
    """Create (or update) each rule and its target queue, with a queue policy that lets EventBridge send. Idempotent."""
    sqs = client("sqs")
    events = client("events")
    rules = schedule_rules(decl)
    for rule in rules:
        url = sqs.create_queue(QueueName=rule.target_queue,
                               Attributes={"VisibilityTimeout": str(visibility_timeout)})["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        rule_arn = events.put_rule(Name=rule.name, ScheduleExpression=rule.expression, State="ENABLED",
                                   Description=f"{rule.handler} (deertrack, from template.yaml)")["RuleArn"]
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                           "Action": "sqs:SendMessage", "Resource": queue_arn,
                           "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}}],
        })})
        answer = events.put_targets(Rule=rule.name, Targets=[{"Id": "function", "Arn": queue_arn}])
        if answer.get("FailedEntryCount"):
            raise RuntimeError(f"EventBridge refused the target of {rule.name}: {answer['FailedEntries']}")
    logger.info("eventbridge schedules ready",
                extra={"rules": {r.name: {"schedule": r.expression, "target_queue": r.target_queue} for r in rules}})
    return rules
