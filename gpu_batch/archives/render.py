"""A ZIP export request → its detections from PostgreSQL, their crops from S3 → the archive."""

from __future__ import annotations

from typing import IO, Any

from deertrack import db
from deertrack.exports.schemas import ZipExportRequest
from deertrack.exports.selection import Selection
from deertrack.jobs import Job
from deertrack.settings import get_settings
from gpu_batch.archives.detections_zip import write_detections_zip
from gpu_batch.archives.images import fetch
from gpu_batch.archives.rows import DetectionRow, selected_rows
from gpu_batch.job_run import ExportFailed, JobRun, Request, stored_request
from gpu_batch.rendered import Rendered

NOTHING_SELECTED = ("no detections match the request any more (deleted or changed since it was made); "
                    "check the filters and submit the export again")


def load_rows(request: dict[str, Any], model: type[Request], run: JobRun) -> tuple[Request, list[DetectionRow]]:
    req = stored_request(model, request)
    with db.connection() as con:
        rows = selected_rows(con, Selection.from_request(req))
    if not rows:
        raise ExportFailed(NOTHING_SELECTED)
    run.checkpoint("selected")
    run.progress(0, len(rows), force=True)
    return req, rows


def zip_filename(job: Job, prefix: str) -> str:
    return f"{prefix}_{job.created_at:%Y%m%d}_{job.job_id[:8]}.zip"


def render_zip(request: dict[str, Any], job: Job, run: JobRun, out: IO[bytes]) -> Rendered:
    req, rows = load_rows(request, ZipExportRequest, run)
    fetched = fetch(get_settings().images_bucket, rows, req.crop_size) if req.include_crops else None
    summary = write_detections_zip(
        out, rows, fetched, request=request, job_id=job.job_id, crop_size=req.crop_size,
        include_metadata_csv=req.include_metadata_csv, progress=run.progress,
    )
    run.progress(len(rows), force=True)
    run.checkpoint("archived")
    return Rendered(zip_filename(job, "detections"), "application/zip", summary.as_log())
