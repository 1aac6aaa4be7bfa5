"""The archive writer and the job run's batching, without services (the integration tests run the
same code against S3, Redis and PostgreSQL)."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime

import pytest

from deertrack.exports.schemas import PdfExportRequest, ZipExportRequest
from deertrack.jobs import InvalidTransition, JobStatus
from gpu_batch.archives.detections_zip import write_detections_zip
from gpu_batch.archives.images import Fetched, ImageGroup, image_groups
from gpu_batch.archives.rows import DetectionRow
from gpu_batch.job_run import ExportFailed, JobCancelled, JobRun, stored_request

WHEN = datetime(2023, 10, 5, 6, 30, tzinfo=UTC)


def row(detection_id: int, image_id: int, deer_id: int | None) -> DetectionRow:
    return DetectionRow(
        detection_id=detection_id, image_id=image_id, image_s3_key=f"images/{image_id}.jpg", image_width=640,
        image_height=480, captured_at=WHEN, location_id=1, location_code="CAM-N", location_name="North",
        latitude=44.1, longitude=-73.2, classification="doe", detector_classification="buck", corrected=True,
        confidence=0.9, bbox=(1, 2, 30, 40), deer_id=deer_id, deer_name="Doe A" if deer_id else None, is_valid=True,
        burst_group=None, detected_at=WHEN,
    )


class PipeOnly(io.RawIOBase):
    """A write-only, unseekable stream (like a pipe into a multipart upload)."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        self.chunks.append(bytes(data))
        return len(data)

    def value(self) -> bytes:
        return b"".join(self.chunks)


def test_archive_streams_to_an_unseekable_pipe_with_stored_crops_and_checksums() -> None:
    rows = [row(1, 10, 5), row(2, 10, None), row(3, 11, 5)]
    groups = image_groups(rows)
    assert [len(g.rows) for g in groups] == [2, 1]
    fetched = [Fetched(groups[0], None, [b"\xff\xd8jpeg-1", b"\xff\xd8jpeg-2"]),
               Fetched(groups[1], None, [None], "missing from s3://bucket/images/11.jpg")]
    pipe = PipeOnly()
    seen = []
    summary = write_detections_zip(pipe, rows, iter(fetched), request={"detection_ids": [1, 2, 3]}, job_id="j1",
                                   crop_size=300, generated_at=WHEN, progress=seen.append)
    assert seen == [2, 3]
    archive = zipfile.ZipFile(io.BytesIO(pipe.value()))
    assert archive.namelist() == ["crops/5/1.jpg", "crops/unassigned/2.jpg", "metadata.csv", "manifest.json"]
    assert archive.getinfo("crops/5/1.jpg").compress_type == zipfile.ZIP_STORED
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["counts"] == {"detections": 3, "crops": 2, "missing_images": 1, "detections_without_crop": 1,
                                  "files": 3}
    assert manifest["missing_images"] == [{"detection_id": 3, "image_id": 11, "s3_key": "images/11.jpg",
                                           "reason": "missing from s3://bucket/images/11.jpg"}]
    for entry in manifest["files"]:
        assert hashlib.sha256(archive.read(entry["path"])).hexdigest() == entry["sha256"]
    metadata = archive.read("metadata.csv").decode().splitlines()
    assert metadata[0].startswith("detection_id,image_id,image_s3_key")
    assert metadata[3].endswith(",,missing")
    assert ",doe,buck,true,0.9000," in metadata[1]
    assert summary.crops == 2


class FakeStore:
    """Counts progress writes; a real JobStore is exercised in tests/integration/test_export_zip.py."""

    def __init__(self) -> None:
        self.writes: list[tuple[int, int]] = []
        self.status = JobStatus.PROCESSING

    def progress(self, job_id: str, processed: int, total: int) -> None:
        if self.status is not JobStatus.PROCESSING:
            raise InvalidTransition(job_id, self.status, JobStatus.PROCESSING)
        self.writes.append((processed, total))


def test_progress_is_batched_and_stops_a_cancelled_job() -> None:
    store = FakeStore()
    run = JobRun(store, "j1", progress_every=100, heartbeat_seconds=3600)  # type: ignore[arg-type]
    run.progress(0, 1000, force=True)
    for done in range(1, 1001):
        run.progress(done)
    assert store.writes == [(0, 1000)] + [(n, 1000) for n in range(100, 1001, 100)]
    store.status = JobStatus.CANCELLED
    with pytest.raises(JobCancelled):
        run.progress(1000, force=True)


def test_image_groups_keep_first_appearance_order() -> None:
    rows = [row(1, 20, None), row(2, 10, None), row(3, 20, None)]
    assert [(g.image_id, [r.detection_id for r in g.rows]) for g in image_groups(rows)] == [(20, [1, 3]), (10, [2])]
    assert isinstance(image_groups(rows)[0], ImageGroup)


def test_a_stored_request_that_no_longer_parses_fails_the_export() -> None:
    with pytest.raises(ExportFailed, match=r"not a valid zip request \(1 problems: .*submit the export again"):
        stored_request(ZipExportRequest, {"detection_ids": [1], "crop_size": "huge"})
    with pytest.raises(ExportFailed, match="not a valid PDF request"):
        stored_request(PdfExportRequest, {"report_type": "nope"}, "PDF")
