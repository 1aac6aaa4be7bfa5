"""The review page: GET /review (its HTML) and GET /review/{asset} (its CSS and JS), static files shipped
beside this module (chalicelib/static/review/). The page holds no data: it calls the JSON API with the
signed-in person's bearer token, so these routes are public."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from chalice import Blueprint, Response

from chalicelib.access import public
from deertrack import openapi
from deertrack.problems import NotFound

review_page_routes = Blueprint(__name__)

STATIC: Final = Path(__file__).resolve().parent / "static" / "review"
TYPES: Final = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
                ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
#: The page loads nothing from elsewhere, runs no inline script, and shows only its own pictures.
SECURITY: Final = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; script-src 'self'; "
                               "style-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _file(name: str) -> Response:
    path = STATIC / name
    if "/" in name or name.startswith(".") or path.suffix not in TYPES or not path.is_file():
        raise NotFound(f"no review page asset {name!r}")
    return Response(body=path.read_text(encoding="utf-8"), status_code=200,
                    headers={"Content-Type": TYPES[path.suffix], "Cache-Control": "no-cache", **SECURITY})


@review_page_routes.route("/review", methods=["GET"])
@public
def review_page() -> Response:
    return _file("index.html")


@review_page_routes.route("/review/{asset}", methods=["GET"])
@public
def review_asset(asset: str) -> Response:
    try:
        return _file(asset)
    except NotFound as problem:
        return Response(body=problem.body(), status_code=404, headers={"Content-Type": "application/json"})


openapi.document("GET", "/review", summary="The review page (HTML; sign in with a token)", tags=("review",),
                 responses={200: openapi.Reply("The page", {"type": "string"}, media_type="text/html")})
openapi.document("GET", "/review/{asset}", summary="The review page's CSS and JavaScript", tags=("review",),
                 responses={200: openapi.Reply("The file", {"type": "string"}),
                            404: openapi.Reply("No such asset", {"type": "object"})})
