"""template.yaml and the code agree, and the check notices when either side loses a piece.

The code side is the real Chalice app in functions/app.py (its routes and event sources) and the
settings; the template side is infra.template.declarations(), which the local stack and the event
pump are built from. The failure cases run the same checker on a modified copy of the template (a
handler, route or queue removed) or on a copy of the app with a handler removed or added.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from chalice import Chalice

from deertrack.settings import Settings, get_settings
from infra.api_server import load_app_module
from infra.template import load_template
from tests.template_checks import CodeSurface, code_surface, template_problems

STAGE = "test"  # tests/conftest.py sets STAGE=test, so the app's queue names are deertrack-test-*


@pytest.fixture(scope="module")
def app() -> Chalice:
    return load_app_module().app


@pytest.fixture(scope="module")
def code(app: Chalice) -> CodeSurface:
    return code_surface(app, get_settings())


@pytest.fixture(scope="module")
def baseline(code: CodeSurface) -> set[str]:
    """What the real template and the real code disagree on now (nothing, once every handler landed)."""
    return set(template_problems(code, STAGE))


def _write(template: dict[str, Any], tmp_path: Path) -> Path:
    """A modified template, written in the long intrinsic form that infra.template reads as well."""
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(template, sort_keys=False))
    return path


def _without(*logical_ids: str) -> dict[str, Any]:
    template = copy.deepcopy(load_template())
    for logical_id in logical_ids:
        del template["Resources"][logical_id]
    return template


def _copy_of_app(app: Chalice, drop: str | None = None) -> Chalice:
    fake = Chalice(app_name="deertrack-copy")
    fake.routes = copy.deepcopy(app.routes)
    fake.event_sources = [s for s in app.event_sources if s.handler_string != drop]
    return fake


def _new(problems: list[str], baseline: set[str]) -> list[str]:
    return [p for p in problems if p not in baseline]


# -------------------------------------------------------------------------------- the real thing


def test_template_and_code_agree(code: CodeSurface) -> None:
    """Every Chalice handler has its function and event source; every queue/bucket the code names is
    declared. Fails, naming the handler, while a handler declared in template.yaml is still missing
    from functions/app.py (or the other way round)."""
    problems = template_problems(code, STAGE)
    assert problems == [], "template.yaml and functions/app.py disagree:\n" + "\n".join(problems)


def test_the_code_side_is_read_from_the_app_object(code: CodeSurface) -> None:
    assert ("/api/exports/pdf", "POST") in code.routes
    assert ("/api/exports/{job_id}", "DELETE") in code.routes
    assert code.sqs_handlers["app.handle_export_request"] == ("deertrack-test-export-requests", 10)
    assert code.queue_names["exports_queue_name"] == "deertrack-test-exports"
    assert code.bucket_names["requests_bucket"] == "deertrack-test-requests"


# -------------------------------------------------------------------------------- template side removed


def test_removing_a_handler_function_from_the_template_is_caught(code: CodeSurface, baseline: set[str],
                                                                 tmp_path: Path) -> None:
    path = _write(_without("ExportRequestsFunction"), tmp_path)
    new = _new(template_problems(code, STAGE, path), baseline)
    assert any("app.handle_export_request" in p and "no function" in p for p in new), new
    assert any("deertrack-test-export-requests" in p and "no function consumes" in p for p in new), new


def test_removing_a_queue_from_the_template_is_caught(code: CodeSurface, baseline: set[str],
                                                      tmp_path: Path) -> None:
    path = _write(_without("ImageEventsQueue"), tmp_path)
    new = _new(template_problems(code, STAGE, path), baseline)
    assert any("queue deertrack-test-image-events (settings.image_events_queue_name) is not declared" in p
               for p in new), new
    assert any("ImageEventsFunction" in p and "does not declare" in p for p in new), new


def test_removing_a_schedule_event_from_the_template_is_caught(baseline: set[str], tmp_path: Path) -> None:
    template = copy.deepcopy(load_template())
    del template["Resources"]["BackfillScheduleFunction"]["Properties"]["Events"]
    path = _write(template, tmp_path)
    code = CodeSurface(frozenset(), {}, {"app.backfill_nightly": "cron(0 3 * * ? *)"}, {}, {})
    assert any("app.backfill_nightly" in p and "no function with a Schedule event" in p
               for p in template_problems(code, STAGE, path))


def test_removing_a_route_from_the_template_is_caught(code: CodeSurface, baseline: set[str],
                                                      tmp_path: Path) -> None:
    template = copy.deepcopy(load_template())
    del template["Resources"]["ApiFunction"]["Properties"]["Events"]["DeleteExport"]
    new = _new(template_problems(code, STAGE, _write(template, tmp_path)), baseline)
    assert new == ["route DELETE /api/exports/{job_id} (functions/app.py) has no HttpApi event in template.yaml"]


def test_a_catch_all_route_is_refused(code: CodeSurface, baseline: set[str], tmp_path: Path) -> None:
    template = copy.deepcopy(load_template())
    template["Resources"]["ApiFunction"]["Properties"]["Events"]["Proxy"] = {
        "Type": "HttpApi", "Properties": {"Path": "/{proxy+}", "Method": "ANY"}}
    new = _new(template_problems(code, STAGE, _write(template, tmp_path)), baseline)
    assert any("catch-all" in p for p in new) and any("PayloadFormatVersion" in p for p in new), new


# -------------------------------------------------------------------------------- code side removed / added


def test_a_handler_missing_from_the_code_is_caught(app: Chalice, baseline: set[str]) -> None:
    fake = _copy_of_app(app, drop="app.handle_image_event")
    new = _new(template_problems(code_surface(fake, get_settings()), STAGE), baseline)
    assert any("ImageEventsFunction calls app.handle_image_event" in p for p in new), new


def test_a_handler_added_to_the_code_but_not_the_template_is_caught(app: Chalice, baseline: set[str]) -> None:
    fake = _copy_of_app(app)

    @fake.on_sqs_message(queue="deertrack-test-moose-sightings", batch_size=5)
    def handle_moose(event: Any) -> None:  # pragma: no cover - never called
        return None

    new = _new(template_problems(code_surface(fake, get_settings()), STAGE), baseline)
    assert any("app.handle_moose" in p and "no function in template.yaml" in p for p in new), new
    assert any("queue deertrack-test-moose-sightings" in p and "not declared" in p for p in new), new


def test_a_route_added_to_the_code_but_not_the_template_is_caught(app: Chalice, baseline: set[str]) -> None:
    fake = _copy_of_app(app)

    @fake.route("/api/moose", methods=["GET"])
    def moose() -> dict[str, str]:  # pragma: no cover - never called
        return {}

    new = _new(template_problems(code_surface(fake, get_settings()), STAGE), baseline)
    assert new == ["route GET /api/moose (functions/app.py) has no HttpApi event in template.yaml"]


def test_a_queue_the_code_names_but_the_template_lacks_is_caught(app: Chalice, baseline: set[str]) -> None:
    settings = Settings(stage=STAGE, exports_queue_name="deertrack-test-exports-v2")
    new = _new(template_problems(code_surface(app, settings), STAGE), baseline)
    assert new == ["queue deertrack-test-exports-v2 (settings.exports_queue_name) is not declared in template.yaml"]


def test_a_batch_size_that_differs_is_caught(app: Chalice, baseline: set[str]) -> None:
    code = code_surface(app, get_settings())
    sqs = dict(code.sqs_handlers)
    queue, _ = sqs["app.handle_image_event"]
    sqs["app.handle_image_event"] = (queue, 7)
    changed = CodeSurface(code.routes, sqs, code.schedule_handlers, code.queue_names, code.bucket_names)
    new = _new(template_problems(changed, STAGE), baseline)
    assert new == ["app.handle_image_event: batch size 7 in functions/app.py, 1 in template.yaml"]


# -------------------------------------------------------------------------------- sign-in


def test_the_api_has_the_jwt_authorizer_and_only_the_public_routes_skip_it(app: Chalice) -> None:
    """The HTTP API's default authorizer is the Cognito JWT one; the routes that opt out (`Auth: {Authorizer:
    NONE}`) are exactly the app's @public ones, and the user pool has the three role groups."""
    from chalicelib.access import PUBLIC, route_roles

    resources = load_template()["Resources"]
    auth = resources["HttpApi"]["Properties"]["Auth"]
    jwt = auth["Authorizers"][auth["DefaultAuthorizer"]]
    assert jwt["IdentitySource"] == "$request.header.Authorization"
    assert set(jwt["JwtConfiguration"]) == {"issuer", "audience"}
    assert jwt["JwtConfiguration"]["audience"] == [{"Ref": "UserPoolClient"}]
    groups = {r["Properties"]["GroupName"] for r in resources.values() if r["Type"] == "AWS::Cognito::UserPoolGroup"}
    assert groups == {"viewer", "reviewer", "admin"}
    open_routes = {(e["Properties"]["Method"], e["Properties"]["Path"])
                   for e in resources["ApiFunction"]["Properties"]["Events"].values()
                   if e["Properties"].get("Auth", {}).get("Authorizer") == "NONE"}
    public = {route for route, role in route_roles(app).items() if role == PUBLIC}
    assert open_routes == public == {("GET", "/api/health"), ("GET", "/api/openapi.json"), ("GET", "/review"),
                                     ("GET", "/review/{asset}")}
