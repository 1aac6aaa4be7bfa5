"""The re-ID score log: GET /api/reid/scores?detection_id= (every deer a detection was scored against)."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.access import requires
from chalicelib.http_problems import answers_problems, json_response, problem_reply
from deertrack import db, inputs, openapi
from deertrack.auth import Role
from deertrack.problems import NotFound
from deertrack.reid import catalog

reid_routes = Blueprint(__name__)


@reid_routes.route("/api/reid/scores", methods=["GET"])
@openapi.operation(
    "Every logged similarity score of one detection, best first", tags=("reid",), query=catalog.ScoresQuery,
    responses={200: openapi.Reply("{detection_id, count, scores: [{deer_id, deer_name, score, matched, sex_match, "
                                  "threshold_used, …}]}", {"type": "object"}),
               400: problem_reply("detection_id missing or not a positive integer"),
               404: problem_reply("No such detection"),
               503: problem_reply("PostgreSQL unreachable", retry=True)},
)
@requires(Role.VIEWER)
@answers_problems
def get_scores() -> Response:
    params = inputs.query(catalog.ScoresQuery, reid_routes.current_request.query_params)
    with db.reused() as con:
        view = catalog.scores_view(con, params.detection_id)
    if view is None:
        raise NotFound(f"no detection {params.detection_id}")
    return json_response(view, 200)
