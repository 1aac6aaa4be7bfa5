"""SQS handler logic for the exports dead-letter queue: the queue gave up on these export messages.

Each message's job is marked `failed` ("gave up after N attempts: <last error>") unless it is gone
or already terminal; then the message is consumed, whatever it holds (a body naming no job is
logged, never retried). The one exception is Redis being unreachable: then nothing could be
recorded, so the record is reported in `batchItemFailures` and delivered again later.
"""

from __future__ import annotations

from typing import Any

import redis
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from deertrack.export_failures import handle_dead_letter
from deertrack.jobs import JobStore
from deertrack.logs import logger


def handle_record(record: SQSRecord) -> None:
    try:
        handle_dead_letter(JobStore(), record.body)
    except redis.RedisError:
        raise  # retried: the failure must be recorded
    except Exception:  # noqa: BLE001 - anything else would never get better by retrying: log, consume
        logger.exception("dead export message could not be handled; consumed", extra={"body": record.body[:1000]})


def process_exports_dead_letters(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    result = process_partial_response(event=event, record_handler=handle_record, processor=processor,
                                      context=context)
    if result.get("batchItemFailures"):
        logger.error("dead export messages left for later: Redis unreachable",
                     extra={"failed": len(result["batchItemFailures"])})
    return dict(result)
