"""The deer gallery: GET /api/deer (filtered, paginated) and GET /api/deer/{id} (sightings timeline and
cameras). Logic: deertrack.reid.catalog."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.access import requires
from chalicelib.http_problems import answers_problems, database, json_response, parse_query, positive_id, problem_reply
from deertrack import openapi
from deertrack.auth import Role
from deertrack.problems import NotFound
from deertrack.reid import catalog

deer_routes = Blueprint(__name__)


@deer_routes.route("/api/deer", methods=["GET"])
@requires(Role.VIEWER)
@answers_problems
def list_deer() -> Response:
    params = parse_query(catalog.DeerQuery, deer_routes.current_request.query_params)
    with database() as con:
        return json_response(catalog.deer_list(con, params), 200)


@deer_routes.route("/api/deer/{deer_id}", methods=["GET"])
@requires(Role.VIEWER)
@answers_problems
def get_deer(deer_id: str) -> Response:
    number = positive_id(deer_id, "deer_id")
    params = parse_query(catalog.DeerTimelineQuery, deer_routes.current_request.query_params)
    with database() as con:
        view = catalog.deer_view(con, number, params.by)
    if view is None:
        raise NotFound(f"no deer {number}")
    return json_response(view, 200)


_QUERY = (
    openapi.Header("sex", "buck | doe | fawn | unknown"),
    openapi.Header("status", "active | inactive | deceased | merged"),
    openapi.Header("min_sightings", "only deer with at least this many valid detections"),
    openapi.Header("limit", "page size, 1-500 (default 50)"),
    openapi.Header("offset", "rows to skip (default 0); the answer's next_offset gives the next page"),
)
openapi.document(
    "GET", "/api/deer", summary="Known individual deer, filtered and paginated", tags=("deer",), query=_QUERY,
    responses={200: openapi.Reply("{total, limit, offset, next_offset, items}", {"type": "object"}),
               400: problem_reply("A bad query parameter, named in `details`"),
               503: problem_reply("PostgreSQL unreachable")},
)
openapi.document(
    "GET", "/api/deer/{deer_id}", summary="One deer: sightings timeline (by day or week) and cameras",
    tags=("deer",), query=(openapi.Header("by", "day (default) | week"),),
    responses={200: openapi.Reply("The deer with timeline, cameras and recent detections", {"type": "object"}),
               400: problem_reply("Bad deer id or query parameter"),
               404: problem_reply("No such deer"),
               503: problem_reply("PostgreSQL unreachable")},
)
