"""S3 notifications read with Powertools' event classes: from an SQS record, keys decoded once."""

from __future__ import annotations

import json

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from deertrack.s3_events import NotS3Notification, S3Object, objects_of


def _record(body: str) -> SQSRecord:
    return SQSRecord({"messageId": "m-1", "receiptHandle": "h", "body": body, "attributes": {},
                      "messageAttributes": {}, "eventSource": "aws:sqs"})


def test_an_sqs_record_names_its_objects_with_their_event_time() -> None:
    body = json.dumps({"Records": [
        {"eventName": "ObjectCreated:Put", "eventTime": "2026-12-03T15:00:00.000Z",
         "s3": {"bucket": {"name": "b"}, "object": {"key": "detections/CAM+01/a%2Bb.json", "size": 7}}},
        {"eventName": "ObjectCreated:Copy",
         "s3": {"bucket": {"name": "b"}, "object": {"key": "detections/c.json"}}},
    ]})
    assert objects_of(_record(body)) == [
        S3Object("b", "detections/CAM 01/a+b.json", "ObjectCreated:Put", 7, "2026-12-03T15:00:00.000Z"),
        S3Object("b", "detections/c.json", "ObjectCreated:Copy", None, None),
    ]


@pytest.mark.parametrize("body", ["not json", "[]", json.dumps({"Records": [{"s3": {"bucket": {}}}]})])
def test_a_record_that_is_not_an_s3_notification_says_why(body: str) -> None:
    with pytest.raises(NotS3Notification):
        objects_of(_record(body))


def test_the_test_event_names_nothing() -> None:
    assert objects_of(_record(json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"}))) == []
