"""Which failures mean "a service the API stands on is down": one vocabulary, one classifier.

A route that loses PostgreSQL, Redis, SQS or S3 in the middle of a request answers `503` with
`Retry-After`, whichever route it is: the decorator every Chalice view has
(`http_problems.answers_problems`) asks `service_down(exc)` about any exception a view lets through.
Only failures to reach a service count (connections refused, reset or timed out, AWS answering
5xx or throttling, a queue or bucket that does not exist yet); an SQL error or an AWS 4xx about
the request itself is a bug, and stays a logged 500.
"""

from __future__ import annotations

import botocore.exceptions
import pg8000.native
import redis

#: The names a 503 gives its service (the `field` of its problem).
POSTGRES, REDIS, SQS, S3 = "postgres", "redis", "sqs", "s3"

#: AWS error codes that mean the service (or the resource the stack should have made) is not there.
_AWS_DOWN_CODES = frozenset({
    "ServiceUnavailable", "InternalError", "InternalFailure", "ThrottlingException", "Throttling",
    "RequestThrottled", "SlowDown", "RequestTimeout", "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist", "NoSuchBucket",
})
_SQS_OPERATIONS = ("SendMessage", "ReceiveMessage", "DeleteMessage", "GetQueue", "ChangeMessage", "PurgeQueue")


def _aws_service(exc: BaseException) -> str:
    operation = getattr(exc, "operation_name", "") or ""
    endpoint = str(getattr(exc, "kwargs", {}).get("endpoint_url", ""))
    return SQS if operation.startswith(_SQS_OPERATIONS) or "sqs" in endpoint else S3


def service_down(exc: BaseException) -> str | None:
    """The service `exc` says could not be reached, or None when it is not an outage."""
    from deertrack.db import DatabaseUnavailable, connection_lost  # db reads the settings: import late

    if isinstance(exc, DatabaseUnavailable | pg8000.native.InterfaceError):
        return POSTGRES
    if connection_lost(exc):  # the server ended the connection (a restart: 57P01), or its socket broke under pg8000
        return POSTGRES
    if isinstance(exc, redis.ConnectionError | redis.TimeoutError | redis.BusyLoadingError | redis.ReadOnlyError):
        return REDIS  # refused, timed out, loading its data after a restart, a replica after a failover
    if isinstance(exc, botocore.exceptions.HTTPClientError | botocore.exceptions.EndpointConnectionError):
        return _aws_service(exc)
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if error.get("Code") in _AWS_DOWN_CODES or status >= 500:
            return _aws_service(exc)
        return None
    if isinstance(exc, ConnectionError | TimeoutError):  # a socket under any client
        return POSTGRES if "pg8000" in type(exc).__module__ else None
    return None
