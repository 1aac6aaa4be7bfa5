"""ZIP exports through the worker with real S3 (emulator), Redis and PostgreSQL."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from datetime import date

import pytest
from PIL import Image

from deertrack import db
from deertrack.aws import client
from deertrack.exports.selection import Selection, detection_ids
from deertrack.jobs import JobStatus, JobStore
from deertrack.settings import get_settings
from gpu_batch.export_worker import ExportWorker
from tests.export_data import build, enqueue, export_bytes, export_objects, receive_one

pytestmark = pytest.mark.integration

FILTERS = {"filters": {"start_date": "2023-09-01", "end_date": "2023-10-31"}, "crop_size": 160}


@pytest.fixture
def data(stack):
    settings = get_settings()
    with db.connection() as con:
        built = build(con, detections=90, days=60, upload_images=True, images_bucket=settings.images_bucket)
    return built


def download(job_id: str) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(export_bytes(job_id)))


def test_zip_holds_crops_metadata_and_a_manifest_whose_checksums_match(data) -> None:
    missing_image = data.image_ids[0]
    client("s3").delete_object(Bucket=get_settings().images_bucket, Key=data.image_keys[missing_image])
    with db.connection() as con:
        expected = detection_ids(con, Selection.from_request(FILTERS))
        on_missing = {r[0] for r in con.run("SELECT id FROM detections WHERE image_id = :i", i=missing_image)}
    job_id = enqueue("zip", FILTERS, total=len(expected))
    assert ExportWorker().process_message(receive_one()).status == "completed"
    job = JobStore().get(job_id)
    assert job.filename.startswith("detections_") and job.filename.endswith(".zip")
    assert export_objects(job_id) == [job.s3_key]

    archive = download(job_id)
    manifest = json.loads(archive.read("manifest.json"))
    rows = list(csv.DictReader(io.StringIO(archive.read("metadata.csv").decode())))
    assert [int(r["detection_id"]) for r in rows] == expected
    assert manifest["request"] == FILTERS
    assert manifest["counts"]["detections"] == len(expected)
    exported_missing = on_missing & set(expected)
    assert manifest["counts"]["crops"] == len(expected) - len(exported_missing)
    assert {m["detection_id"] for m in manifest["missing_images"]} == exported_missing
    assert all("missing from s3://" in m["reason"] for m in manifest["missing_images"])

    names = set(archive.namelist())
    listed = {f["path"]: f for f in manifest["files"]}
    assert names == set(listed) | {"manifest.json"}
    for path, entry in listed.items():
        content = archive.read(path)
        assert hashlib.sha256(content).hexdigest() == entry["sha256"], path
        assert len(content) == entry["bytes"]
    for row in rows:
        if int(row["detection_id"]) in exported_missing:
            assert row["crop_path"] == "" and row["image_status"] == "missing"
            continue
        folder = row["deer_id"] or "unassigned"
        assert row["crop_path"] == f"crops/{folder}/{row['detection_id']}.jpg"
        info = archive.getinfo(row["crop_path"])
        assert info.compress_type == zipfile.ZIP_STORED
        crop = Image.open(io.BytesIO(archive.read(row["crop_path"])))
        assert crop.format == "JPEG" and max(crop.size) == 160
    assert archive.getinfo("metadata.csv").compress_type == zipfile.ZIP_DEFLATED


def test_detection_ids_without_crops_give_metadata_only(data) -> None:
    chosen = data.detection_ids[:5]
    request = {"detection_ids": chosen, "include_crops": False}
    job_id = enqueue("zip", request, total=5)
    assert ExportWorker().process_message(receive_one()).status == "completed"
    archive = download(job_id)
    assert sorted(archive.namelist()) == ["manifest.json", "metadata.csv"]
    rows = list(csv.DictReader(io.StringIO(archive.read("metadata.csv").decode())))
    assert sorted(int(r["detection_id"]) for r in rows) == sorted(chosen)
    assert {r["image_status"] for r in rows} == {"not_exported"}


def test_progress_is_written_in_batches(data, monkeypatch) -> None:
    from deertrack.jobs import JobStore as Store

    writes = []
    original = Store.progress

    def spy(self, job_id, processed, total):
        writes.append((processed, total))
        return original(self, job_id, processed, total)

    monkeypatch.setattr(Store, "progress", spy)
    job_id = enqueue("zip", {"filters": {"start_date": "2023-09-01", "end_date": "2023-12-31"}})
    assert ExportWorker().process_message(receive_one()).status == "completed"
    total = JobStore().get(job_id).progress.total
    assert total == len(data.detection_ids) - sum(1 for i in range(len(data.detection_ids)) if i % 23 == 0)
    # One write when the selection is known, at most one per batch of 200, one at the end.
    assert 2 <= len(writes) <= 2 + total // 200 + 1
    assert writes[-1] == (total, total)


def test_cancel_while_archiving_leaves_nothing(data) -> None:
    store = JobStore()
    job_id = enqueue("zip", FILTERS)

    def cancel(name: str, jid: str) -> None:
        if name == "archived":
            store.transition(jid, JobStatus.CANCELLED)

    assert ExportWorker(on_checkpoint=cancel).process_message(receive_one()).status == "cancelled"
    assert export_objects(job_id) == []


def test_selection_that_matches_nothing_any_more_fails_with_a_reason(data) -> None:
    job_id = enqueue("zip", {"detection_ids": [10_000_000]})
    assert ExportWorker().process_message(receive_one()).status == "failed"
    assert "no detections match the request any more" in JobStore().get(job_id).error


def test_date_filter_uses_utc_days_inclusive(stack) -> None:
    with db.connection() as con:
        build(con, detections=40, days=30, start=date(2023, 10, 1))
        n = len(detection_ids(con, Selection.from_request({"filters": {"start_date": "2023-10-01",
                                                                      "end_date": "2023-10-30"}})))
    job_id = enqueue("zip", {"filters": {"start_date": "2023-10-01", "end_date": "2023-10-30"},
                             "include_crops": False})
    assert ExportWorker().process_message(receive_one()).status == "completed"
    rows = list(csv.DictReader(io.StringIO(download(job_id).read("metadata.csv").decode())))
    assert len(rows) == n
