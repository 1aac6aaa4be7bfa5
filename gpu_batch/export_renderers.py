"""Which renderer makes which export: pdf → a report, zip → detection crops, camtrap-dp → a package."""

from __future__ import annotations

from typing import IO, Any

from deertrack.jobs import Job
from gpu_batch.job_run import JobRun
from gpu_batch.rendered import Rendered


def render_export(export_type: str, request: dict[str, Any], job: Job, run: JobRun, out: IO[bytes]) -> Rendered:
    if export_type == "pdf":
        from gpu_batch.reports.render import render_pdf

        return Rendered(render_pdf(request, run, out, generated_at=None), "application/pdf")
    if export_type == "zip":
        from gpu_batch.archives.render import render_zip

        return render_zip(request, job, run, out)
    if export_type == "camtrap-dp":
        from gpu_batch.camtrap_dp import render_camtrap_dp

        return render_camtrap_dp(request, job, run, out)
    raise ValueError(f"unknown export type {export_type!r}")
