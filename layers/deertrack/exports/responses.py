"""The JSON the export API answers with on success (pydantic models: they also document the API)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from deertrack.jobs import Job, JobStatus, Progress, job_to_json
from deertrack.settings import get_settings
from deertrack.storage import presigned_get

#: Seconds a client should wait between status polls of an unfinished job.
POLL_AFTER_SECONDS = 2


def status_path(export_type: str, job_id: str) -> str:
    return f"/api/exports/{export_type}/{job_id}"


class JobAccepted(BaseModel):
    """202 body of POST /api/exports/{pdf,zip,camtrap-dp}."""

    job_id: str
    type: str = Field(description="pdf, zip or camtrap-dp")
    status: JobStatus
    created_at: datetime
    expires_at: datetime = Field(description="When the status is forgotten unless it changes before")
    status_url: str = Field(description="Where to poll the status (also the Location header)")
    total_detections: int | None = Field(None, description="Detections the export will hold (zip, camtrap-dp)")


class JobStatusView(BaseModel):
    """200 body of GET /api/exports/{type}/{job_id}."""

    job_id: str
    type: str
    status: JobStatus
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None = None
    expires_at: datetime
    progress: Progress
    filename: str | None = None
    file_size_bytes: int | None = None
    error: str | None = None
    total_detections: int | None = None
    attempts: int = 0
    status_url: str
    download_url: str | None = Field(None, description="Presigned S3 URL of the file (completed jobs only)")
    download_url_expires_at: datetime | None = None


def accepted(job: Job) -> dict[str, Any]:
    body = JobAccepted(
        job_id=job.job_id, type=job.type, status=job.status, created_at=job.created_at,
        expires_at=job.expires_at, status_url=status_path(job.type, job.job_id),
        total_detections=job.total_detections,
    )
    return body.model_dump(mode="json")


def status_view(job: Job) -> dict[str, Any]:
    """The job as clients see it; a completed job carries a presigned download URL that expires."""
    view = job_to_json(job)
    view["status_url"] = status_path(job.type, job.job_id)
    view["download_url"] = None
    view["download_url_expires_at"] = None
    if job.status is JobStatus.COMPLETED and job.s3_key:
        settings = get_settings()
        view["download_url"] = presigned_get(settings.exports_bucket, job.s3_key, job.filename)
        expires = datetime.now(UTC) + timedelta(seconds=settings.presigned_url_seconds)
        view["download_url_expires_at"] = expires.isoformat().replace("+00:00", "Z")
    return JobStatusView.model_validate(view).model_dump(mode="json")
