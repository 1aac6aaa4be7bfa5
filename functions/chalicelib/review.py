"""The review queue (GET /api/review/queue) and undo of a review answer (POST /api/reviews/{id}/undo).
Answers themselves are PATCH /api/detections/{id} (chalicelib/detections.py). Logic: deertrack.reid.review_queue
and deertrack.reid.review."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.access import principal, requires
from chalicelib.http_problems import ANY_CONTENT, INVALID_REQUEST, answers_problems, json_response, problem_reply
from deertrack import db, inputs, openapi
from deertrack.auth import Role
from deertrack.reid.review import undo_review
from deertrack.reid.review_queue import CLOSE_MARGIN, FEW_SIGHTINGS, QUEUE_BEYOND_SCHEMA, QueueQuery, review_queue

review_routes = Blueprint(__name__)

_503 = problem_reply("PostgreSQL unreachable", retry=True)


@review_routes.route("/api/review/queue", methods=["GET"])
@openapi.operation(
    "What to review next, best use of a person's minute first", tags=("review",), query=QueueQuery,
    description=f"Close calls (the two best candidates within {CLOSE_MARGIN}), detections that made a deer with at "
                f"most {FEW_SIGHTINGS} sightings, merge candidates, detections with a corrected class, then every "
                "other undecided detection (lowest best score first). Each item names its `kind`.",
    beyond_schema=QUEUE_BEYOND_SCHEMA,
    responses={200: openapi.Reply("{total, by_kind, limit, offset, next_offset, items}", {"type": "object"}),
               400: INVALID_REQUEST, 503: _503},
)
@requires(Role.VIEWER)
@answers_problems
def get_queue() -> Response:
    params = inputs.query(QueueQuery, review_routes.current_request.query_params)
    with db.reused() as con:
        return json_response(review_queue(con, params), 200)


@review_routes.route("/api/reviews/{review_id}/undo", methods=["POST"], content_types=ANY_CONTENT)
@openapi.operation(
    "Undo a review answer exactly", tags=("review",),
    description="Puts back the detection's deer, class, validity, note and truth row as they were before the "
                "answer, and removes a deer the answer made once nothing else refers to it. A detection's "
                "answers are undone last-first; a detection a merge moved since is refused (409). Any body is "
                "ignored.",
    responses={200: openapi.Reply("What was undone", {"type": "object"}), 400: INVALID_REQUEST,
               404: problem_reply("No such review"),
               409: problem_reply("Already undone, a later answer stands, or a merge moved it since"), 503: _503},
)
@requires(Role.REVIEWER)
@answers_problems
def post_undo(review_id: str) -> Response:
    number = inputs.path_id(review_id, "review_id")
    with db.reused() as con:
        return json_response(undo_review(con, number, principal().user), 200)
