"""The local API server's routing table (from the app's own routes, as API Gateway routes) and its
per-thread request state."""

from __future__ import annotations

import re
import threading

from deertrack.problems import NotFound
from infra.api_server import MethodNotAllowed, RouteTable, load_app_module, serve_requests_per_thread


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "7", path)


def test_every_declared_route_and_method_is_let_through() -> None:
    app = load_app_module().app
    table = RouteTable(app)
    assert len(app.routes) >= 15
    for path, entries in app.routes.items():
        for method in entries:
            assert table.refusal(method, _concrete(path) + "?limit=3") is None, (method, path)


def test_an_undeclared_method_is_a_405_listing_the_declared_ones() -> None:
    app = load_app_module().app
    table = RouteTable(app)
    for path, entries in app.routes.items():
        for method in ("TRACE", "PROPFIND", "PATCH", "OPTIONS", "HEAD"):
            if method in entries:
                continue
            problem = table.refusal(method, _concrete(path))
            assert isinstance(problem, MethodNotAllowed), (method, path)
            assert problem.status == 405
            assert problem.headers() == {"Allow": ", ".join(sorted(entries))}
            assert problem.body()["error"] == "method_not_allowed"
            assert problem.body()["details"][0]["field"] == "method"
            assert method in problem.message and _concrete(path) in problem.message


def test_a_path_that_is_no_route_is_a_404_whatever_the_method() -> None:
    table = RouteTable(load_app_module().app)
    for method in ("GET", "POST", "TRACE"):
        for path in ("/api/nope", "/", "/api/deer/1/2/3", "/apideer"):
            problem = table.refusal(method, path + "?x=1")
            assert isinstance(problem, NotFound) and problem.status == 404, (method, path)
            assert problem.body()["details"] == [{"field": "path", "rule": "known_route",
                                                  "message": f"{path} is not a route of this API "
                                                             "(see /api/openapi.json)"}]


def test_the_table_follows_the_app_not_a_list_of_its_own() -> None:
    from chalice import Chalice

    app = Chalice(app_name="t")

    @app.route("/things/{thing_id}", methods=["GET", "DELETE"])
    def thing(thing_id: str) -> dict[str, str]:
        return {}

    table = RouteTable(app)
    assert table.methods("/things/3") == ("DELETE", "GET")
    assert table.methods("/things/3/") == ("DELETE", "GET")  # API Gateway drops a trailing slash
    assert table.methods("/things") is None
    assert table.refusal("PUT", "/things/3").headers() == {"Allow": "DELETE, GET"}


def test_each_thread_sees_its_own_request_on_the_app() -> None:
    from chalice import Chalice

    app = serve_requests_per_thread(Chalice(app_name="t"))
    assert serve_requests_per_thread(app) is app and app.current_request is None
    seen: dict[str, object] = {}
    both_set = threading.Barrier(2)

    def handle(name: str) -> None:
        app.current_request = name  # what Chalice.__call__ does for each request
        app.lambda_context = f"context of {name}"
        both_set.wait()  # both requests are in flight at once
        seen[name] = (app.current_request, app.lambda_context)

    threads = [threading.Thread(target=handle, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {"a": ("a", "context of a"), "b": ("b", "context of b")}
