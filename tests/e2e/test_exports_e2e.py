"""Export paths end to end: HTTP POST → SQS → the export worker (in-process) → S3 → HTTP GET
`completed` → download through the presigned URL → the file checked against PostgreSQL."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import urllib.request
import zipfile
from datetime import date

import pytest

from deertrack import db
from deertrack.exports.selection import Selection, detection_ids
from deertrack.settings import get_settings
from gpu_batch import export_worker
from gpu_batch.export_worker import ExportWorker
from tests.camtrap_validation import camtrap_dir, zip_errors
from tests.export_api_client import call
from tests.export_data import build, export_objects, pdf_text, receive_one, sql_counts, upload

pytestmark = pytest.mark.e2e

START, END = date(2023, 9, 1), date(2024, 1, 31)


@pytest.fixture
def data(api):
    with db.connection() as con:
        return build(con, detections=300, days=150)


@pytest.fixture
def images(data):
    upload(data, get_settings().images_bucket)
    return data


def post(api: str, kind: str, body: dict) -> str:
    answer = call("POST", f"{api}/api/exports/{kind}", body)
    assert answer.status == 202, answer.body
    return answer.body["job_id"]


def status(api: str, kind: str, job_id: str) -> dict:
    answer = call("GET", f"{api}/api/exports/{kind}/{job_id}")
    assert answer.status == 200, answer.body
    return answer.body


def work(**kwargs) -> str:
    message = receive_one(visibility_timeout=kwargs.pop("visibility_timeout", None))
    assert message is not None, "no message on the exports queue"
    return ExportWorker(**kwargs).process_message(message).status


def download(api: str, kind: str, job_id: str) -> bytes:
    body = status(api, kind, job_id)
    assert body["status"] == "completed", body
    with urllib.request.urlopen(body["download_url"], timeout=30) as response:
        content = response.read()
    assert len(content) == body["file_size_bytes"]
    return content


def test_seasonal_pdf_shows_the_counts_sql_gives(api, data) -> None:
    job_id = post(api, "pdf", {"report_type": "seasonal_activity", "start_date": START.isoformat(),
                               "end_date": END.isoformat(), "group_by": "month", "title": "North woods 2023"})
    assert status(api, "pdf", job_id)["status"] == "queued"
    assert work() == "completed"
    text = pdf_text(download(api, "pdf", job_id))
    with db.connection() as con:
        counts = sql_counts(con, START, END)
        october = sql_counts(con, date(2023, 10, 1), date(2023, 10, 31))
    assert counts["total"] > 0
    assert f"Detections: {counts['total']:,} (" in text
    for cls in ("buck", "doe", "fawn", "unknown"):
        assert f"{cls} {counts.get(cls, 0):,}" in text
    # The per-month table row for October: buck, doe, fawn, unknown, total.
    row = " ".join(f"{october.get(c, 0):,}" for c in ("buck", "doe", "fawn", "unknown", "total"))
    assert f"Oct 2023 {row}" in " ".join(text.split())
    assert text.count("North woods 2023") == text.count("Range: 2023-09-01 to 2024-01-31") >= 2  # every page


def test_comparison_and_deer_profile_pdfs(api, images) -> None:
    comparison = post(api, "pdf", {
        "report_type": "comparison", "start_date": "2023-09-01", "end_date": "2023-11-30",
        "comparison_periods": [{"label": "Pre-rut", "start_date": "2023-09-01", "end_date": "2023-10-14"},
                               {"label": "Rut", "start_date": "2023-10-15", "end_date": "2023-11-30"}],
    })
    deer_id = images.deer_ids[0]
    profile = post(api, "pdf", {"report_type": "deer_profile", "deer_id": deer_id, "start_date": "2023-09-01",
                                "end_date": "2024-01-31", "group_by": "week"})
    assert work() == "completed" and work() == "completed"
    with db.connection() as con:
        rut = sql_counts(con, date(2023, 10, 15), date(2023, 11, 30))
        sightings = con.run("SELECT count(*) FROM detections WHERE deer_id = :d AND is_valid", d=deer_id)[0][0]
    text = " ".join(pdf_text(download(api, "pdf", comparison)).split())
    assert "Largest changes" in text and f"Rut: 2023-10-15 to 2023-11-30 (47 days): {rut['total']:,} detections" in text
    text = " ".join(pdf_text(download(api, "pdf", profile)).split())
    assert f"Sightings: {sightings:,} in range" in text and "Best photo" in text


def test_zip_holds_crops_metadata_and_matching_checksums(api, images) -> None:
    body = {"filters": {"start_date": "2023-10-01", "end_date": "2023-10-31", "min_confidence": 0.6}, "crop_size": 128}
    job_id = post(api, "zip", body)
    assert work() == "completed"
    archive = zipfile.ZipFile(io.BytesIO(download(api, "zip", job_id)))
    with db.connection() as con:
        expected = detection_ids(con, Selection.from_request(body))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["counts"]["detections"] == manifest["counts"]["crops"] == len(expected)
    for entry in manifest["files"]:
        assert hashlib.sha256(archive.read(entry["path"])).hexdigest() == entry["sha256"]
    rows = list(csv.DictReader(io.StringIO(archive.read("metadata.csv").decode())))
    assert [int(r["detection_id"]) for r in rows] == expected
    crops = [n for n in archive.namelist() if n.startswith("crops/")]
    assert len(crops) == len(expected)
    assert all(archive.getinfo(n).compress_type == zipfile.ZIP_STORED for n in crops)


def test_camtrap_dp_package_validates(api, images) -> None:
    camtrap_dir()
    job_id = post(api, "camtrap-dp", {"filters": {"start_date": "2023-09-01", "end_date": "2023-12-31"},
                                      "include_media": True})
    assert work() == "completed"
    archive = zipfile.ZipFile(io.BytesIO(download(api, "camtrap-dp", job_id)))
    assert zip_errors(archive) == []
    assert any(name.startswith("media/") for name in archive.namelist())


@pytest.mark.parametrize(("kind", "body", "where"), [
    ("pdf", {"report_type": "seasonal_activity", "start_date": "2023-09-01", "end_date": "2024-01-31"}, "rendered"),
    ("zip", {"filters": {"start_date": "2023-09-01", "end_date": "2024-01-31"}}, "selected"),
])
def test_delete_during_rendering_leaves_no_object(api, data, kind, body, where) -> None:
    job_id = post(api, kind, body)
    answers = []

    def delete_now(name: str, jid: str) -> None:
        if name == where:
            answers.append(call("DELETE", f"{api}/api/exports/{jid}").status)

    assert work(on_checkpoint=delete_now) == "cancelled"
    assert answers == [204]
    assert export_objects(job_id) == []
    assert call("GET", f"{api}/api/exports/{kind}/{job_id}").status == 404
    assert receive_one(visibility_timeout=0, wait_seconds=0) is None


def test_poisoned_message_ends_failed_and_in_the_dead_letter_queue(api, data, monkeypatch) -> None:
    from infra.api_server import load_app_module
    from infra.event_sources import EventPump

    def poison(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(export_worker, "render_export", poison)
    job_id = post(api, "pdf", {"report_type": "seasonal_activity", "start_date": "2023-09-01",
                               "end_date": "2023-12-31"})
    outcomes = [work(visibility_timeout=0, retry_backoff_seconds=0) for _ in range(3)]
    assert outcomes == ["retry", "retry", "failed"]
    assert receive_one(visibility_timeout=0, wait_seconds=1) is None  # the redrive moved it

    pump = EventPump(app_module=load_app_module())
    route = next(r for r in pump.sqs_routes if r.decl.handler == "app.handle_exports_dead_letter")
    delivered = pump.deliver(route, wait_seconds=2)
    assert delivered.received == 1 and delivered.failed == 0
    body = status(api, "pdf", job_id)
    assert body["status"] == "failed"
    assert body["error"] == "gave up after 3 attempts: ZeroDivisionError: division by zero"
    assert export_objects(job_id) == []
