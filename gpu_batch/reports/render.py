"""A PDF export request → the report's data from PostgreSQL → the PDF, written to a stream."""

from __future__ import annotations

from datetime import datetime
from typing import IO, Any

from deertrack import db
from deertrack.exports.schemas import PdfExportRequest
from deertrack.logs import logger
from deertrack.reid.crops import UnreadableImage
from deertrack.reports.comparison import PeriodSpec, comparison
from deertrack.reports.deer_profile import DeerNotFound, deer_profile
from deertrack.reports.scope import ReportScope
from deertrack.reports.seasonal import seasonal_activity
from deertrack.settings import get_settings
from deertrack.storage import ObjectMissing, get_bytes
from gpu_batch.crops import crop_jpeg
from gpu_batch.job_run import ExportFailed, JobRun, stored_request
from gpu_batch.reports import comparison as comparison_pdf
from gpu_batch.reports import deer_profile as deer_profile_pdf
from gpu_batch.reports import seasonal_activity as seasonal_pdf
from gpu_batch.reports.deer_profile import PHOTO_SIZE
from gpu_batch.reports.document import ReportOptions

DEFAULT_TITLES = {
    "seasonal_activity": "Seasonal activity report",
    "comparison": "Comparison report",
    "deer_profile": "Deer profile",
}
STEPS = 3  # query, render, upload


def scope_of(req: PdfExportRequest) -> ReportScope:
    return ReportScope(
        start_date=req.start_date,
        end_date=req.end_date,
        location_ids=tuple(req.location_ids or ()),
        classifications=tuple(req.classifications or ()),
        deer_id=req.deer_id,
    )


def filename_for(req: PdfExportRequest) -> str:
    who = f"_deer{req.deer_id}" if req.report_type == "deer_profile" else ""
    return f"{req.report_type}{who}_{req.start_date}_{req.end_date}.pdf"


def options_for(req: PdfExportRequest, generated_at: datetime | None, default_title: str | None = None
                ) -> ReportOptions:
    return ReportOptions(
        title=req.title or default_title or DEFAULT_TITLES[req.report_type],
        include_charts=req.include_charts,
        include_tables=req.include_tables,
        include_insights=req.include_insights,
        group_by=req.group_by,
        generated_at=generated_at,
    )


def render_pdf(request: dict[str, Any], run: JobRun, out: IO[bytes], generated_at: datetime | None = None) -> str:
    """Render the report the request asks for into `out`; returns the file name."""
    req = stored_request(PdfExportRequest, request, "PDF")
    scope = scope_of(req)
    run.progress(0, STEPS, force=True)
    with db.connection() as con:
        if req.report_type == "seasonal_activity":
            data: Any = seasonal_activity(con, scope, req.group_by)
        elif req.report_type == "comparison":
            specs = [PeriodSpec(p.label, p.start_date, p.end_date) for p in req.comparison_periods or []]
            if len(specs) < 2:
                raise ExportFailed("a comparison report needs 2-5 comparison_periods; submit the export again")
            data = comparison(con, scope, specs)
        else:
            try:
                data = deer_profile(con, scope, req.group_by)
            except DeerNotFound as exc:
                raise ExportFailed(f"{exc}; choose another deer") from exc
    run.checkpoint("queried")
    run.progress(1, force=True)

    if req.report_type == "seasonal_activity":
        seasonal_pdf.render(data, options_for(req, generated_at), out)
    elif req.report_type == "comparison":
        comparison_pdf.render(data, options_for(req, generated_at), out)
    else:
        photo, problem = best_photo(data)
        options = options_for(req, generated_at, f"Deer profile: {data.deer['name']}")
        deer_profile_pdf.render(data, options, out, photo, problem)
    run.checkpoint("rendered")
    run.progress(2, force=True)
    return filename_for(req)


def best_photo(data: Any) -> tuple[bytes | None, str | None]:
    if data.best_photo is None:
        return None, None
    bucket = get_settings().images_bucket
    key = data.best_photo.image_s3_key
    try:
        return crop_jpeg(get_bytes(bucket, key), data.best_photo.bbox, PHOTO_SIZE), None
    except ObjectMissing:
        problem = f"image s3://{bucket}/{key} is missing"
    except UnreadableImage as exc:
        problem = f"image s3://{bucket}/{key}: {exc}"
    logger.warning("deer profile photo unavailable",
                   extra={"detection_id": data.best_photo.detection_id, "problem": problem})
    return None, problem
