"""The Redis connection and the key namespace (REDIS_KEY_PREFIX lets tests share a server)."""

from __future__ import annotations

from functools import lru_cache

import redis

from deertrack.settings import get_settings


@lru_cache(maxsize=4)
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url, decode_responses=True, socket_connect_timeout=2, socket_timeout=5, health_check_interval=30
    )


def get_redis() -> redis.Redis:
    return _redis(get_settings().redis_url)


def reset_redis() -> None:
    _redis.cache_clear()


def key(name: str) -> str:
    """A key in this deployment's namespace, e.g. key('export_job:abc') -> '<prefix>export_job:abc'."""
    return f"{get_settings().redis_key_prefix}{name}"
