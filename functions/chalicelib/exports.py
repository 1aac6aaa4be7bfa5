"""The export API: POST a request (202 + job), GET its status, DELETE it. Logic: deertrack.exports."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from chalice import Blueprint, Response

from chalicelib.access import principal, requires
from chalicelib.http_problems import ANY_CONTENT, INVALID_REQUEST, answers_problems, json_response, problem_reply
from deertrack import openapi
from deertrack.auth import Role
from deertrack.exports import cancellation, intake, status
from deertrack.exports.idempotency import HEADER as IDEMPOTENCY_HEADER
from deertrack.exports.idempotency import KEY_PATTERN as IDEMPOTENCY_PATTERN
from deertrack.exports.responses import POLL_AFTER_SECONDS, JobAccepted, JobStatusView
from deertrack.exports.schemas import MAX_RANGE_DAYS, REQUEST_MODELS
from deertrack.jobs import TERMINAL, JobStatus

F = TypeVar("F", bound=Callable[..., Any])

export_routes = Blueprint(__name__)

_PROBLEM_404 = problem_reply("Unknown, expired or removed job (or another export type's)")
_PROBLEM_503 = problem_reply("Redis, SQS, PostgreSQL or S3 unreachable; nothing was created", retry=True)
_DESCRIPTIONS = {
    "pdf": "A PDF report (seasonal_activity, comparison or deer_profile) of the detections in a date range.",
    "zip": "A ZIP of detection crops, metadata.csv and manifest.json; `detection_ids` or `filters`.",
    "camtrap-dp": "A Camtrap DP 1.0.2 package (ZIP) of the selected detections; `detection_ids` or `filters`.",
}


_BEYOND_DATES = {"date_order": "start_date must be before end_date (each comparison period's too)",
                 "max_range": f"a date range spans at most {MAX_RANGE_DAYS} days",
                 "not_future": "no date after today (UTC)"}
_BEYOND = {
    "pdf": {**_BEYOND_DATES, "unique_labels": "comparison period labels are distinct",
            "unknown_id": "location_ids and deer_id name rows that exist"},
    "zip": {**_BEYOND_DATES, "unknown_id": "detection_ids and the filters' ids name rows that exist",
            "no_matches": "the selection matches at least one detection"},
}
_BEYOND["camtrap-dp"] = _BEYOND["zip"]


def _post(export_type: str) -> Callable[[F], F]:
    return openapi.operation(
        f"Request a {export_type} export", tags=("exports",), description=_DESCRIPTIONS[export_type],
        request=REQUEST_MODELS[export_type], beyond_schema=_BEYOND[export_type],
        headers=(openapi.Header(IDEMPOTENCY_HEADER, "Retries with the same key and body return the same job; "
                                "the same key with another body is a 409",
                                schema={"type": "string", "pattern": IDEMPOTENCY_PATTERN}),),
        responses={
            202: openapi.Reply("Job queued (or the earlier answer for this Idempotency-Key)", JobAccepted,
                               headers={"Location": "The status URL", "Retry-After": "Seconds between polls"}),
            400: INVALID_REQUEST,
            409: problem_reply("Idempotency-Key already used with a different body"),
            503: _PROBLEM_503,
        },
    )


def _get(export_type: str) -> Callable[[F], F]:
    return openapi.operation(
        f"Status of a {export_type} export job", tags=("exports",),
        description="queued → processing → completed | failed; cancelled from any unfinished state. "
                    "A completed job carries a presigned `download_url` that expires.",
        responses={200: openapi.Reply("The job", JobStatusView), 404: _PROBLEM_404, 503: _PROBLEM_503},
    )


def _submit(export_type: str) -> Response:
    request = export_routes.current_request
    submitted = intake.accept(export_type, request.raw_body, owner=principal().user,
                              idempotency_key=request.headers.get(IDEMPOTENCY_HEADER.lower()))
    headers = {"Location": submitted.body["status_url"], "Retry-After": str(POLL_AFTER_SECONDS)}
    if submitted.replayed:
        headers["Idempotent-Replayed"] = "true"
    return json_response(submitted.body, 202, headers)


def _status(export_type: str, job_id: str) -> Response:
    view = status.job_status(export_type, job_id, principal())
    unfinished = JobStatus(view["status"]) not in TERMINAL
    return json_response(view, 200, {"Retry-After": str(POLL_AFTER_SECONDS)} if unfinished else None)


@export_routes.route("/api/exports/pdf", methods=["POST"], content_types=ANY_CONTENT)
@_post("pdf")
@requires(Role.VIEWER)
@answers_problems
def create_pdf_export() -> Response:
    return _submit("pdf")


@export_routes.route("/api/exports/zip", methods=["POST"], content_types=ANY_CONTENT)
@_post("zip")
@requires(Role.VIEWER)
@answers_problems
def create_zip_export() -> Response:
    return _submit("zip")


@export_routes.route("/api/exports/camtrap-dp", methods=["POST"], content_types=ANY_CONTENT)
@_post("camtrap-dp")
@requires(Role.VIEWER)
@answers_problems
def create_camtrap_dp_export() -> Response:
    return _submit("camtrap-dp")


@export_routes.route("/api/exports/pdf/{job_id}", methods=["GET"])
@_get("pdf")
@requires(Role.VIEWER)
@answers_problems
def get_pdf_export(job_id: str) -> Response:
    return _status("pdf", job_id)


@export_routes.route("/api/exports/zip/{job_id}", methods=["GET"])
@_get("zip")
@requires(Role.VIEWER)
@answers_problems
def get_zip_export(job_id: str) -> Response:
    return _status("zip", job_id)


@export_routes.route("/api/exports/camtrap-dp/{job_id}", methods=["GET"])
@_get("camtrap-dp")
@requires(Role.VIEWER)
@answers_problems
def get_camtrap_dp_export(job_id: str) -> Response:
    return _status("camtrap-dp", job_id)


@export_routes.route("/api/exports/{job_id}", methods=["DELETE"])
@openapi.operation(
    "Cancel an export job and remove its file", tags=("exports",),
    description="Marks the job cancelled (a worker stops at its next checkpoint), deletes its objects "
                "under exports/{job_id}/ and forgets its status.",
    responses={204: openapi.Reply("Cancelled and removed"), 404: _PROBLEM_404, 503: _PROBLEM_503},
)
@requires(Role.VIEWER)
@answers_problems
def delete_export(job_id: str) -> Response:
    cancellation.cancel(job_id, principal())
    return Response(body="", status_code=204, headers={"Cache-Control": "no-store"})
