"""Which failures are a service being down (503 on every route) and which are bugs (500)."""

from __future__ import annotations

import botocore.exceptions
import pg8000.native
import pytest
import redis

from deertrack.db import DatabaseUnavailable
from deertrack.outages import POSTGRES, REDIS, S3, SQS, service_down


def _client_error(code: str, operation: str, status: int = 400) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError(
        {"Error": {"Code": code, "Message": "x"}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation)


def test_postgres_and_redis_outages() -> None:
    assert service_down(DatabaseUnavailable("cannot connect")) == POSTGRES
    assert service_down(pg8000.native.InterfaceError("network error")) == POSTGRES
    assert service_down(redis.ConnectionError("refused")) == REDIS
    assert service_down(redis.BusyLoadingError("loading")) == REDIS
    assert service_down(redis.ReadOnlyError("replica")) == REDIS


def test_aws_outages_name_the_service_and_request_errors_are_not_outages() -> None:
    assert service_down(_client_error("AWS.SimpleQueueService.NonExistentQueue", "SendMessage")) == SQS
    assert service_down(_client_error("SlowDown", "PutObject", 503)) == S3
    assert service_down(_client_error("InternalError", "GetObject", 500)) == S3
    assert service_down(botocore.exceptions.EndpointConnectionError(endpoint_url="http://sqs.local")) == SQS
    assert service_down(_client_error("NoSuchKey", "GetObject", 404)) is None
    assert service_down(_client_error("InvalidParameterValue", "SendMessage")) is None


def test_bugs_are_not_outages() -> None:
    assert service_down(pg8000.native.DatabaseError({"M": "syntax error"})) is None
    assert service_down(redis.ResponseError("WRONGTYPE")) is None
    assert service_down(KeyError("x")) is None


def test_the_server_ending_the_connection_is_postgres_down() -> None:
    # what a fast shutdown (restart), pg_terminate_backend, a crash or a server still starting up sends
    for code in ("57P01", "57P02", "57P03", "08006"):
        error = pg8000.native.DatabaseError({"S": "FATAL", "C": code, "M": "terminating connection"})
        assert service_down(error) == "postgres", code


def test_an_sql_error_is_no_lost_connection() -> None:
    from deertrack.db import connection_lost

    assert not connection_lost(pg8000.native.DatabaseError({"S": "ERROR", "C": "42601", "M": "syntax error"}))
    assert not connection_lost(pg8000.native.DatabaseError("no fields"))
    assert connection_lost(pg8000.native.InterfaceError("network error"))
    assert connection_lost(pg8000.native.DatabaseError({"S": "FATAL", "C": "57P01", "M": "admin shutdown"}))


def test_a_socket_error_is_postgres_down_only_when_pg8000_raised_it() -> None:
    from deertrack.db import connection_lost

    def in_pg8000() -> None:
        code = compile("raise ConnectionResetError(104, 'Connection reset by peer')", "/x/pg8000/core.py", "exec")
        exec(code)  # noqa: S102 - a frame whose file is pg8000's, as when its socket read fails

    with pytest.raises(ConnectionResetError) as raised:
        in_pg8000()
    assert connection_lost(raised.value) and service_down(raised.value) == "postgres"
    elsewhere = ConnectionResetError(104, "Connection reset by peer")
    assert not connection_lost(elsewhere) and service_down(elsewhere) is None
