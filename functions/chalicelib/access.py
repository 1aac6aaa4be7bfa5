"""Who may call each route: a route declares its minimum role next to its route decorator, and the app's one
HTTP middleware (`guard`) checks it against the verified token's claims before the view runs.

    @deer_routes.route("/api/deer/{deer_id}/merge", methods=["POST"], content_types=ANY_CONTENT)
    @requires(Role.REVIEWER)
    @answers_problems
    def merge_deer(deer_id: str) -> Response:
        actor = principal().user
        ...

`@public` marks the routes that need no token (health, the OpenAPI document; template.yaml gives them
`Auth: {Authorizer: NONE}`). A route with neither is refused to everyone (403), and tests fail on it.
The claims come from API Gateway's JWT authorizer, or locally from infra/api_server.py, at
`requestContext.authorizer.jwt.claims`; the token itself is never read here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar

from chalice import Chalice, Response
from chalice.app import Request

from chalicelib.http_problems import json_response
from deertrack import openapi
from deertrack.auth import Principal, Role, principal_from_claims
from deertrack.logs import logger
from deertrack.problems import ApiProblem, Forbidden, Unauthorized

F = TypeVar("F", bound=Callable[..., Any])

#: The attribute a view's declaration is kept in (functools.wraps carries it to outer wrappers).
ROLE_ATTRIBUTE: Final = "minimum_role"
#: The declaration of a route that needs no token (the same word the OpenAPI document uses).
PUBLIC: Final = openapi.PUBLIC

_app: Chalice | None = None


def requires(role: Role | str) -> Callable[[F], F]:
    """Declare the least role that may call this route (viewer < reviewer < admin)."""
    needed = Role(role)

    def declare(view: F) -> F:
        setattr(view, ROLE_ATTRIBUTE, needed)
        return view

    return declare


def public(view: F) -> F:
    """Declare a route that anyone may call, without a token."""
    setattr(view, ROLE_ATTRIBUTE, PUBLIC)
    return view


def declared_role(view: Callable[..., Any]) -> Role | str | None:
    """The view's declaration: a Role, PUBLIC, or None when it declares nothing."""
    return getattr(view, ROLE_ATTRIBUTE, None)


def route_roles(app: Chalice) -> dict[tuple[str, str], Role | str | None]:
    """{(METHOD, path): declaration} of every route of the app."""
    return {(method, path): declared_role(entry.view_function)
            for path, methods in app.routes.items() for method, entry in methods.items()}


def declared_roles() -> dict[tuple[str, str], Role | str | None]:
    """route_roles of the guarded app (for the OpenAPI document)."""
    return route_roles(_app) if _app is not None else {}


def claims_of(request: Request) -> dict[str, Any] | None:
    """The verified claims API Gateway (or the local server) put in the request context."""
    jwt = ((request.context or {}).get("authorizer") or {}).get("jwt") or {}
    claims = jwt.get("claims")
    return dict(claims) if isinstance(claims, dict) and claims else None


def principal_of(request: Request) -> Principal:
    """The caller; Unauthorized when the request carries no claims naming anybody."""
    claims = claims_of(request)
    found = principal_from_claims(claims) if claims else None
    if found is None:
        raise Unauthorized("a valid bearer token is required (Authorization: Bearer <token>)", rule="required")
    return found


def principal() -> Principal:
    """The caller of the request being handled (inside a view)."""
    if _app is None or _app.current_request is None:
        raise RuntimeError("principal() is only available while the app handles a request")
    return principal_of(_app.current_request)


def check(declaration: Role | str | None, request: Request) -> None:
    """Raise Unauthorized / Forbidden unless the request may call a route with this declaration."""
    if declaration == PUBLIC:
        return
    caller = principal_of(request)
    if declaration is None:
        raise Forbidden("this route declares no role, so nobody may call it")
    needed = Role(declaration)
    if not caller.allows(needed):
        has = f"role {caller.role.value}" if caller.role else "no role (none of viewer, reviewer, admin)"
        raise Forbidden(f"this needs the {needed.value} role or higher; {caller.user} has {has}")


def guard(app: Chalice) -> None:
    """Install the check on every HTTP request of `app` (once, in functions/app.py)."""
    global _app
    _app = app

    @app.middleware("http")
    def authorize(event: Request, get_response: Callable[[Request], Response]) -> Response:
        path = (event.context or {}).get("resourcePath", "")
        entry = app.routes.get(path, {}).get(event.method)
        if entry is None:  # no view runs: Chalice answers 405 (method not allowed) itself
            return get_response(event)
        try:
            check(declared_role(entry.view_function), event)
        except ApiProblem as problem:
            logger.info("request refused", extra={"status": problem.status, "error": problem.error,
                                                  "route": f"{event.method} {path}", "detail": problem.message})
            return json_response(problem.body(), problem.status, problem.headers())
        return get_response(event)
