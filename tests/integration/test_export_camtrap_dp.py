"""Camtrap DP exports through the worker: the package validates against the 1.0.2 profile and table
schemas, and says what deertrack knows (machine classification, bbox fractions, individuals)."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest

from deertrack import db
from deertrack.aws import client
from deertrack.jobs import JobStore
from deertrack.settings import get_settings
from gpu_batch.export_worker import ExportWorker
from tests.camtrap_validation import camtrap_dir, zip_errors
from tests.export_data import build, enqueue, export_bytes, receive_one

pytestmark = pytest.mark.integration

FILTERS = {"filters": {"start_date": "2023-09-01", "end_date": "2023-10-15"}}


@pytest.fixture
def data(stack):
    camtrap_dir()
    with db.connection() as con:
        return build(con, detections=60, days=45, upload_images=True, images_bucket=get_settings().images_bucket)


def package(job_id: str) -> zipfile.ZipFile:
    data = export_bytes(job_id)
    assert JobStore().get(job_id).filename.startswith("camtrap-dp_")
    return zipfile.ZipFile(io.BytesIO(data))


def table(archive: zipfile.ZipFile, name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(archive.read(name).decode())))


def test_package_validates_and_carries_the_detections(data) -> None:
    job_id = enqueue("camtrap-dp", FILTERS)
    assert ExportWorker().process_message(receive_one()).status == "completed"
    archive = package(job_id)
    assert zip_errors(archive) == []
    assert sorted(archive.namelist()) == ["datapackage.json", "deployments.csv", "media.csv", "observations.csv"]

    with db.connection() as con:
        expected = {r[0]: r for r in con.run(
            "SELECT d.id, d.confidence, d.deer_id, d.bbox_x, i.width, d.corrected_classification IS NOT NULL "
            "FROM detections d JOIN images i ON i.id = d.image_id WHERE d.is_valid "
            "AND i.captured_at >= '2023-09-01' AND i.captured_at < '2023-10-16'")}
    observations = table(archive, "observations.csv")
    assert {int(o["observationID"]) for o in observations} == set(expected)
    for o in observations:
        _, confidence, deer_id, bbox_x, width, corrected = expected[int(o["observationID"])]
        assert o["observationType"] == "animal" and o["scientificName"] == "Odocoileus virginianus"
        assert o["individualID"] == (str(deer_id) if deer_id else "")
        assert abs(float(o["bboxX"]) - bbox_x / width) < 1e-4
        if corrected:
            assert o["classificationMethod"] == "human"
        else:
            assert o["classificationMethod"] == "machine"
            assert abs(float(o["classificationProbability"]) - confidence) < 1e-3
    media = table(archive, "media.csv")
    assert {m["mediaID"] for m in media} == {o["mediaID"] for o in observations}
    assert all(m["filePath"].startswith("s3://") for m in media)
    meta = json.loads(archive.read("datapackage.json"))
    assert meta["project"]["individualAnimals"] is True
    assert {d["deploymentID"] for d in table(archive, "deployments.csv")} == {o["deploymentID"] for o in observations}


def test_package_with_media_holds_the_images(data) -> None:
    missing = data.image_ids[0]
    client("s3").delete_object(Bucket=get_settings().images_bucket, Key=data.image_keys[missing])
    chosen = data.detection_ids[:12]
    job_id = enqueue("camtrap-dp", {"detection_ids": chosen, "include_media": True})
    assert ExportWorker().process_message(receive_one()).status == "completed"
    archive = package(job_id)
    assert zip_errors(archive) == []
    media = table(archive, "media.csv")
    for m in media:
        if m["mediaID"] == str(missing):
            assert m["filePath"].startswith("s3://") and "not in this package" in m["mediaComments"]
        else:
            assert archive.getinfo(m["filePath"]).compress_type == zipfile.ZIP_STORED
            assert archive.read(m["filePath"])[:2] == b"\xff\xd8"  # a JPEG
    # detection_ids may name detections marked invalid: they are blank observations.
    observations = table(archive, "observations.csv")
    assert len(observations) == len(chosen)
    assert any(o["observationType"] == "blank" for o in observations)  # data.detection_ids[0] is invalid
