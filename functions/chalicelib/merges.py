"""Deer merges: suggestions, merging by hand, undo, "not the same", history, and the queued merge job.
Logic: deertrack.reid.merges (PostgreSQL) and deertrack.reid.merge_requests (schemas, the job)."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib import job_status as job_answers
from chalicelib.access import principal, requires
from chalicelib.http_problems import (
    ANY_CONTENT,
    INVALID_REQUEST,
    answers_problems,
    database,
    json_response,
    parse_body,
    parse_query,
    positive_id,
    problem_reply,
)
from deertrack import openapi
from deertrack.auth import Role
from deertrack.problems import NotFound, Problem, RequestInvalid
from deertrack.reid import merge_requests as requests
from deertrack.reid import merges

merge_routes = Blueprint(__name__)


@merge_routes.route("/api/deer/merge-candidates", methods=["GET"])
@requires(Role.VIEWER)
@answers_problems
def list_candidates() -> Response:
    params = parse_query(requests.CandidateQuery, merge_routes.current_request.query_params)
    with database() as con:
        total = con.run("SELECT count(*) FROM deer_merge_candidates")[0][0]
        rows = con.run("SELECT deer_a, deer_b, score, evidence, computed_at FROM deer_merge_candidates"
                       " ORDER BY score DESC, deer_a, deer_b LIMIT :limit OFFSET :offset",
                       limit=params.limit, offset=params.offset)
    items = [{"deer_a": a, "deer_b": b, "score": float(score), "evidence": evidence, "computed_at": at.isoformat(),
              "merge_url": f"/api/deer/{b}/merge", "not_same_url": f"/api/deer/{b}/not-same"}
             for a, b, score, evidence, at in rows]
    next_offset = params.offset + len(items) if params.offset + len(items) < total else None
    return json_response({"total": total, "limit": params.limit, "offset": params.offset,
                          "next_offset": next_offset, "items": items}, 200)


@merge_routes.route("/api/deer/merges", methods=["GET"])
@requires(Role.VIEWER)
@answers_problems
def list_merges() -> Response:
    params = parse_query(requests.MergeHistoryQuery, merge_routes.current_request.query_params)
    with database() as con:
        items = merges.merge_history(con, params.deer_id, params.limit, params.offset)
    return json_response({"limit": params.limit, "offset": params.offset, "items": items}, 200)


@merge_routes.route("/api/deer/{deer_id}/merge", methods=["POST"], content_types=ANY_CONTENT)
@requires(Role.REVIEWER)
@answers_problems
def merge_deer(deer_id: str) -> Response:
    number = positive_id(deer_id, "deer_id")
    request = parse_body(requests.MergeRequest, merge_routes.current_request.raw_body)
    if request.into_deer_id == number:
        raise RequestInvalid([Problem("into_deer_id", "distinct", "into_deer_id must be another deer than deer_id")])
    with database() as con:  # a broken merge rule is a 409 (merges.MergeRefused)
        record = merges.merge_by_hand(con, number, request.into_deer_id, principal().user, request.reason)
    return json_response(record, 200)


@merge_routes.route("/api/deer/merges/{merge_id}/undo", methods=["POST"], content_types=ANY_CONTENT)
@requires(Role.REVIEWER)
@answers_problems
def undo_merge(merge_id: str) -> Response:
    number = positive_id(merge_id, "merge_id")
    with database() as con:
        record = merges.undo_by_hand(con, number, principal().user)
    return json_response(record, 200)


@merge_routes.route("/api/deer/{deer_id}/not-same", methods=["POST"], content_types=ANY_CONTENT)
@requires(Role.REVIEWER)
@answers_problems
def not_same(deer_id: str) -> Response:
    number = positive_id(deer_id, "deer_id")
    request = parse_body(requests.NotSameRequest, merge_routes.current_request.raw_body)
    if request.other_deer_id == number:
        raise RequestInvalid([Problem("other_deer_id", "distinct", "other_deer_id must be another deer than deer_id")])
    with database() as con:
        known = {r[0] for r in con.run("SELECT id FROM deer WHERE id IN (:a, :b)", a=number, b=request.other_deer_id)}
        for missing in sorted({number, request.other_deer_id} - known):
            raise NotFound(f"no deer {missing}")
        merges.record_not_same(con, number, request.other_deer_id, principal().user, request.note)
    a, b = sorted((number, request.other_deer_id))
    return json_response({"deer_a": a, "deer_b": b, "decision": "not_same", "decided_by": principal().user}, 200)


@merge_routes.route("/api/deer/merge-job", methods=["POST"], content_types=ANY_CONTENT)
@requires(Role.ADMIN)
@answers_problems
def start_merge_job() -> Response:
    request = parse_body(requests.MergeJobRequest, merge_routes.current_request.raw_body, empty_ok=True)
    accepted = requests.start_merge_job(request, owner=principal().user)  # a service down: 503
    return job_answers.accepted(accepted, accepted.status_url)


@merge_routes.route("/api/deer/merge-job/{job_id}", methods=["GET"])
@requires(Role.VIEWER)
@answers_problems
def get_merge_job(job_id: str) -> Response:
    return job_answers.job_status(job_id, requests.JOB_TYPE, requests.job_view, "merge job")


# ------------------------------------------------------------------------------------------ OpenAPI

_503 = problem_reply("PostgreSQL unreachable", retry=True)
_404 = problem_reply("No such deer or merge")
_409 = problem_reply("A merge rule forbids it (incompatible sex, seen in the same photo, already merged, "
                     "undo order); the rule is named in `details`")
_PAGE = (openapi.Header("limit", "page size, 1-500 (default 50)"),
         openapi.Header("offset", "rows to skip (default 0)"))
openapi.document(
    "GET", "/api/deer/merge-candidates", summary="Pairs of deer that are probably one animal, best first",
    tags=("deer",), query=_PAGE,
    description="Written by the merge job (nightly, or POST /api/deer/merge-job): sex-compatible pairs never seen "
                "in the same photo whose sightings score at least REID_MERGE_SUGGEST_THRESHOLD, with the evidence.",
    responses={200: openapi.Reply("{total, limit, offset, next_offset, items}", {"type": "object"}),
               400: INVALID_REQUEST, 503: _503},
)
openapi.document(
    "GET", "/api/deer/merges", summary="Merge history (newest first), optionally of one deer", tags=("deer",),
    query=(openapi.Header("deer_id", "only merges that kept or merged this deer"), *_PAGE),
    responses={200: openapi.Reply("{limit, offset, items}", {"type": "object"}), 400: INVALID_REQUEST, 503: _503},
)
openapi.document(
    "POST", "/api/deer/{deer_id}/merge", summary="Merge this deer into another (by hand)", tags=("deer",),
    description="Every detection of the deer moves to into_deer_id; counts, first/last seen, sightings gallery, "
                "score log and reports follow. Recorded (who, when, why) and undoable exactly.",
    request=requests.MergeRequest,
    responses={200: openapi.Reply("The merge record", {"type": "object"}), 400: INVALID_REQUEST, 404: _404,
               409: _409, 503: _503},
)
openapi.document(
    "POST", "/api/deer/merges/{merge_id}/undo", summary="Undo a merge exactly", tags=("deer",),
    description="Puts back the merged deer, its detections, both deer's rows and their score rows as they were. "
                "Merges touching the same deer are undone last-first (409 names the one to undo first).",
    responses={200: openapi.Reply("The merge record, with undone_at", {"type": "object"}), 400: INVALID_REQUEST,
               404: _404, 409: _409, 503: _503},
)
openapi.document(
    "POST", "/api/deer/{deer_id}/not-same", summary="Say two deer are not the same animal", tags=("deer",),
    description="Remembered: the pair is no longer suggested or merged automatically.",
    request=requests.NotSameRequest,
    responses={200: openapi.Reply("The decision", {"type": "object"}), 400: INVALID_REQUEST, 404: _404, 503: _503},
)
openapi.document(
    "POST", "/api/deer/merge-job", summary="Run the merge job now (auto-merge + suggestions)", tags=("deer",),
    request=requests.MergeJobRequest,
    responses={202: openapi.Reply("Queued; poll status_url", requests.MergeJobAccepted,
                                  headers={"Location": "The status URL", "Retry-After": "Seconds between polls"}),
               400: INVALID_REQUEST, 503: problem_reply("Redis or SQS unreachable", retry=True)},
)
openapi.document(
    "GET", "/api/deer/merge-job/{job_id}", summary="Status of a merge job", tags=("deer",),
    responses={200: openapi.Reply("The job", requests.MergeJobView), 404: problem_reply("Unknown or expired"),
               503: problem_reply("Redis unreachable", retry=True)},
)
