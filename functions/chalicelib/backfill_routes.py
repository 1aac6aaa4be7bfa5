"""Backfill and threshold-analysis API: POST /api/reid/backfill (202 + job), GET its status,
GET /api/reid/analysis. Logic: deertrack.backfill.triggers and deertrack.analysis."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib import job_status as job_answers
from chalicelib.access import principal, requires
from chalicelib.http_problems import ANY_CONTENT, INVALID_REQUEST, answers_problems, json_response, problem_reply
from deertrack import db, inputs, openapi
from deertrack.analysis.threshold import AnalysisQuery, ThresholdAnalysis, analyze
from deertrack.auth import Role
from deertrack.backfill import triggers

backfill_routes = Blueprint(__name__)

_PROBLEM_503 = problem_reply("Redis, SQS or PostgreSQL unreachable; nothing was started", retry=True)


@backfill_routes.route("/api/reid/backfill", methods=["POST"], content_types=ANY_CONTENT)
@openapi.operation(
    "Re-score stored embeddings against the current gallery", tags=("reid",), request=triggers.BackfillRequest,
    request_required=False,
    description="Plans a backfill run (every detection with an embedding, or `since` / `limit`), puts its shards on "
                "the reid queue and answers its job. Each detection's score rows are replaced whole, with the "
                "threshold in force (or `threshold`). Images are never read again. Every field is optional: an "
                "empty body (or `{}`) re-scores everything.",
    responses={
        202: openapi.Reply("Backfill queued (completed at once when nothing is in scope)", triggers.BackfillAccepted,
                           headers={"Location": "The status URL", "Retry-After": "Seconds between polls"}),
        400: INVALID_REQUEST,
        503: _PROBLEM_503,
    },
)
@requires(Role.ADMIN)
@answers_problems
def start_backfill() -> Response:
    request = inputs.body(triggers.BackfillRequest, backfill_routes.current_request.raw_body, empty_ok=True)
    accepted = triggers.start_backfill_job(request, owner=principal().user)  # a service down: 503
    return job_answers.accepted(accepted, accepted.status_url)


@backfill_routes.route("/api/reid/backfill/{job_id}", methods=["GET"])
@openapi.operation(
    "Status and progress of a backfill job", tags=("reid",),
    description="queued → processing → completed | failed; progress counts re-scored detections.",
    responses={200: openapi.Reply("The job", triggers.BackfillJobView),
               404: problem_reply("Unknown or expired backfill job"), 503: _PROBLEM_503},
)
@requires(Role.VIEWER)
@answers_problems
def get_backfill(job_id: str) -> Response:
    return job_answers.job_status(job_id, triggers.JOB_TYPE, triggers.job_view, "backfill job")


@backfill_routes.route("/api/reid/analysis", methods=["GET"])
@openapi.operation(
    "Threshold analysis of the score log", tags=("reid",), query=AnalysisQuery,
    description="Score distributions of matched and unmatched pairs; for each candidate threshold the assignment "
                "rate and new deer, and where true identities are known precision, recall and open-set "
                "accuracies; a recommended threshold with its reason (`deertrack reid analyze` writes the same as "
                "a report with plots).",
    responses={200: openapi.Reply("The analysis", ThresholdAnalysis),
               400: problem_reply("Invalid threshold"), 503: _PROBLEM_503},
)
@requires(Role.VIEWER)
@answers_problems
def get_analysis() -> Response:
    params = inputs.query(AnalysisQuery, backfill_routes.current_request.query_params)
    with db.reused() as con:
        analysis = analyze(con, current_threshold=params.threshold)
    return json_response(analysis.model_dump(mode="json"), 200)
