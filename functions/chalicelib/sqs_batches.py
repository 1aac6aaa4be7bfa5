"""SQS-triggered handlers with partial batch failures (aws-lambda-powertools): each record is handled on
its own, and only the records whose handler raised are reported in `batchItemFailures`, so SQS
delivers just those again (and, after the queue's maxReceiveCount, moves them to its dead-letter queue).
The last delivery's error is kept by message id (deertrack.delivery_errors), so the dead-letter sweep can say why."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from deertrack import delivery_errors
from deertrack.logs import logger


def process_records(event: dict[str, Any], context: Any, handle: Callable[[SQSRecord], None], *,
                    left_for_later: str, level: int = logging.WARNING) -> dict[str, Any]:
    """`{"batchItemFailures": [{"itemIdentifier": messageId}, ...]}`; logs `left_for_later` (at `level`,
    WARNING by default) with the counts when any record failed."""
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    def handle_recording_errors(record: SQSRecord) -> None:
        try:
            handle(record)
        except Exception as exc:
            delivery_errors.record_if_last(record.event_source_arn.rsplit(":", 1)[-1], record.message_id,
                                           int(record.attributes.approximate_receive_count),
                                           f"{type(exc).__name__}: {exc}")
            raise

    result = process_partial_response(event=event, record_handler=handle_recording_errors, processor=processor,
                                      context=context)
    failures = result.get("batchItemFailures", [])
    if failures:
        logger.log(level, left_for_later, extra={"failed": len(failures), "records": len(event.get("Records", []))})
    return dict(result)
