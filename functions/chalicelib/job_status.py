"""The answers of queued work that makes no file (backfills, merge jobs, ingest batches): 202 accepted, and the
status of a job."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalice import Response
from pydantic import BaseModel

from chalicelib.access import principal
from chalicelib.http_problems import json_response
from deertrack.exports.responses import POLL_AFTER_SECONDS
from deertrack.jobs import TERMINAL, Job, JobStore
from deertrack.problems import NotFound


def accepted(answer: BaseModel, status_url: str, status: int = 202) -> Response:
    """202 (or an ingest's 207) with the answer, the Location to poll and when to poll it."""
    return json_response(answer.model_dump(mode="json"), status,
                         {"Location": status_url, "Retry-After": str(POLL_AFTER_SECONDS)})


def job_status(job_id: str, job_type: str, view: Callable[[Job], dict[str, Any]], what: str) -> Response:
    """The job's status; 404 when unknown, expired, of another type, or someone else's (not for admins)."""
    job = JobStore().get(job_id)  # Redis down: 503 from answers_problems
    if job is None or job.type != job_type or not principal().sees(job.owner):
        raise NotFound(f"no {what} {job_id} (unknown or expired)")
    headers = None if job.status in TERMINAL else {"Retry-After": str(POLL_AFTER_SECONDS)}
    return json_response(view(job), 200, headers)
