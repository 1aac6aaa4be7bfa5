"""The last error of each failed delivery of an SQS message, kept in Redis by message id, so that the
dead-letter sweep can say why a message that reached its dead-letter queue failed.

SQS keeps a message's id when its redrive policy moves it to the dead-letter queue, and the queue
itself keeps no error; the SQS handlers (functions/chalicelib/sqs_batches.py) and the batch workers'
loop (gpu_batch/queue_loop.py) record it here when the delivery that failed was the queue's last
(its receive count reached maxReceiveCount): that error is why the message is dead. Earlier failed
deliveries leave nothing behind (they may still succeed). Recording is best effort: with Redis (or
SQS, for the policy) down too, the sweep still marks the message, saying that no error was recorded.
"""

from __future__ import annotations

import redis

from deertrack.logs import logger
from deertrack.queues import queue_policy
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


def record_if_last(queue_name: str, message_id: str, receive_count: int, error: str) -> None:
    """Record `error` when this delivery was `queue_name`'s last before its dead-letter queue (never raises)."""
    try:
        limit = queue_policy(queue_name).max_receive_count
    except Exception as exc:  # noqa: BLE001 - SQS unreachable: the sweep says no error was recorded
        logger.warning("delivery error not recorded: the queue's redrive policy is unreadable",
                       extra={"queue": queue_name, "message_id": message_id, "error": str(exc)})
        return
    if limit is not None and receive_count >= limit:
        record(message_id, error)


def last(message_id: str) -> str | None:
    """The last recorded error of `message_id`, or None (none recorded, expired, or Redis unreachable)."""
    try:
        return get_redis().get(_key(message_id))
    except redis.RedisError:
        return None
