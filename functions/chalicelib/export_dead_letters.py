"""SQS handler logic for the exports dead-letter queue: the queue gave up on these export messages.

Each message's job is marked `failed` ("gave up after N attempts: <last error>") unless it is gone
or already terminal; then the message is consumed, whatever it holds (a body naming no job is
logged, never retried). The one exception is Redis being unreachable: then nothing could be
recorded, so the record is reported in `batchItemFailures` and delivered again later.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.sqs_batches import process_records
from deertrack.exports.failures import handle_dead_letter
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
    return process_records(event, context, handle_record, level=logging.ERROR,
                           left_for_later="dead export messages left for later: Redis unreachable")
