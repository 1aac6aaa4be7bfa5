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


def test_documenting_is_one_call_or_a_decorator() -> None:
    before = openapi.documented_routes()
    try:
        @openapi.documented("GET", "/api/things/{thing_id}", summary="A thing",
                            responses={200: openapi.Reply("The thing", {"type": "object"})})
        def view(thing_id: str) -> str:
            return thing_id

        assert view("x") == "x"
        assert ("GET", "/api/things/{thing_id}") in openapi.documented_routes()
        doc = openapi.build_document()
        assert doc["paths"]["/api/things/{thing_id}"]["get"]["parameters"][0]["name"] == "thing_id"
    finally:
        openapi._OPERATIONS.pop(("GET", "/api/things/{thing_id}"), None)
    assert openapi.documented_routes() == before
