"""Structured logs of the export API: JSON lines with job_id for every Redis write/read/miss (with
state and TTL), every enqueue and every cancel."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from deertrack.auth import Principal, Role
from deertrack.exports import cancellation, intake, status
from deertrack.logs import logger
from deertrack.problems import NotFound
from tests.export_api_client import PDF

pytestmark = pytest.mark.integration

ALICE = Principal(user="alice", role=Role.VIEWER)


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(logger.registered_formatter.format(record)))


@pytest.fixture
def log_lines() -> Iterator[list[dict[str, Any]]]:
    handler = _Lines()
    level = logger.log_level
    logger.setLevel("DEBUG")
    logger._logger.addHandler(handler)
    try:
        yield handler.lines
    finally:
        logger._logger.removeHandler(handler)
        logger.setLevel(level)


def _find(lines: list[dict[str, Any]], message: str) -> dict[str, Any]:
    found = [line for line in lines if line["message"] == message]
    assert found, f"no {message!r} in {[line['message'] for line in lines]}"
    return found[-1]


def test_submit_read_and_cancel_are_logged_with_job_id(stack, log_lines) -> None:
    submitted = intake.accept("pdf", json.dumps(PDF).encode(), owner=ALICE.user, idempotency_key="log-1")
    job_id = submitted.job_id
    created = _find(log_lines, "job created")
    assert (created["job_id"], created["redis_op"], created["status"], created["ttl"]) == \
        (job_id, "SET", "queued", 3600)
    assert _find(log_lines, "idempotency key stored")["job_id"] == job_id
    enqueued = _find(log_lines, "message enqueued")
    assert enqueued["job_id"] == job_id and enqueued["queue"].endswith("-exports") and enqueued["level"] == "INFO"

    status.job_status("pdf", job_id, ALICE)
    read = _find(log_lines, "job read")
    assert read["job_id"] == job_id and read["status"] == "queued" and 0 < read["ttl_left"] <= 3600

    cancellation.cancel(job_id, ALICE)
    cancelled = _find(log_lines, "job cancelled")
    assert cancelled["job_id"] == job_id and cancelled["previous_status"] == "queued"
    assert _find(log_lines, "job status changed")["status"] == "cancelled"

    with pytest.raises(NotFound):
        status.job_status("pdf", job_id, ALICE)
    assert _find(log_lines, "job miss")["job_id"] == job_id
    assert _find(log_lines, "status of unknown job")["job_id"] == job_id
    assert all(line["service"] == "deertrack" and "timestamp" in line for line in log_lines)
