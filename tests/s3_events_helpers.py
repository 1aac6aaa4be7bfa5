"""S3 notifications as Lambda receives them: messages taken off an SQS queue of the emulator and wrapped
in a Lambda SQS event (records built by infra.event_sources.sqs_record, as the local stack's pump builds them)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from deertrack.aws import client
from deertrack.settings import get_settings
from infra.event_sources import sqs_record


def lambda_sqs_event(messages: Sequence[dict[str, Any]], queue_name: str) -> dict[str, Any]:
    """A Lambda SQS event whose records are `messages` (ReceiveMessage's shape) from queue `queue_name`."""
    sqs = client("sqs")
    url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return {"Records": [sqs_record(m, arn, get_settings().aws_region) for m in messages]}


def s3_notification_event(queue_name: str, expected: int = 1) -> dict[str, Any]:
    """Receive exactly `expected` S3 object notifications from `queue_name`, as one Lambda SQS event.

    The s3:TestEvent sent when a bucket's notification was configured is deleted on the way.
    """
    sqs = client("sqs")
    url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    got: list[dict[str, Any]] = []
    for _ in range(5):
        response = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2, MaxNumberOfMessages=10,
                                       AttributeNames=["All"], MessageAttributeNames=["All"])
        for message in response.get("Messages", []):
            if json.loads(message["Body"]).get("Event") == "s3:TestEvent":
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            else:
                got.append(message)
        if len(got) >= expected:
            break
    assert len(got) == expected, f"expected {expected} S3 notification(s) on {queue_name}, got {got}"
    return lambda_sqs_event(got, queue_name)
