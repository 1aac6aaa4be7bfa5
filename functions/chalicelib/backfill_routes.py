"""Backfill and threshold-analysis API: POST /api/reid/backfill (202 + job), GET its status,
GET /api/reid/analysis. Logic: deertrack.backfill.triggers and deertrack.analysis."""

from __future__ import annotations

import json
from typing import Any

from chalice import Blueprint, Response
from pydantic import ValidationError

from chalicelib import job_status as job_answers
from chalicelib.access import principal, requires
from chalicelib.http_problems import (
    ANY_CONTENT,
    INVALID_REQUEST,
    answers_problems,
    database,
    json_response,
    problem_reply,
)
from deertrack import openapi
from deertrack.analysis.threshold import ThresholdAnalysis, analyze
from deertrack.auth import Role
from deertrack.backfill import triggers
from deertrack.problems import Problem, RequestInvalid, problems_from

backfill_routes = Blueprint(__name__)


def _body() -> dict[str, Any]:
    raw = backfill_routes.current_request.raw_body
    if not raw or not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestInvalid([Problem("body", "json", f"body: not valid JSON ({exc})")]) from None
    if not isinstance(body, dict):
        raise RequestInvalid([Problem("body", "object", "body: must be a JSON object")])
    return body


@backfill_routes.route("/api/reid/backfill", methods=["POST"], content_types=ANY_CONTENT)
@requires(Role.ADMIN)
@answers_problems
def start_backfill() -> Response:
    try:
        request = triggers.BackfillRequest.model_validate(_body())
    except ValidationError as exc:
        raise RequestInvalid(problems_from(exc, (), triggers.BackfillRequest)) from None
    accepted = triggers.start_backfill_job(request, owner=principal().user)  # a service down: 503
    return job_answers.accepted(accepted, accepted.status_url)


@backfill_routes.route("/api/reid/backfill/{job_id}", methods=["GET"])
@requires(Role.VIEWER)
@answers_problems
def get_backfill(job_id: str) -> Response:
    return job_answers.job_status(job_id, triggers.JOB_TYPE, triggers.job_view, "backfill job")


@backfill_routes.route("/api/reid/analysis", methods=["GET"])
@requires(Role.VIEWER)
@answers_problems
def get_analysis() -> Response:
    params = backfill_routes.current_request.query_params or {}
    current: float | None = None
    if "threshold" in params:
        try:
            current = float(params["threshold"])
            if not 0.0 <= current <= 1.0:
                raise ValueError
        except ValueError:
            raise RequestInvalid([Problem("threshold", "range", "threshold must be a number between 0 and 1")]) \
                from None
    with database() as con:
        analysis = analyze(con, current_threshold=current)
    return json_response(analysis.model_dump(mode="json"), 200)


_PROBLEM_503 = problem_reply("Redis, SQS or PostgreSQL unreachable; nothing was started", retry=True)
openapi.document(
    "POST", "/api/reid/backfill", summary="Re-score stored embeddings against the current gallery", tags=("reid",),
    description="Plans a backfill run (every detection with an embedding, or `since` / `limit`), puts its shards on "
                "the reid queue and answers its job. Each detection's score rows are replaced whole, with the "
                "threshold in force (or `threshold`). Images are never read again.",
    request=triggers.BackfillRequest,
    responses={
        202: openapi.Reply("Backfill queued (completed at once when nothing is in scope)", triggers.BackfillAccepted,
                           headers={"Location": "The status URL", "Retry-After": "Seconds between polls"}),
        400: INVALID_REQUEST,
        503: _PROBLEM_503,
    },
)
openapi.document(
    "GET", "/api/reid/backfill/{job_id}", summary="Status and progress of a backfill job", tags=("reid",),
    description="queued → processing → completed | failed; progress counts re-scored detections.",
    responses={200: openapi.Reply("The job", triggers.BackfillJobView),
               404: problem_reply("Unknown or expired backfill job"), 503: _PROBLEM_503},
)
openapi.document(
    "GET", "/api/reid/analysis", summary="Threshold analysis of the score log", tags=("reid",),
    description="Score distributions of matched and unmatched pairs; for each candidate threshold the assignment "
                "rate and new deer, and where true identities are known precision, recall and open-set "
                "accuracies; a recommended threshold with its reason (`deertrack reid analyze` writes the same as "
                "a report with plots).",
    query=(openapi.Header("threshold", "the threshold to compare with (default REID_THRESHOLD)"),),
    responses={200: openapi.Reply("The analysis", ThresholdAnalysis),
               400: problem_reply("Invalid threshold"), 503: _PROBLEM_503},
)
