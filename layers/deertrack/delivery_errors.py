"""The last error of each failed delivery of an SQS message, kept in Redis by message id, so that the
dead-letter sweep can say why a message that reached its dead-letter queue failed.

SQS keeps a message's id when its redrive policy moves it to the dead-letter queue, and the queue
itself keeps no error; the SQS handlers (functions/chalicelib/sqs_batches.py) record it here on every
failed attempt. Recording is best effort: with Redis down too, the sweep still marks the message,
saying that no error was recorded.
"""

from __future__ import annotations

import redis

from deertrack.logs import logger
from deertrack.redis_client import get_redis, key

#: Long enough for the sweep (every 5 minutes) to read it; a dead letter is marked on its first sweep.
TTL_SECONDS = 86_400
MAX_LENGTH = 500


def _key(message_id: str) -> str:
    return key(f"delivery_error:{message_id}")


def record(message_id: str, error: str) -> None:
    """Remember why this delivery of `message_id` failed (never raises)."""
    try:
        get_redis().set(_key(message_id), error[:MAX_LENGTH], ex=TTL_SECONDS)
    except redis.RedisError as exc:
        logger.warning("delivery error not recorded: Redis unreachable",
                       extra={"message_id": message_id, "error": error[:MAX_LENGTH], "redis_error": str(exc)})


def last(message_id: str) -> str | None:
    """The last recorded error of `message_id`, or None (none recorded, expired, or Redis unreachable)."""
    try:
        return get_redis().get(_key(message_id))
    except redis.RedisError:
        return None
