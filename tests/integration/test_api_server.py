"""The local API server over real HTTP answers routing the way API Gateway does: an undeclared method on
a known path is a JSON 405 with `Allow`, an unknown path a JSON 404, for any method (never http.server's
501 page), before any token is asked for; keep-alive connections stay usable after those answers."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlparse

import pytest

from infra.api_server import load_app_module
from tests.auth_tokens import token

pytestmark = pytest.mark.integration


def _connection(api: str) -> http.client.HTTPConnection:
    parts = urlparse(api)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)


def _send(con: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None,
          headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    con.request(method, path, body=body, headers=headers or {})
    response = con.getresponse()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def _assert_problem(headers: dict[str, str], raw: bytes, error: str) -> dict:
    assert headers["content-type"] == "application/json"
    body = json.loads(raw)
    assert body["error"] == error and body["message"]
    assert [set(d) for d in body["details"]] == [{"field", "rule", "message"}]
    return body


@pytest.mark.parametrize("method", ["TRACE", "PATCH", "PUT", "PROPFIND", "OPTIONS", "CONNECT", "DELETE"])
def test_an_undeclared_method_is_a_json_405_with_allow(api: str, method: str) -> None:
    con = _connection(api)
    try:
        status, headers, raw = _send(con, method, "/api/deer?limit=3")  # no token: routing comes first
        assert status == 405, raw
        assert headers["allow"] == "GET"
        body = _assert_problem(headers, raw, "method_not_allowed")
        assert body["details"][0]["rule"] == "allowed_methods"
        status, headers, raw = _send(con, method, "/api/exports/00000000000000000000000000000000")
        assert status == (401 if method == "DELETE" else 405)  # DELETE is declared: its route asks for a token
        if method != "DELETE":
            assert headers["allow"] == "DELETE"
    finally:
        con.close()


def test_every_route_of_the_app_answers_trace_with_405_and_its_methods(api: str) -> None:
    con = _connection(api)
    try:
        for path, entries in load_app_module().app.routes.items():
            concrete = path.replace("{asset}", "review.js")
            concrete = "/".join("1" if part.startswith("{") else part for part in concrete.split("/"))
            status, headers, raw = _send(con, "TRACE", concrete)
            assert status == 405, (path, status, raw[:200])
            assert headers["allow"] == ", ".join(sorted(entries))
    finally:
        con.close()


@pytest.mark.parametrize("method", ["GET", "POST", "TRACE", "PATCH"])
def test_an_unknown_path_is_a_json_404(api: str, method: str) -> None:
    con = _connection(api)
    try:
        body = b"{}" if method in ("POST", "PATCH") else None
        status, headers, raw = _send(con, method, "/api/nothing-here?x=1", body,
                                     {"Authorization": f"Bearer {token()}"})
        assert status == 404
        problem = _assert_problem(headers, raw, "not_found")
        assert problem["details"][0] == {"field": "path", "rule": "known_route",
                                         "message": "/api/nothing-here is not a route of this API "
                                                    "(see /api/openapi.json)"}
    finally:
        con.close()


def test_the_connection_stays_in_step_after_refusals_with_bodies_and_head(api: str) -> None:
    con = _connection(api)
    try:
        status, _, raw = _send(con, "PATCH", "/api/deer", b'{"a": "body the server must read past"}',
                               {"Content-Type": "application/json"})
        assert status == 405 and json.loads(raw)["error"] == "method_not_allowed"
        status, headers, raw = _send(con, "HEAD", "/api/health")
        assert status == 405 and headers["allow"] == "GET" and raw == b""
        status, _, raw = _send(con, "GET", "/api/health")  # the same connection, still in step
        assert status == 200 and json.loads(raw)["status"] == "ok"
    finally:
        con.close()


def test_declared_routes_are_answered_as_before(api: str) -> None:
    con = _connection(api)
    try:
        status, headers, raw = _send(con, "GET", "/api/deer?limit=3")
        assert status == 401 and json.loads(raw)["error"] == "unauthorized"  # the route's own answer
        status, _, raw = _send(con, "GET", "/api/deer?limit=3", headers={"Authorization": f"Bearer {token()}"})
        assert status == 200 and json.loads(raw)["items"] == []
    finally:
        con.close()
