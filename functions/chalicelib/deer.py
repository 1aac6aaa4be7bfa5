"""The deer gallery: GET /api/deer (filtered, paginated) and GET /api/deer/{id} (sightings timeline and
cameras). Logic: deertrack.reid.catalog."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.access import requires
from chalicelib.http_problems import answers_problems, json_response, problem_reply
from deertrack import db, inputs, openapi
from deertrack.auth import Role
from deertrack.problems import NotFound
from deertrack.reid import catalog

deer_routes = Blueprint(__name__)

_503 = problem_reply("PostgreSQL unreachable", retry=True)


@deer_routes.route("/api/deer", methods=["GET"])
@openapi.operation(
    "Known individual deer, filtered and paginated", tags=("deer",), query=catalog.DeerQuery,
    responses={200: openapi.Reply("{total, limit, offset, next_offset, items}", {"type": "object"}),
               400: problem_reply("A bad query parameter, named in `details`"), 503: _503},
)
@requires(Role.VIEWER)
@answers_problems
def list_deer() -> Response:
    params = inputs.query(catalog.DeerQuery, deer_routes.current_request.query_params)
    with db.reused() as con:
        return json_response(catalog.deer_list(con, params), 200)


@deer_routes.route("/api/deer/{deer_id}", methods=["GET"])
@openapi.operation(
    "One deer: sightings timeline (by day or week) and cameras", tags=("deer",), query=catalog.DeerTimelineQuery,
    responses={200: openapi.Reply("The deer with timeline, cameras and recent detections", {"type": "object"}),
               400: problem_reply("Bad deer id or query parameter"), 404: problem_reply("No such deer"), 503: _503},
)
@requires(Role.VIEWER)
@answers_problems
def get_deer(deer_id: str) -> Response:
    number = inputs.path_id(deer_id, "deer_id")
    params = inputs.query(catalog.DeerTimelineQuery, deer_routes.current_request.query_params)
    with db.reused() as con:
        view = catalog.deer_view(con, number, params.by)
    if view is None:
        raise NotFound(f"no deer {number}")
    return json_response(view, 200)
