"""Deer merges: suggestions, merging by hand, undo, "not the same", history, and the queued merge job.
Logic: deertrack.reid.merges (PostgreSQL) and deertrack.reid.merge_requests (schemas, the job)."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib import job_status as job_answers
from chalicelib.access import principal, requires
from chalicelib.http_problems import ANY_CONTENT, INVALID_REQUEST, answers_problems, json_response, problem_reply
from deertrack import db, inputs, openapi
from deertrack.auth import Role
from deertrack.reid import merge_requests as requests
from deertrack.reid import merges

merge_routes = Blueprint(__name__)

_503 = problem_reply("PostgreSQL unreachable", retry=True)
_404 = problem_reply("No such deer or merge")
_409 = problem_reply("A merge rule forbids it (incompatible sex, seen in the same photo, already merged, "
                     "undo order); the rule is named in `details`")


@merge_routes.route("/api/deer/merge-candidates", methods=["GET"])
@openapi.operation(
    "Pairs of deer that are probably one animal, best first", tags=("deer",), query=requests.CandidateQuery,
    description="Written by the merge job (nightly, or POST /api/deer/merge-job): sex-compatible pairs never seen "
                "in the same photo whose sightings score at least REID_MERGE_SUGGEST_THRESHOLD, with the evidence.",
    responses={200: openapi.Reply("{total, limit, offset, next_offset, items}", {"type": "object"}),
               400: INVALID_REQUEST, 503: _503},
)
@requires(Role.VIEWER)
@answers_problems
def list_candidates() -> Response:
    params = inputs.query(requests.CandidateQuery, merge_routes.current_request.query_params)
    with db.reused() as con:
        return json_response(merges.candidate_page(con, params.limit, params.offset), 200)


@merge_routes.route("/api/deer/merges", methods=["GET"])
@openapi.operation(
    "Merge history (newest first), optionally of one deer", tags=("deer",), query=requests.MergeHistoryQuery,
    responses={200: openapi.Reply("{limit, offset, items}", {"type": "object"}), 400: INVALID_REQUEST, 503: _503},
)
@requires(Role.VIEWER)
@answers_problems
def list_merges() -> Response:
    params = inputs.query(requests.MergeHistoryQuery, merge_routes.current_request.query_params)
    with db.reused() as con:
        items = merges.merge_history(con, params.deer_id, params.limit, params.offset)
    return json_response({"limit": params.limit, "offset": params.offset, "items": items}, 200)


@merge_routes.route("/api/deer/{deer_id}/merge", methods=["POST"], content_types=ANY_CONTENT)
@openapi.operation(
    "Merge this deer into another (by hand)", tags=("deer",), request=requests.MergeRequest,
    description="Every detection of the deer moves to into_deer_id; counts, first/last seen, sightings gallery, "
                "score log and reports follow. Recorded (who, when, why) and undoable exactly.",
    beyond_schema=requests.PAIR_BEYOND_SCHEMA,
    responses={200: openapi.Reply("The merge record", {"type": "object"}), 400: INVALID_REQUEST, 404: _404,
               409: _409, 503: _503},
)
@requires(Role.REVIEWER)
@answers_problems
def merge_deer(deer_id: str) -> Response:
    number = inputs.path_id(deer_id, "deer_id")
    request = inputs.body(requests.MergeRequest, merge_routes.current_request.raw_body)
    requests.distinct("into_deer_id", request.into_deer_id, number)
    with db.reused() as con:  # a broken merge rule is a 409 (merges.MergeRefused)
        record = merges.merge_by_hand(con, number, request.into_deer_id, principal().user, request.reason)
    return json_response(record, 200)


@merge_routes.route("/api/deer/merges/{merge_id}/undo", methods=["POST"], content_types=ANY_CONTENT)
@openapi.operation(
    "Undo a merge exactly", tags=("deer",),
    description="Puts back the merged deer, its detections, both deer's rows and their score rows as they were. "
                "Merges touching the same deer are undone last-first (409 names the one to undo first). "
                "Any body is ignored.",
    responses={200: openapi.Reply("The merge record, with undone_at", {"type": "object"}), 400: INVALID_REQUEST,
               404: _404, 409: _409, 503: _503},
)
@requires(Role.REVIEWER)
@answers_problems
def undo_merge(merge_id: str) -> Response:
    number = inputs.path_id(merge_id, "merge_id")
    with db.reused() as con:
        record = merges.undo_by_hand(con, number, principal().user)
    return json_response(record, 200)


@merge_routes.route("/api/deer/{deer_id}/not-same", methods=["POST"], content_types=ANY_CONTENT)
@openapi.operation(
    "Say two deer are not the same animal", tags=("deer",), request=requests.NotSameRequest,
    description="Remembered: the pair is no longer suggested or merged automatically.",
    beyond_schema=requests.PAIR_BEYOND_SCHEMA,
    responses={200: openapi.Reply("The decision", {"type": "object"}), 400: INVALID_REQUEST, 404: _404, 503: _503},
)
@requires(Role.REVIEWER)
@answers_problems
def not_same(deer_id: str) -> Response:
    number = inputs.path_id(deer_id, "deer_id")
    request = inputs.body(requests.NotSameRequest, merge_routes.current_request.raw_body)
    requests.distinct("other_deer_id", request.other_deer_id, number)
    with db.reused() as con:
        decision = merges.not_same_by_hand(con, number, request.other_deer_id, principal().user, request.note)
    return json_response(decision, 200)


@merge_routes.route("/api/deer/merge-job", methods=["POST"], content_types=ANY_CONTENT)
@openapi.operation(
    "Run the merge job now (auto-merge + suggestions)", tags=("deer",), request=requests.MergeJobRequest,
    request_required=False, description="Every field is optional; an empty body is `{}`.",
    responses={202: openapi.Reply("Queued; poll status_url", requests.MergeJobAccepted,
                                  headers={"Location": "The status URL", "Retry-After": "Seconds between polls"}),
               400: INVALID_REQUEST, 503: problem_reply("Redis or SQS unreachable", retry=True)},
)
@requires(Role.ADMIN)
@answers_problems
def start_merge_job() -> Response:
    request = inputs.body(requests.MergeJobRequest, merge_routes.current_request.raw_body, empty_ok=True)
    accepted = requests.start_merge_job(request, owner=principal().user)  # a service down: 503
    return job_answers.accepted(accepted, accepted.status_url)


@merge_routes.route("/api/deer/merge-job/{job_id}", methods=["GET"])
@openapi.operation(
    "Status of a merge job", tags=("deer",),
    responses={200: openapi.Reply("The job", requests.MergeJobView), 404: problem_reply("Unknown or expired"),
               503: problem_reply("Redis unreachable", retry=True)},
)
@requires(Role.VIEWER)
@answers_problems
def get_merge_job(job_id: str) -> Response:
    return job_answers.job_status(job_id, requests.JOB_TYPE, requests.job_view, "merge job")
