"""boto3 clients pointed at AWS, or at the emulator named by AWS_ENDPOINT_URL."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

from deertrack.settings import get_settings

_CONFIG = Config(
    retries={"max_attempts": 3, "mode": "standard"},
    connect_timeout=3,
    read_timeout=30,
    s3={"addressing_style": "path"},
)


@lru_cache(maxsize=32)
def _client(service: str, endpoint: str | None, region: str) -> Any:
    if endpoint:
        # Emulators accept any credentials; only set them when none are configured.
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    return boto3.session.Session().client(
        service, endpoint_url=endpoint, region_name=region, config=_CONFIG
    )


def client(service: str) -> Any:
    settings = get_settings()
    return _client(service, settings.aws_endpoint_url, settings.aws_region)


def reset_clients() -> None:
    _client.cache_clear()


def queue_url(name: str) -> str:
    return client("sqs").get_queue_url(QueueName=name)["QueueUrl"]
