"""S3 event notifications as they arrive through SQS: bucket and key (decoded exactly once)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import unquote_plus


class NotS3Notification(ValueError):
    pass


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str
    event_name: str
    size: int | None = None


def objects_in(body: str) -> list[S3Object]:
    """Objects named by one SQS body carrying an S3 notification.

    `s3:TestEvent` (sent when a notification is configured) gives []. Keys are URL-encoded in
    notifications (spaces as '+'); they are decoded here, once, and nowhere else.
    """
    try:
        payload = json.loads(body)
    except json.JSONDecodeError as exc:
        raise NotS3Notification(f"message body is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise NotS3Notification("message body is not a JSON object")
    if payload.get("Event") == "s3:TestEvent":
        return []
    records = payload.get("Records")
    if not isinstance(records, list):
        raise NotS3Notification("message body has no Records list")
    found = []
    for record in records:
        try:
            s3 = record["s3"]
            found.append(
                S3Object(
                    bucket=s3["bucket"]["name"],
                    key=unquote_plus(s3["object"]["key"]),
                    event_name=record.get("eventName", ""),
                    size=s3["object"].get("size"),
                )
            )
        except (KeyError, TypeError) as exc:
            raise NotS3Notification(f"record without s3.bucket.name / s3.object.key: {exc}") from exc
    return found
