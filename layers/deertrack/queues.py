"""SQS: send a typed message, receive with long polling, delete after success; a queue's policy as deployed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from pydantic import BaseModel

from deertrack.aws import client
from deertrack.logs import logger
from deertrack.settings import get_settings


@lru_cache(maxsize=64)
def _queue_url(endpoint: str | None, name: str) -> str:
    return client("sqs").get_queue_url(QueueName=name)["QueueUrl"]


def queue_url(name: str) -> str:
    return _queue_url(get_settings().aws_endpoint_url, name)


def reset_queue_urls() -> None:
    """Forget cached queue URLs and policies (a new endpoint or freshly created queues)."""
    _queue_url.cache_clear()
    _queue_policy.cache_clear()


@dataclass(frozen=True)
class QueuePolicy:
    """A queue's delivery settings as deployed: visibility timeout and redrive policy."""

    visibility_timeout: int
    max_receive_count: int | None
    dead_letter_arn: str | None = None

    @property
    def dead_letter_queue_name(self) -> str | None:
        return None if self.dead_letter_arn is None else self.dead_letter_arn.rsplit(":", 1)[-1]


@lru_cache(maxsize=16)
def _queue_policy(endpoint: str | None, name: str) -> QueuePolicy:
    attributes = client("sqs").get_queue_attributes(
        QueueUrl=queue_url(name), AttributeNames=["VisibilityTimeout", "RedrivePolicy"]
    )["Attributes"]
    redrive = json.loads(attributes["RedrivePolicy"]) if attributes.get("RedrivePolicy") else {}
    max_receive = redrive.get("maxReceiveCount")
    return QueuePolicy(int(attributes.get("VisibilityTimeout", 30)), int(max_receive) if max_receive else None,
                       redrive.get("deadLetterTargetArn"))


def queue_policy(name: str) -> QueuePolicy:
    """The queue's visibility timeout and redrive policy (read once, cached)."""
    return _queue_policy(get_settings().aws_endpoint_url, name)


def dead_letter_queue_url(name: str) -> str | None:
    """The URL of the queue's dead-letter queue (from its redrive policy), or None when it has none."""
    target = queue_policy(name).dead_letter_queue_name
    return None if target is None else queue_url(target)


def change_visibility(queue_name: str, receipt_handle: str, seconds: int) -> None:
    """Make a received message invisible for `seconds` from now (a heartbeat, or a retry's delay)."""
    client("sqs").change_message_visibility(QueueUrl=queue_url(queue_name), ReceiptHandle=receipt_handle,
                                            VisibilityTimeout=seconds)


#: What SQS answers about a receipt handle whose message it no longer holds, or a queue it no longer has
#: (an emulator that restarted empty; a queue deleted and created again).
GONE_CODES = frozenset({"ReceiptHandleIsInvalid", "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue"})


def message_gone(exc: BaseException) -> bool:
    """Whether `exc` says the received message (or its whole queue) no longer exists."""
    from botocore.exceptions import ClientError

    if not isinstance(exc, ClientError):
        return False
    error = exc.response.get("Error", {})
    if error.get("Code") in GONE_CODES:
        return True
    # AWS and LocalStack: "Value … for parameter ReceiptHandle is invalid. Reason: Message does not exist or is
    # not available for visibility timeout change." (also said of a handle that expired: sending the message
    # again then makes a duplicate, which every consumer tolerates; losing it would lose the job)
    return error.get("Code") == "InvalidParameterValue" and "ReceiptHandle" in str(error.get("Message", ""))


def resend(queue_name: str, body: str, delay_seconds: int = 0) -> str:
    """Send a received message's body again (the queue lost the original), visible after `delay_seconds`."""
    response = client("sqs").send_message(QueueUrl=queue_url(queue_name), MessageBody=body,
                                          DelaySeconds=max(0, min(delay_seconds, 900)))
    return response["MessageId"]


def send(queue_name: str, message: BaseModel, **log_fields: object) -> str:
    body = message.model_dump_json()
    response = client("sqs").send_message(QueueUrl=queue_url(queue_name), MessageBody=body)
    logger.info(
        "message enqueued",
        extra={"queue": queue_name, "message_id": response["MessageId"],
               "message_type": getattr(message, "type", None), **log_fields},
    )
    return response["MessageId"]


@dataclass(frozen=True)
class Received:
    message_id: str
    receipt_handle: str
    body: str
    receive_count: int


def receive(queue_name: str, *, max_messages: int = 10, wait_seconds: int = 20,
            visibility_timeout: int | None = None) -> list[Received]:
    kwargs: dict[str, object] = {
        "QueueUrl": queue_url(queue_name),
        "MaxNumberOfMessages": max_messages,
        "WaitTimeSeconds": wait_seconds,
        "AttributeNames": ["ApproximateReceiveCount"],
    }
    if visibility_timeout is not None:
        kwargs["VisibilityTimeout"] = visibility_timeout
    response = client("sqs").receive_message(**kwargs)
    return [
        Received(
            message_id=m["MessageId"],
            receipt_handle=m["ReceiptHandle"],
            body=m["Body"],
            receive_count=int(m.get("Attributes", {}).get("ApproximateReceiveCount", "1")),
        )
        for m in response.get("Messages", [])
    ]


def delete(queue_name: str, receipt_handle: str) -> None:
    client("sqs").delete_message(QueueUrl=queue_url(queue_name), ReceiptHandle=receipt_handle)


def drain(queue_name: str, wait_seconds: int = 0) -> Iterator[Received]:
    """Yield messages until the queue answers empty (tests and the event pump)."""
    while True:
        batch = receive(queue_name, wait_seconds=wait_seconds)
        if not batch:
            return
        yield from batch
