"""The JSON the export API answers with on success (pydantic models: they also document the API)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from deertrack.jobs import Job, JobStatus, PublicJob
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


class JobStatusView(PublicJob):
    """200 body of GET /api/exports/{type}/{job_id}."""

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
    download_url: str | None = None
    expires: datetime | None = None
    if job.status is JobStatus.COMPLETED and job.s3_key:
        signed = presigned_get(get_settings().exports_bucket, job.s3_key, job.filename)
        download_url, expires = signed.url, signed.expires_at
    view = JobStatusView(**job.model_dump(include=set(PublicJob.model_fields)),
                         status_url=status_path(job.type, job.job_id), download_url=download_url,
                         download_url_expires_at=expires)
    return view.model_dump(mode="json")
