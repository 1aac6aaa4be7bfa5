"""The export API over real HTTP: POST → 202 + status in Redis + one SQS message, GET, DELETE,
idempotency, database-backed rules, and outages answered 503 with nothing half-made."""

from __future__ import annotations

import urllib.request
from datetime import timedelta

import pytest

from deertrack import storage
from deertrack.aws import client
from deertrack.exports.schemas import today_utc
from deertrack.jobs import JobStatus, JobStore
from deertrack.settings import get_settings
from tests.conftest import reset_caches
from tests.export_api_client import PDF, ZIP_FILTERS, call, export_messages, redis_keys, seed

pytestmark = pytest.mark.integration
TODAY = today_utc()


# ------------------------------------------------------------------------------------------ POST → 202


def test_pdf_request_is_queued(api) -> None:
    answer = call("POST", f"{api}/api/exports/pdf", PDF)
    assert answer.status == 202, answer.body
    body = answer.body
    assert set(body) >= {"job_id", "status", "created_at", "status_url", "type", "expires_at"}
    assert body["status"] == "queued" and body["type"] == "pdf"
    assert body["status_url"] == f"/api/exports/pdf/{body['job_id']}"
    assert answer.headers["Location"] == body["status_url"]
    assert int(answer.headers["Retry-After"]) > 0
    job = JobStore().get(body["job_id"])
    assert job is not None and job.status is JobStatus.QUEUED
    assert job.request["group_by"] == "month" and job.request["include_charts"] is True
    assert 0 < get_settings().job_ttl_seconds - 5 <= JobStore().redis.ttl(f"{get_settings().redis_key_prefix}"
                                                                           f"export_job:{body['job_id']}")
    [message] = export_messages()
    assert (message.job_id, message.export_type, message.version) == (body["job_id"], "pdf", 1)
    assert message.request == job.request


def test_zip_request_records_total_detections(api) -> None:
    seed()
    answer = call("POST", f"{api}/api/exports/zip", {**ZIP_FILTERS, "crop_size": 256})
    assert answer.status == 202, answer.body
    assert answer.body["total_detections"] == 5  # the invalid detection is not exported
    job = JobStore().get(answer.body["job_id"])
    assert job is not None and job.total_detections == 5 and job.progress.total == 5
    assert job.request["crop_size"] == 256 and job.request["include_crops"] is True
    [message] = export_messages()
    assert message.export_type == "zip"


def test_zip_filters_narrow_the_count(api) -> None:
    data = seed()
    filters = {**ZIP_FILTERS["filters"], "location_ids": [data.location_ids[1]], "classifications": ["doe", "buck"],
               "min_confidence": 0.55}
    answer = call("POST", f"{api}/api/exports/zip", {"filters": filters})
    assert answer.status == 202, answer.body
    assert answer.body["total_detections"] == 2
    answer = call("POST", f"{api}/api/exports/zip", {"filters": {**ZIP_FILTERS["filters"],
                                                                 "deer_ids": [data.deer_ids[0]]}})
    assert answer.body["total_detections"] == 2


def test_zip_by_detection_ids(api) -> None:
    data = seed()
    answer = call("POST", f"{api}/api/exports/zip", {"detection_ids": data.detection_ids[:3]})
    assert answer.status == 202, answer.body
    assert answer.body["total_detections"] == 3


def test_camtrap_dp_request_is_queued(api) -> None:
    seed()
    answer = call("POST", f"{api}/api/exports/camtrap-dp", {**ZIP_FILTERS, "include_media": True})
    assert answer.status == 202, answer.body
    assert answer.body["type"] == "camtrap-dp"
    [message] = export_messages()
    assert message.export_type == "camtrap-dp" and message.request["include_media"] is True
    status = call("GET", f"{api}{answer.body['status_url']}")
    assert status.status == 200 and status.body["status"] == "queued"


def test_today_is_allowed(api) -> None:
    body = {**PDF, "start_date": str(TODAY - timedelta(days=30)), "end_date": str(TODAY)}
    assert call("POST", f"{api}/api/exports/pdf", body).status == 202


