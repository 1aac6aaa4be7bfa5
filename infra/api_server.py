"""Serve the Chalice app over real HTTP on loopback (the local stand-in for API Gateway and its JWT authorizer).

Like the HTTP API, every route but the public ones (`@public` in functions/chalicelib/access.py, `Auth:
{Authorizer: NONE}` in template.yaml) needs a valid bearer token (infra/authorizer.py); its claims reach the
handlers at requestContext.authorizer.jwt.claims, as API Gateway puts them. A refused token is a 401 problem.
"""

from __future__ import annotations

import importlib
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

from chalice import Chalice
from chalice.config import Config
from chalice.local import ChaliceRequestHandler, EventType, HeaderType, LocalDevServer, LocalGateway, ResponseType

from deertrack.problems import Unauthorized
from infra.authorizer import JwtAuthorizer, gateway_claims

FUNCTIONS_DIR = Path(__file__).resolve().parent.parent / "functions"


def load_app_module(reload: bool = False) -> ModuleType:
    """Import functions/app.py the way Lambda does: `app` at the top level, chalicelib beside it."""
    path = str(FUNCTIONS_DIR)
    if path not in sys.path:
        sys.path.insert(0, path)
    if "app" in sys.modules and reload:
        return importlib.reload(sys.modules["app"])
    module = importlib.import_module("app")
    if Path(module.__file__ or "").resolve().parent != FUNCTIONS_DIR:
        raise RuntimeError(f"another module named 'app' shadows {FUNCTIONS_DIR / 'app.py'}")
    return module


def is_public(app: Chalice, method: str, path: str) -> bool:
    """Whether the route is declared `@public` (no token needed)."""
    from chalicelib.access import PUBLIC, declared_role

    entry = app.routes.get(path, {}).get(method)
    return entry is not None and declared_role(entry.view_function) == PUBLIC


class _Refused(Exception):
    def __init__(self, problem: Unauthorized) -> None:
        super().__init__(problem.message)
        self.response: ResponseType = {
            "statusCode": problem.status,
            "headers": {"Content-Type": "application/json", "Cache-Control": "no-store", **problem.headers()},
            "multiValueHeaders": {},
            "body": json.dumps(problem.body()),
        }


class _AuthorizingGateway(LocalGateway):
    """Chalice's local gateway with the JWT authorizer in front of every route that is not public."""

    def __init__(self, app_object: Chalice, config: Config, authorizer: JwtAuthorizer) -> None:
        super().__init__(app_object, config)
        self._jwt = authorizer

    def _generate_lambda_event(self, method: str, path: str, headers: HeaderType,
                               body: bytes | None) -> EventType:
        event = super()._generate_lambda_event(method, path, headers, body)
        context = event["requestContext"]
        if not is_public(self._app_object, method, context["resourcePath"]):
            try:
                claims = self._jwt.verify(event["headers"].get("authorization"))
            except Unauthorized as problem:
                raise _Refused(problem) from None
            context["authorizer"] = {"jwt": {"claims": gateway_claims(claims), "scopes": None}}
        return event

    def handle_request(self, method: str, path: str, headers: HeaderType, body: bytes | None) -> ResponseType:
        try:
            return super().handle_request(method, path, headers, body)
        except _Refused as refused:
            return refused.response


class _PromptRequestHandler(ChaliceRequestHandler):
    """Chalice's handler writes headers and body separately; with Nagle on, every response waits
    ~40 ms for a delayed ACK on loopback. TCP_NODELAY sends them at once. Its gateway checks tokens."""

    disable_nagle_algorithm = True
    authorizer: JwtAuthorizer

    def __init__(self, request: Any, client_address: tuple[str, int], server: HTTPServer, app_object: Chalice,
                 config: Config) -> None:
        self.local_gateway = _AuthorizingGateway(app_object, config, self.authorizer)
        BaseHTTPRequestHandler.__init__(self, request, client_address, server)  # type: ignore[arg-type]


class ApiServer:
    """The Chalice local dev server in a background thread; tokens are checked by `authorizer` (by default
    the one AUTH_JWKS_URL, AUTH_ISSUER and AUTH_AUDIENCE describe)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8001, authorizer: JwtAuthorizer | None = None) -> None:
        app = load_app_module().app
        config = Config.create(chalice_stage="dev", app_name="deertrack", chalice_app=app)
        self.authorizer = authorizer or JwtAuthorizer.from_settings()
        handler = type("_RequestHandler", (_PromptRequestHandler,), {"authorizer": self.authorizer})
        self.server = LocalDevServer(app, config, host, port, handler_cls=handler)
        self.host = host
        self.port = self.server.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, name="api", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ApiServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.server.shutdown()
        self.server.server.server_close()
        self._thread.join(timeout=5)
