"""The review queue (GET /api/review/queue) and undo of a review answer (POST /api/reviews/{id}/undo).
Answers themselves are PATCH /api/detections/{id} (chalicelib/detections.py). Logic: deertrack.reid.review_queue
and deertrack.reid.review."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.access import principal, requires
from chalicelib.http_problems import (
    ANY_CONTENT,
    INVALID_REQUEST,
    answers_problems,
    database,
    json_response,
    parse_query,
    positive_id,
    problem_reply,
)
from deertrack import openapi
from deertrack.auth import Role
from deertrack.reid.review import undo_review
from deertrack.reid.review_queue import CLOSE_MARGIN, FEW_SIGHTINGS, QueueQuery, review_queue

review_routes = Blueprint(__name__)


@review_routes.route("/api/review/queue", methods=["GET"])
@requires(Role.VIEWER)
@answers_problems
def get_queue() -> Response:
    params = parse_query(QueueQuery, review_routes.current_request.query_params)
    with database() as con:
        return json_response(review_queue(con, params), 200)


@review_routes.route("/api/reviews/{review_id}/undo", methods=["POST"], content_types=ANY_CONTENT)
@requires(Role.REVIEWER)
@answers_problems
def post_undo(review_id: str) -> Response:
    number = positive_id(review_id, "review_id")
    with database() as con:
        return json_response(undo_review(con, number, principal().user), 200)


# ------------------------------------------------------------------------------------------ OpenAPI

_503 = problem_reply("PostgreSQL unreachable", retry=True)
openapi.document(
    "GET", "/api/review/queue", summary="What to review next, best use of a person's minute first", tags=("review",),
    description=f"Close calls (the two best candidates within {CLOSE_MARGIN}), detections that made a deer with at "
                f"most {FEW_SIGHTINGS} sightings, merge candidates, detections with a corrected class, then every "
                "other undecided detection (lowest best score first). Each item names its `kind`.",
    query=(openapi.Header("kind", "close_call | new_deer | merge_candidate | corrected_class | unreviewed"),
           openapi.Header("camera", "a location code"),
           openapi.Header("start_date", "first capture day, YYYY-MM-DD (UTC)"),
           openapi.Header("end_date", "last capture day, YYYY-MM-DD (UTC), inclusive"),
           openapi.Header("sex", "buck | doe | fawn | unknown (a detection's class, a pair's sex)"),
           openapi.Header("limit", "page size, 1-200 (default 50)"),
           openapi.Header("offset", "items to skip (default 0); the answer's next_offset gives the next page")),
    responses={200: openapi.Reply("{total, by_kind, limit, offset, next_offset, items}", {"type": "object"}),
               400: INVALID_REQUEST, 503: _503},
)
openapi.document(
    "POST", "/api/reviews/{review_id}/undo", summary="Undo a review answer exactly", tags=("review",),
    description="Puts back the detection's deer, class, validity, note and truth row as they were before the "
                "answer, and removes a deer the answer made once nothing else refers to it. A detection's "
                "answers are undone last-first; a detection a merge moved since is refused (409).",
    responses={200: openapi.Reply("What was undone", {"type": "object"}), 400: INVALID_REQUEST,
               404: problem_reply("No such review"),
               409: problem_reply("Already undone, a later answer stands, or a merge moved it since"), 503: _503},
)
