"""GET /api/health: the state of Redis, PostgreSQL, SQS and S3."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.access import public
from deertrack.health import check_all

health_routes = Blueprint(__name__)


@health_routes.route("/api/health", methods=["GET"])
@public
def health() -> Response:
    report = check_all()
    return Response(body=report, status_code=200 if report["status"] == "ok" else 503,
                    headers={"Content-Type": "application/json"})
