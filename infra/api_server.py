"""Serve the Chalice app over real HTTP on loopback (the local stand-in for API Gateway and its JWT authorizer).

Like the HTTP API, every route but the public ones (`@public` in functions/chalicelib/access.py, `Auth:
{Authorizer: NONE}` in template.yaml) needs a valid bearer token (infra/authorizer.py); its claims reach the
handlers at requestContext.authorizer.jwt.claims, as API Gateway puts them. A refused token is a 401 problem.
Routing answers as API Gateway does, before any token is checked: a path the app does not declare is a JSON
404, a method it does not declare on a known path a JSON 405 with `Allow` (any method, TRACE included).

The server is threaded, speaks HTTP/1.1 with keep-alive, and its listen backlog holds a burst
(LISTEN_BACKLOG). `ApiServer` runs it on a thread of the caller (tests, benchmarks); `main()` runs it as
a process of its own on a listening socket it inherits (infra/api_processes.py, what `deertrack up` runs).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

from chalice import Chalice
from chalice.config import Config
from chalice.local import (
    ChaliceRequestHandler,
    EventType,
    HeaderType,
    LocalDevServer,
    LocalGateway,
    ResponseType,
    RouteMatcher,
    ThreadedHTTPServer,
)

from deertrack.logs import logger
from deertrack.problems import ApiProblem, NotFound, Problem, Unauthorized
from infra.authorizer import JwtAuthorizer, gateway_claims

FUNCTIONS_DIR = Path(__file__).resolve().parent.parent / "functions"
#: Connections the kernel queues while every thread is busy or the process is (re)starting; http.server's
#: default of 5 refuses connections of a burst of 32 clients.
LISTEN_BACKLOG = 1024


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


class MethodNotAllowed(ApiProblem):
    """405: the path is a route of the app, the method is not one of its methods (API Gateway's answer)."""

    status = 405
    error = "method_not_allowed"

    def __init__(self, method: str, path: str, allowed: Sequence[str]) -> None:
        message = f"{method} is not allowed on {path}; allowed: {', '.join(allowed)}"
        super().__init__(message, [Problem("method", "allowed_methods", message)])
        self.allowed = list(allowed)

    def headers(self) -> dict[str, str]:
        return {"Allow": ", ".join(self.allowed)}


class RouteTable:
    """The methods the app declares for each of its paths (its own `app.routes`), matched as API Gateway does."""

    def __init__(self, app: Chalice) -> None:
        self._matcher = RouteMatcher(list(app.routes))
        self._methods = {path: tuple(sorted(entries)) for path, entries in app.routes.items()}

    def methods(self, path: str) -> tuple[str, ...] | None:
        """The declared methods of the route `path` (a request path, query allowed) matches; None: no route."""
        try:
            match = self._matcher.match_route(path)
        except ValueError:
            return None
        return self._methods[match.route]

    def refusal(self, method: str, path: str) -> ApiProblem | None:
        """The 404 or 405 API Gateway would answer before any handler runs; None when a route takes it."""
        methods = self.methods(path)
        shown = path.split("?", 1)[0]
        if methods is None:
            return NotFound(f"no route {shown}", [Problem("path", "known_route", f"{shown} is not a route of "
                                                          "this API (see /api/openapi.json)")])
        if method not in methods:
            return MethodNotAllowed(method, shown, methods)
        return None


class _PerThread:
    """An attribute of an object kept per thread."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._values = threading.local()

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        return self if obj is None else getattr(self._values, self.name, None)

    def __set__(self, obj: object, value: Any) -> None:
        setattr(self._values, self.name, value)


def serve_requests_per_thread(app: Chalice) -> Chalice:
    """Make the app's `current_request` and `lambda_context` per thread. A Lambda container serves one request
    at a time, so Chalice keeps them on the app object; a threaded server would hand one request's body,
    query and caller (the token's user and role) to another's view."""
    if not getattr(type(app), "_per_thread_requests", False):
        app.__class__ = type(f"PerThread{type(app).__name__}", (type(app),), {
            "_per_thread_requests": True,
            "current_request": _PerThread("current_request"),
            "lambda_context": _PerThread("lambda_context"),
        })
        for name in ("current_request", "lambda_context"):
            vars(app).pop(name, None)
    return app


class _Refused(Exception):
    def __init__(self, problem: ApiProblem) -> None:
        super().__init__(problem.message)
        self.response = problem_response(problem)


def problem_response(problem: ApiProblem) -> ResponseType:
    """A problem as the gateway's response dict."""
    return {
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
    ~40 ms for a delayed ACK on loopback. TCP_NODELAY sends them at once. One gateway (which checks
    tokens) and one route table serve every connection; any method reaches them (never http.server's 501)."""

    disable_nagle_algorithm = True
    gateway: _AuthorizingGateway
    routes: RouteTable

    def __init__(self, request: Any, client_address: tuple[str, int], server: HTTPServer, app_object: Chalice,
                 config: Config) -> None:
        self.local_gateway = self.gateway
        BaseHTTPRequestHandler.__init__(self, request, client_address, server)  # type: ignore[arg-type]

    def _generic_handle(self) -> None:
        started = time.perf_counter()
        problem = self.routes.refusal(self.command, self.path)
        if problem is None:
            super()._generic_handle()
        else:
            self._parse_payload()  # read the body, so a keep-alive connection stays in step
            response = problem_response(problem)
            if self.command == "HEAD":
                self._send_http_response_no_body(problem.status, response["headers"])
            else:
                self._send_http_response(problem.status, response["headers"], response["body"])
        logger.debug("request", extra={"method": self.command, "path": self.path,
                                       "ms": round((time.perf_counter() - started) * 1000, 2)})

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):  # TRACE, CONNECT, PROPFIND, …: routed like the others
            return self._generic_handle
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        """http.server's own access lines are replaced by the structured `request` debug log above."""


class _Server(ThreadedHTTPServer):
    request_queue_size = LISTEN_BACKLOG

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up before its answer was written is no server error; the rest are logged."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            logger.debug("client went away", extra={"client": str(client_address), "error": repr(error)})
            return
        logger.exception("request handling failed", extra={"client": str(client_address)})


def _server_on(sock: socket.socket) -> type[HTTPServer]:
    """A server class whose instances serve the already listening `sock` instead of binding their own."""

    class _Inherited(_Server):
        def __init__(self, server_address: tuple[str, int], handler: Any) -> None:
            super().__init__(server_address, handler, bind_and_activate=False)
            self.socket.close()
            self.socket = sock
            self.server_address = sock.getsockname()[:2]
            self.server_name, self.server_port = self.server_address

    return _Inherited


def local_server(host: str, port: int, authorizer: JwtAuthorizer | None = None,
                 sock: socket.socket | None = None) -> LocalDevServer:
    """The app behind a threaded HTTP/1.1 server on host:port (or on the listening `sock`)."""
    app = serve_requests_per_thread(load_app_module().app)
    config = Config.create(chalice_stage="dev", app_name="deertrack", chalice_app=app)
    authorizer = authorizer or JwtAuthorizer.from_settings()
    handler = type("_RequestHandler", (_PromptRequestHandler,), {
        "gateway": _AuthorizingGateway(app, config, authorizer), "routes": RouteTable(app)})
    return LocalDevServer(app, config, host, port, handler_cls=handler,
                          server_cls=_Server if sock is None else _server_on(sock))


class ApiServer:
    """The API on a background thread of this process; tokens are checked by `authorizer` (by default
    the one AUTH_JWKS_URL, AUTH_ISSUER and AUTH_AUDIENCE describe)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8001, authorizer: JwtAuthorizer | None = None) -> None:
        self.authorizer = authorizer or JwtAuthorizer.from_settings()
        self.server = local_server(host, port, self.authorizer)
        self.host = host
        self.port = self.server.server.server_address[1]
        self._thread = threading.Thread(target=self.server.server.serve_forever, name="api", daemon=True)

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


def main(argv: Sequence[str] | None = None) -> int:
    """One API process: serve the listening socket `--fd` until SIGTERM or SIGINT (infra/api_processes.py)."""
    parser = argparse.ArgumentParser(prog="infra.api_server")
    parser.add_argument("--fd", type=int, required=True, help="a listening TCP socket inherited from the parent")
    parser.add_argument("--ready-fd", type=int, default=None, help="a pipe to write one byte to once serving")
    parser.add_argument("--name", default="API", help="what the log calls this process")
    args = parser.parse_args(argv)
    sock = socket.socket(fileno=args.fd)
    sock.setblocking(False)  # the processes share it: one that loses the race to accept goes back to waiting
    host, port = sock.getsockname()[:2]
    server = local_server(host, port, sock=sock).server

    def stop(signum: int, frame: FrameType | None) -> None:  # shutdown() waits for serve_forever: not on its thread
        threading.Thread(target=server.shutdown, name="api-stop", daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logger.info("API process serving", extra={"child": args.name, "pid": os.getpid(), "url": f"http://{host}:{port}"})
    if args.ready_fd is not None:
        os.set_blocking(args.ready_fd, False)
        with contextlib.suppress(OSError):  # nobody reads any more (a restart long after the stack came up)
            os.write(args.ready_fd, b"1")
        os.close(args.ready_fd)
    server.serve_forever()
    server.server_close()  # this process's descriptor only: the parent's socket keeps listening
    return 0
