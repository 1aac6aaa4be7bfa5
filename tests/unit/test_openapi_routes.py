"""The OpenAPI document is true: every route of the Chalice app is documented, every documented
route exists, and what it says about request bodies comes from the pydantic models."""

from __future__ import annotations

from deertrack import openapi
from deertrack.exports.schemas import REQUEST_MODELS
from infra.api_server import load_app_module


def _app_routes() -> set[tuple[str, str]]:
    app = load_app_module().app
    return {(method, path) for path, methods in app.routes.items() for method in methods}


def test_every_route_is_documented_and_every_documented_route_exists() -> None:
    routes = _app_routes()
    documented = openapi.documented_routes()
    assert routes - documented == set(), "routes without documentation: document them with deertrack.openapi"
    assert documented - routes == set(), "documented routes that the app does not have"


def test_the_document_is_openapi_3_with_resolvable_references() -> None:
    load_app_module()
    doc = openapi.build_document()
    assert doc["openapi"].startswith("3.")
    schemas = doc["components"]["schemas"]

    def refs(node: object) -> list[str]:
        if isinstance(node, dict):
            found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return found + [r for value in node.values() for r in refs(value)]
        if isinstance(node, list):
            return [r for value in node for r in refs(value)]
        return []

    for ref in refs(doc):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref
    for path, operations in doc["paths"].items():
        for operation in operations.values():
            names = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert names == set(openapi.Operation("GET", path, "", {}).path_parameters)
            assert operation["responses"], path


def test_request_bodies_are_the_models_schemas() -> None:
    load_app_module()
    doc = openapi.build_document()
    for export_type, model in REQUEST_MODELS.items():
        ref = doc["paths"][f"/api/exports/{export_type}"]["post"]["requestBody"]["content"]["application/json"]
        schema = doc["components"]["schemas"][ref["schema"]["$ref"].rsplit("/", 1)[1]]
        assert set(schema["properties"]) == set(model.model_fields)
        assert schema["additionalProperties"] is False


def test_documenting_is_a_decorator_under_the_route_and_the_route_gives_method_and_path() -> None:
    """(Replaces the test of `openapi.documented(METHOD, PATH, ...)`: issue 12 removes that second copy of the
    route's method and path; the path and method now come from the Chalice route itself.)"""
    from chalice import Chalice

    app = Chalice(app_name="things")

    @app.route("/api/things/{job_id}", methods=["GET", "DELETE"])
    @openapi.operation("A thing", responses={200: openapi.Reply("The thing", {"type": "object"})})
    def view(job_id: str) -> str:
        return job_id

    assert view("x") == "x"
    assert openapi.documented_routes(app) == {("GET", "/api/things/{job_id}"), ("DELETE", "/api/things/{job_id}")}
    doc = openapi.build_document(app)
    assert set(doc["paths"]["/api/things/{job_id}"]) == {"get", "delete"}
    parameter = doc["paths"]["/api/things/{job_id}"]["get"]["parameters"][0]
    assert parameter["name"] == "job_id" and parameter["in"] == "path" and parameter["required"] is True


def test_a_route_without_documentation_and_documentation_without_a_route_are_found() -> None:
    from chalice import Chalice

    app = Chalice(app_name="things")

    @app.route("/api/bare", methods=["GET"])
    def bare() -> str:
        return "no documentation"

    @openapi.operation("Never routed", responses={200: openapi.Reply("Nothing")})
    def orphan() -> str:
        return "no route"

    assert openapi.undocumented_routes(app) == {("GET", "/api/bare")}
    assert any(name.endswith("orphan") for name in openapi.unrouted_views(app))
    assert "/api/bare" not in openapi.build_document(app)["paths"]


def test_the_app_has_no_undocumented_route_and_no_documentation_without_its_route() -> None:
    app = load_app_module().app
    assert openapi.undocumented_routes(app) == set(), "document each view with @openapi.operation under its route"
    assert openapi.unrouted_views(app, within=("chalicelib.", "app")) == [], \
        "documented views that no route of the app serves"


# -------------------------------------------------------------------------------- sign-in and roles


def _roles() -> dict[tuple[str, str], object]:
    from chalicelib.access import route_roles

    return route_roles(load_app_module().app)


def test_every_route_declares_its_role_or_is_public() -> None:
    """A route without @requires(...) or @public (functions/chalicelib/access.py) fails here."""
    from chalicelib.access import PUBLIC

    from deertrack.auth import Role

    roles = _roles()
    undeclared = sorted(f"{method} {path}" for (method, path), role in roles.items() if role is None)
    assert undeclared == [], "routes without a declared role: add @requires(Role.X) or @public under @route"
    assert all(role == PUBLIC or isinstance(role, Role) for role in roles.values())
    public = {route for route, role in roles.items() if role == PUBLIC}
    assert public == {("GET", "/api/health"), ("GET", "/api/openapi.json"), ("GET", "/review"),
                      ("GET", "/review/{asset}")}


def test_the_roles_are_the_ones_the_issue_names() -> None:
    from deertrack.auth import Role

    roles = _roles()
    assert roles[("PATCH", "/api/detections/{detection_id}")] is Role.REVIEWER
    assert roles[("POST", "/api/reid/backfill")] is Role.ADMIN
    for route in (("GET", "/api/deer"), ("POST", "/api/exports/pdf"), ("GET", "/api/exports/pdf/{job_id}"),
                  ("DELETE", "/api/exports/{job_id}")):
        assert roles[route] is Role.VIEWER, route


def test_the_document_has_the_security_scheme_and_every_route_its_requirement() -> None:
    from chalicelib.access import PUBLIC

    roles = _roles()
    doc = openapi.build_document(roles=roles)
    scheme = doc["components"]["securitySchemes"][openapi.SECURITY_SCHEME]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    for (method, path), role in roles.items():
        operation = doc["paths"][path][method.lower()]
        if role == PUBLIC:
            assert operation["security"] == [] and "401" not in operation["responses"], path
            continue
        assert operation["security"] == [{openapi.SECURITY_SCHEME: []}], path
        assert operation["x-minimum-role"] == str(role), path
        assert {"401", "403"} <= set(operation["responses"]), path
        assert "WWW-Authenticate" in operation["responses"]["401"]["headers"], path
        assert operation["responses"]["403"]["content"]["application/json"]["schema"]["$ref"].endswith("ProblemBody")
