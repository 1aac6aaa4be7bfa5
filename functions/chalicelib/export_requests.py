"""SQS handler logic for export requests dropped in the requests bucket (S3 notifications via SQS).

Each record's body is an S3 notification; every object it names is handled by
deertrack.exports.s3_requests. A record whose handling raised (Redis/SQS/S3 down, or a body that is
not an S3 notification) is reported in `batchItemFailures`, so SQS delivers it again and, after
the queue's maxReceiveCount, moves it to the dead-letter queue.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from deertrack.exports.s3_requests import handle_object
from deertrack.logs import logger
from deertrack.s3_events import objects_in


def handle_record(record: SQSRecord) -> None:
    for obj in objects_in(record.body):
        handle_object(obj)


def process_export_requests(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """{"batchItemFailures": [{"itemIdentifier": messageId}, ...]} for the records to deliver again."""
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    result = process_partial_response(event=event, record_handler=handle_record, processor=processor,
                                      context=context)
    failures = result.get("batchItemFailures", [])
    if failures:
        logger.warning("export requests to retry", extra={"failed": len(failures),
                                                          "records": len(event.get("Records", []))})
    return dict(result)
