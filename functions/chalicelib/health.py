"""GET /api/health: the state of Redis, PostgreSQL, SQS and S3."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.access import public
from deertrack import openapi
from deertrack.health import check_all

health_routes = Blueprint(__name__)


@health_routes.route("/api/health", methods=["GET"])
@openapi.operation(
    "State of Redis, PostgreSQL, SQS and S3, and which AWS answers (`aws`: LocalStack and its version, moto, or AWS)",
    tags=("meta",),
    responses={200: openapi.Reply("All reachable", {"type": "object"}),
               503: openapi.Reply("Something is down; `down` names it", {"type": "object"})},
)
@public
def health() -> Response:
    report = check_all()
    return Response(body=report, status_code=200 if report["status"] == "ok" else 503,
                    headers={"Content-Type": "application/json"})
