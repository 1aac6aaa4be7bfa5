"""S3 event notifications as they arrive through SQS, read with Powertools' S3 event classes: bucket and
key (decoded exactly once)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


class NotS3Notification(ValueError):
    pass


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str
    event_name: str
    size: int | None = None
    event_time: str | None = None  # ISO 8601, when the notification says


def objects_of(record: SQSRecord) -> list[S3Object]:
    """Objects named by the S3 notification that an SQS record carries (Powertools' nested S3 event)."""
    try:
        event = record.decoded_nested_s3_event
    except ValueError as exc:  # json.JSONDecodeError
        raise NotS3Notification(f"message body is not JSON: {exc}") from exc
    return _objects(event)


def objects_in(body: str) -> list[S3Object]:
    """Objects named by one SQS body carrying an S3 notification (see `objects_of`)."""
    try:
        payload: Any = json.loads(body)
    except json.JSONDecodeError as exc:
        raise NotS3Notification(f"message body is not JSON: {exc}") from exc
    return _objects(S3Event(payload))


def _objects(event: S3Event) -> list[S3Object]:
    """`s3:TestEvent` (sent when a notification is configured) gives []. Keys are URL-encoded in
    notifications (spaces as '+'); they are decoded here, once, and nowhere else."""
    if not isinstance(event.raw_event, dict):
        raise NotS3Notification("message body is not a JSON object")
    if event.get("Event") == "s3:TestEvent":
        return []
    if not isinstance(event.get("Records"), list):
        raise NotS3Notification("message body has no Records list")
    found = []
    for record in event.records:
        try:
            s3_object = record.s3.get_object
            found.append(S3Object(bucket=record.s3.bucket.name, key=unquote_plus(s3_object.key),
                                  event_name=record.get("eventName", ""), size=s3_object.get("size"),
                                  event_time=record.get("eventTime")))
        except (KeyError, TypeError, AttributeError) as exc:
            raise NotS3Notification(f"record without s3.bucket.name / s3.object.key: {exc}") from exc
    return found
