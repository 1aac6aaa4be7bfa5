"""SQS handler logic for export requests dropped in the requests bucket (S3 notifications via SQS).

Each record's body is an S3 notification; every object it names is handled by
deertrack.exports.s3_requests. A record whose handling raised (Redis/SQS/S3 down, or a body that is
not an S3 notification) is reported in `batchItemFailures`, so SQS delivers it again and, after
the queue's maxReceiveCount, moves it to the dead-letter queue.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.sqs_batches import process_records
from deertrack.exports.s3_requests import handle_object
from deertrack.s3_events import objects_of


def handle_record(record: SQSRecord) -> None:
    for obj in objects_of(record):
        handle_object(obj)


def process_export_requests(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """{"batchItemFailures": [{"itemIdentifier": messageId}, ...]} for the records to deliver again."""
    return process_records(event, context, handle_record, left_for_later="export requests to retry")
