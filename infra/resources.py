"""Create the AWS resources declared in template.yaml in the emulator (moto or LocalStack)."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from deertrack.aws import client
from deertrack.logs import logger
from infra.template import Declarations, declarations


def create_resources(decl: Declarations | None = None) -> dict[str, str]:
    """Create queues (dead-letter queues first), buckets and bucket notifications. Idempotent.

    Returns logical id -> physical name.
    """
    decl = decl or declarations()
    sqs = client("sqs")
    s3 = client("s3")
    arns: dict[str, str] = {}
    created: dict[str, str] = {}

    ordered = sorted(decl.queues.values(), key=lambda q: q.dead_letter is not None)
    for queue in ordered:
        attributes: dict[str, Any] = dict(queue.attributes)
        if queue.dead_letter:
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": arns[queue.dead_letter], "maxReceiveCount": str(queue.max_receive_count)}
            )
        url = sqs.create_queue(QueueName=queue.name, Attributes=attributes)["QueueUrl"]
        arns[queue.logical_id] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        created[queue.logical_id] = queue.name

    for bucket in decl.buckets.values():
        try:
            s3.create_bucket(Bucket=bucket.name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
        if bucket.queue_notifications:
            s3.put_bucket_notification_configuration(
                Bucket=bucket.name,
                NotificationConfiguration={
                    "QueueConfigurations": [
                        {
                            "QueueArn": arns[queue_id],
                            "Events": [event],
                            "Filter": {"Key": {"FilterRules": [
                                {"Name": "prefix", "Value": prefix},
                                {"Name": "suffix", "Value": suffix},
                            ]}},
                        }
                        for event, queue_id, prefix, suffix in bucket.queue_notifications
                    ]
                },
            )
        created[bucket.logical_id] = bucket.name
    logger.info("aws resources ready", extra={"resources": created})
    return created


def provision(stage: str, eventbridge: bool) -> list[Any]:
    """Everything the stack creates in its emulator: the resources above and, when EventBridge fires the
    schedules (LocalStack), their rules. At start, and again after the emulator restarted empty.
    Returns the rules (infra/eventbridge.py ScheduleRule) created."""
    decl = declarations(stage)
    create_resources(decl)
    if not eventbridge:
        return []
    from infra.eventbridge import create_schedule_rules

    return list(create_schedule_rules(decl))
