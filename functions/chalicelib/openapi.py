"""GET /api/openapi.json: the OpenAPI document of every route of the app, derived from its routes
(deertrack.openapi)."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.access import declared_roles, public
from deertrack import __version__, openapi

openapi_routes = Blueprint(__name__)


@openapi_routes.route("/api/openapi.json", methods=["GET"])
@openapi.operation("This OpenAPI document", tags=("meta",),
                   responses={200: openapi.Reply("OpenAPI 3.1 document", {"type": "object"})})
@public
def openapi_document() -> Response:
    return Response(body=openapi.build_document(version=__version__, roles=declared_roles()), status_code=200,
                    headers={"Content-Type": "application/json"})
