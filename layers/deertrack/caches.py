"""The process's cached settings and clients, forgotten at once: after the environment changed (the dev
stack started its services, a test switched endpoints or databases), the next call reads it again."""

from __future__ import annotations

from deertrack.aws import reset_clients
from deertrack.db import drop_reused
from deertrack.queues import reset_queue_urls
from deertrack.redis_client import reset_redis
from deertrack.reid.review_queue import ANSWERS as REVIEW_QUEUE_ANSWERS
from deertrack.settings import reset_settings


def reset_caches() -> None:
    """Forget the settings, the AWS clients, the Redis client, the queue URLs, the kept DB connections and the
    kept review-queue pages."""
    reset_settings()
    reset_clients()
    reset_redis()
    reset_queue_urls()
    drop_reused()
    REVIEW_QUEUE_ANSWERS.clear()