def test_any_content_type_is_read_as_json(api) -> None:
    answer = call("POST", f"{api}/api/exports/pdf", PDF, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status == 202, answer.body


# ------------------------------------------------------------------------------------------ rules needing the database


def test_unknown_location_and_deer_ids_are_named(api) -> None:
    data = seed()
    body = {**PDF, "report_type": "deer_profile", "deer_id": 77, "location_ids": [data.location_ids[0], 41, 42]}
    answer = call("POST", f"{api}/api/exports/pdf", body)
    assert answer.status == 400
    details = {d["field"]: d for d in answer.body["details"]}
    assert details["location_ids"]["rule"] == "unknown_id"
    assert details["location_ids"]["message"].endswith("unknown location ids: 41, 42")
    assert details["deer_id"]["message"].endswith("unknown deer id: 77")


def test_unknown_detection_ids_are_named(api) -> None:
    data = seed()
    answer = call("POST", f"{api}/api/exports/zip", {"detection_ids": [data.detection_ids[0], 9001, 9002]})
    assert answer.status == 400
    assert answer.problems() == [("detection_ids", "unknown_id")]
    assert "9001, 9002" in answer.body["details"][0]["message"]


def test_unknown_filter_ids_are_named(api) -> None:
    seed()
    answer = call("POST", f"{api}/api/exports/camtrap-dp",
                  {"filters": {**ZIP_FILTERS["filters"], "location_ids": [500], "deer_ids": [600]}})
    assert answer.status == 400
    assert sorted(answer.problems()) == [("filters.deer_ids", "unknown_id"), ("filters.location_ids", "unknown_id")]


def test_a_selection_matching_nothing_is_a_400_and_queues_nothing(api) -> None:
    seed()
    answer = call("POST", f"{api}/api/exports/zip", {"filters": {"start_date": "2023-01-01", "end_date": "2023-02-01"}})
    assert answer.status == 400
    assert answer.problems() == [("filters", "no_matches")]
    assert export_messages() == [] and redis_keys() == []


# ------------------------------------------------------------------------------------------ status


def _queued(api: str, kind: str = "pdf", body: dict | None = None) -> str:
    answer = call("POST", f"{api}/api/exports/{kind}", body or PDF)
    assert answer.status == 202, answer.body
    return answer.body["job_id"]


def test_status_of_each_state(api) -> None:
    store = JobStore()
    job_id = _queued(api)
    url = f"{api}/api/exports/pdf/{job_id}"

    queued = call("GET", url)
    assert queued.status == 200 and queued.body["status"] == "queued"
    assert queued.body["progress"] == {"processed": 0, "total": 0, "percent": 0.0}
    assert queued.body["download_url"] is None and "request" not in queued.body and "s3_key" not in queued.body
    assert "Retry-After" in queued.headers

    store.transition(job_id, JobStatus.PROCESSING)
    store.progress(job_id, 30, 40)
    processing = call("GET", url).body
    assert processing["status"] == "processing" and processing["progress"]["percent"] == 75.0
    assert processing["attempts"] == 1

    key = f"exports/{job_id}/report.pdf"
    storage.put_bytes(get_settings().exports_bucket, key, b"%PDF-1.4 test", "application/pdf")
    store.transition(job_id, JobStatus.COMPLETED, s3_key=key, filename="report.pdf", file_size_bytes=13)
    completed = call("GET", url)
    assert completed.body["status"] == "completed" and completed.body["completed_at"]
    assert completed.body["filename"] == "report.pdf" and completed.body["file_size_bytes"] == 13
    assert completed.body["download_url_expires_at"] and "Retry-After" not in completed.headers
    with urllib.request.urlopen(completed.body["download_url"], timeout=10) as download:
        assert download.read() == b"%PDF-1.4 test"
        assert "report.pdf" in download.headers["Content-Disposition"]

    failed_id = _queued(api)
    store.transition(failed_id, JobStatus.FAILED, error="no images reachable")
    failed = call("GET", f"{api}/api/exports/pdf/{failed_id}").body
    assert failed["status"] == "failed" and failed["error"] == "no images reachable" and failed["download_url"] is None


def test_unknown_wrong_type_and_malformed_ids_are_404(api) -> None:
    job_id = _queued(api)
    for url in (f"{api}/api/exports/zip/{job_id}", f"{api}/api/exports/camtrap-dp/{job_id}",
                f"{api}/api/exports/pdf/{'0' * 32}", f"{api}/api/exports/pdf/not%20an%20id"):
        answer = call("GET", url)
        assert answer.status == 404, url
        assert answer.body["error"] == "not_found"


def test_expired_job_is_404(api) -> None:
    job_id = _queued(api)
    JobStore().redis.delete(f"{get_settings().redis_key_prefix}export_job:{job_id}")  # what the TTL does
    assert call("GET", f"{api}/api/exports/pdf/{job_id}").status == 404


def test_lifecycle_with_a_worker_stand_in(api) -> None:
    """The worker's side, driven as a worker would: message → processing → progress → file → completed."""
    seed()
    job_id = _queued(api, "zip", ZIP_FILTERS)
    [message] = export_messages()
    store = JobStore()
    job = store.get(message.job_id)
    assert job is not None and job.status is JobStatus.QUEUED
    store.transition(job_id, JobStatus.PROCESSING)
    seen = []
    for done in (2, 4, 5):
        store.progress(job_id, done, job.total_detections or 0)
        seen.append(call("GET", f"{api}/api/exports/zip/{job_id}").body["progress"]["percent"])
    assert seen == [40.0, 80.0, 100.0]
    key = f"exports/{job_id}/export.zip"
    storage.put_bytes(get_settings().exports_bucket, key, b"PK\x05\x06" + b"\0" * 18, "application/zip")
    store.transition(job_id, JobStatus.COMPLETED, s3_key=key, filename="export.zip", file_size_bytes=22)
    done = call("GET", f"{api}/api/exports/zip/{job_id}").body
    assert done["status"] == "completed" and done["download_url"]
    with pytest.raises(Exception, match="completed"):  # a terminal state never goes back
        store.transition(job_id, JobStatus.PROCESSING)


# ------------------------------------------------------------------------------------------ DELETE


def test_delete_a_queued_job(api) -> None:
    job_id = _queued(api)
    answer = call("DELETE", f"{api}/api/exports/{job_id}")
    assert answer.status == 204 and answer.raw == b""
    assert call("GET", f"{api}/api/exports/pdf/{job_id}").status == 404
    assert redis_keys("export_job:*") == []
    assert call("DELETE", f"{api}/api/exports/{job_id}").status == 404


def test_delete_a_processing_job_cancels_it_and_removes_its_files(api) -> None:
    job_id = _queued(api)
    store = JobStore()
    store.transition(job_id, JobStatus.PROCESSING)
    bucket = get_settings().exports_bucket
    storage.put_bytes(bucket, f"exports/{job_id}/part-1", b"partial")
    storage.put_bytes(bucket, "exports/other-job/keep", b"other")
    seen = []
    real_delete = JobStore.delete

    def watching_delete(self, job_id_: str) -> bool:  # what a worker checking in before the key goes sees
        job = self.get(job_id_)
        seen.append(job.status if job else None)
        return real_delete(self, job_id_)

    JobStore.delete = watching_delete  # type: ignore[method-assign]
    try:
        assert call("DELETE", f"{api}/api/exports/{job_id}").status == 204
    finally:
        JobStore.delete = real_delete  # type: ignore[method-assign]
    assert seen == [JobStatus.CANCELLED]
    keys = [o["Key"] for o in client("s3").list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == ["exports/other-job/keep"]
    assert store.get(job_id) is None


def test_delete_a_completed_job_removes_its_file(api) -> None:
    job_id = _queued(api)
    store = JobStore()
    store.transition(job_id, JobStatus.PROCESSING)
    key = f"exports/{job_id}/report.pdf"
    storage.put_bytes(get_settings().exports_bucket, key, b"%PDF")
    store.transition(job_id, JobStatus.COMPLETED, s3_key=key, filename="report.pdf", file_size_bytes=4)
    assert call("DELETE", f"{api}/api/exports/{job_id}").status == 204
    assert not storage.exists(get_settings().exports_bucket, key)


def test_delete_unknown_is_404_and_routes_do_not_shadow(api) -> None:
    assert call("DELETE", f"{api}/api/exports/{'a' * 32}").status == 404
    job_id = _queued(api)
    # GET /api/exports/pdf/{id} and DELETE /api/exports/{id} each reach their own view.
    assert call("GET", f"{api}/api/exports/pdf/{job_id}").status == 200
    assert call("DELETE", f"{api}/api/exports/pdf").status in (404, 405)
    assert call("GET", f"{api}/api/exports/pdf/{job_id}").status == 200
    assert call("DELETE", f"{api}/api/exports/{job_id}").status == 204


# ------------------------------------------------------------------------------------------ idempotency


def test_a_retried_post_gets_the_same_job(api) -> None:
    headers = {"Idempotency-Key": "order-42"}
    first = call("POST", f"{api}/api/exports/pdf", PDF, headers=headers)
    reordered = dict(reversed(list(PDF.items())))
    again = call("POST", f"{api}/api/exports/pdf", reordered, headers=headers)
    assert first.status == again.status == 202
    assert again.body == first.body
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert len(export_messages()) == 1 and len(redis_keys("export_job:*")) == 1
    assert len(redis_keys("export_idempotency:*")) == 1


def test_same_key_with_another_body_is_409(api) -> None:
    headers = {"Idempotency-Key": "order-43"}
    first = call("POST", f"{api}/api/exports/pdf", PDF, headers=headers)
    other = call("POST", f"{api}/api/exports/pdf", {**PDF, "group_by": "week"}, headers=headers)
    assert first.status == 202 and other.status == 409
    assert other.body["error"] == "idempotency_conflict"
    assert other.problems() == [("Idempotency-Key", "same_body")]
    seed()
    elsewhere = call("POST", f"{api}/api/exports/zip", ZIP_FILTERS, headers=headers)
    assert elsewhere.status == 409
    assert len(export_messages()) == 1


def test_without_a_key_every_post_is_a_new_job(api) -> None:
    ids = {call("POST", f"{api}/api/exports/pdf", PDF).body["job_id"] for _ in range(2)}
    assert len(ids) == 2


# ------------------------------------------------------------------------------------------ outages


def test_redis_down_is_503_and_nothing_is_sent(api, monkeypatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    reset_caches()
    answer = call("POST", f"{api}/api/exports/pdf", PDF, headers={"Idempotency-Key": "k-1"})
    assert answer.status == 503, answer.body
    assert answer.body["error"] == "service_unavailable" and answer.body["details"][0]["field"] == "redis"
    assert int(answer.headers["Retry-After"]) > 0
    assert call("GET", f"{api}/api/exports/pdf/{'a' * 32}").status == 503
    assert call("DELETE", f"{api}/api/exports/{'a' * 32}").status == 503
    monkeypatch.delenv("REDIS_URL")
    reset_caches()
    assert export_messages() == [] and redis_keys() == []


def test_sqs_down_is_503_and_no_status_is_left(api) -> None:
    sqs = client("sqs")
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=get_settings().exports_queue_name)["QueueUrl"])
    reset_caches()
    answer = call("POST", f"{api}/api/exports/pdf", PDF, headers={"Idempotency-Key": "k-2"})
    assert answer.status == 503, answer.body
    assert answer.body["details"][0]["field"] == "sqs"
    assert "Retry-After" in answer.headers
    assert redis_keys() == []  # neither the status nor the idempotency key


def test_postgres_down_is_503(api, monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://deertrack@127.0.0.1:1/nowhere")
    reset_caches()
    answer = call("POST", f"{api}/api/exports/zip", ZIP_FILTERS)
    assert answer.status == 503 and answer.body["details"][0]["field"] == "postgres"
    assert redis_keys() == []


# ------------------------------------------------------------------------------------------ OpenAPI


def test_openapi_document_is_served(api) -> None:
    answer = call("GET", f"{api}/api/openapi.json")
    assert answer.status == 200
    doc = answer.body
    assert doc["openapi"].startswith("3.")
    post = doc["paths"]["/api/exports/pdf"]["post"]
    ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"report_type", "start_date", "end_date"}
    assert "delete" in doc["paths"]["/api/exports/{job_id}"]


def test_postgres_down_still_answers_the_problems_it_can_see(api, monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://deertrack@127.0.0.1:1/nowhere")
    reset_caches()
    answer = call("POST", f"{api}/api/exports/pdf", {**PDF, "group_by": "year", "location_ids": [1]})
    assert answer.status == 400 and answer.problems() == [("group_by", "enum")]


def test_outage_details_do_not_leak_addresses(api, monkeypatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    reset_caches()
    answer = call("POST", f"{api}/api/exports/pdf", PDF)
    assert answer.status == 503 and "127.0.0.1" not in answer.raw.decode()
