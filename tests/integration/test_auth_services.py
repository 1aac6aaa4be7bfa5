"""Work nobody asked for over HTTP belongs to a named service identity: export requests dropped in S3
and the scheduled backfill."""

from __future__ import annotations

import json

import pytest

from deertrack import db, storage
from deertrack.auth import S3_REQUESTS_SERVICE, SCHEDULE_SERVICE
from deertrack.backfill.triggers import start_scheduled_backfill
from deertrack.exports.s3_requests import handle_object
from deertrack.jobs import JobStore
from deertrack.s3_events import S3Object
from deertrack.settings import get_settings
from tests.export_api_client import PDF, seed

pytestmark = pytest.mark.integration


def test_an_s3_dropped_request_is_the_s3_services_job(stack) -> None:
    seed()
    bucket = get_settings().requests_bucket
    storage.put_bytes(bucket, "export-requests/rut.json", json.dumps({"export_type": "pdf", **PDF}).encode(),
                      content_type="application/json")
    result = handle_object(S3Object(bucket, "export-requests/rut.json", "ObjectCreated:Put"))
    assert result is not None and result["status"] == "queued", result
    job = JobStore().get(result["job_id"])
    assert job is not None and job.owner == S3_REQUESTS_SERVICE


def test_the_scheduled_backfill_is_the_schedules_run(stack) -> None:
    outcome = start_scheduled_backfill({"time": "2024-01-01T03:00:00Z"})
    with db.connection() as con:
        assert con.run("SELECT requested_by FROM backfill_runs WHERE id = :i", i=outcome["run_id"]) == \
            [[SCHEDULE_SERVICE]]
