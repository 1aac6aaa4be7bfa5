"""GET /api/openapi.json: the OpenAPI document of every route of the app (deertrack.openapi)."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.access import declared_roles, public
from deertrack import __version__, openapi

openapi_routes = Blueprint(__name__)


@openapi_routes.route("/api/openapi.json", methods=["GET"])
@public
def openapi_document() -> Response:
    return Response(body=openapi.build_document(version=__version__, roles=declared_roles()), status_code=200,
                    headers={"Content-Type": "application/json"})


openapi.document("GET", "/api/openapi.json", summary="This OpenAPI document", tags=("meta",),
                 responses={200: openapi.Reply("OpenAPI 3.1 document", {"type": "object"})})
# The foundation's health route (functions/chalicelib/health.py) is documented here.
openapi.document("GET", "/api/health", tags=("meta",),
                 summary="State of Redis, PostgreSQL, SQS and S3, and which AWS answers (`aws`: LocalStack and "
                 "its version, moto, or AWS)",
                 responses={200: openapi.Reply("All reachable", {"type": "object"}),
                            503: openapi.Reply("Something is down; `down` names it", {"type": "object"})})
