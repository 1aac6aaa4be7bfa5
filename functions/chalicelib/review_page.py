"""The review page: GET /review (its HTML) and GET /review/{asset} (its CSS and JS, static files shipped
beside this module in chalicelib/static/review/, and config.json: where to sign in). The page holds no
data: it calls the JSON API with the signed-in person's bearer token, so these routes are public."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from chalice import Blueprint, Response

from chalicelib.access import public
from chalicelib.http_problems import answers_problems, problem_reply
from deertrack import openapi
from deertrack.problems import NotFound
from deertrack.settings import get_settings

review_page_routes = Blueprint(__name__)

STATIC: Final = Path(__file__).resolve().parent / "static" / "review"
TYPES: Final = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
                ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}


def security_headers() -> dict[str, str]:
    """The page loads nothing from elsewhere, runs no inline script, shows only its own pictures, and talks to
    the API and (when set) the hosted sign-in's token endpoint."""
    hosted = get_settings().auth_hosted_ui_url
    connect = "'self'" + (f" {hosted.rstrip('/')}" if hosted else "")
    return {
        "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; script-src 'self'; "
                                   f"style-src 'self'; connect-src {connect}; frame-ancestors 'none'; "
                                   "base-uri 'none'; form-action 'self'",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }


def sign_in_config() -> dict[str, object]:
    """What the page needs to send people to the Cognito hosted sign-in; null when there is none."""
    settings = get_settings()
    hosted = settings.auth_hosted_ui_url
    return {"hosted_ui": None if not hosted else {"url": hosted.rstrip("/"), "client_id": settings.auth_audience,
                                                  "scopes": "openid email profile"}}


def _file(name: str) -> Response:
    if name == "config.json":
        return Response(body=sign_in_config(), status_code=200,
                        headers={"Content-Type": "application/json", "Cache-Control": "no-cache"})
    if "/" in name or "\x00" in name or name.startswith("."):
        raise NotFound(f"no review page asset {name!r}")
    path = STATIC / name
    if path.suffix not in TYPES or not path.is_file():
        raise NotFound(f"no review page asset {name!r}")
    return Response(body=path.read_text(encoding="utf-8"), status_code=200,
                    headers={"Content-Type": TYPES[path.suffix], "Cache-Control": "no-cache", **security_headers()})


@review_page_routes.route("/review", methods=["GET"])
@openapi.operation("The review page (HTML; sign in with a token)", tags=("review",),
                   responses={200: openapi.Reply("The page", {"type": "string"}, media_type="text/html")})
@public
def review_page() -> Response:
    return _file("index.html")


@review_page_routes.route("/review/{asset}", methods=["GET"])
@openapi.operation("The review page's CSS and JavaScript, and config.json", tags=("review",),
                   description="config.json: {hosted_ui: {url, client_id, scopes} | null}, the Cognito hosted "
                               "sign-in the page offers (AUTH_HOSTED_UI_URL).",
                   responses={200: openapi.Reply("The file", {"type": "string"}, media_type="*/*"),
                              404: problem_reply("No such asset")})
@public
@answers_problems
def review_asset(asset: str) -> Response:
    return _file(asset)
