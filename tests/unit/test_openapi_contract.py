"""The OpenAPI document is exact: what it calls valid the code accepts and what it calls invalid the code refuses,
for the rules JSON Schema can say (issue 16, part 6). Each sample is judged twice, by the document's schema
(jsonschema, draft 2020-12, as OpenAPI 3.1 uses) and by the code's own model, and the verdicts must agree."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import jsonschema
import pytest
from pydantic import BaseModel, ValidationError

from deertrack import openapi
from deertrack.backfill.triggers import BackfillRequest
from deertrack.exports import body
from deertrack.exports.schemas import REQUEST_MODELS, RequestBody
from deertrack.ingest.schema import ImageIn
from deertrack.inputs import PATH_IDS
from deertrack.problems import NO_NUL_PATTERN, RequestInvalid, load_json
from deertrack.reid.merge_requests import MergeJobRequest, MergeRequest
from deertrack.reid.review import DetectionPatch
from infra.api_server import load_app_module

TODAY = date(2026, 1, 1)
#: Rules the document says it does not express (x-rules-beyond-schema): a sample is judged without them.
BEYOND = {"date_order", "max_range", "not_future", "unique_labels", "unknown_id", "no_matches"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    load_app_module()  # puts functions/ (chalicelib) on the path
    from chalicelib.access import declared_roles

    return openapi.build_document(roles=declared_roles())


def _document_accepts(document: dict[str, Any], name: str, data: Any) -> bool:
    """The verdict of component schema `name` (its #/components refs resolve inside the wrapper)."""
    schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    return validator.is_valid(data)


def _code_accepts(model: type[BaseModel], data: dict[str, Any]) -> bool:
    if issubclass(model, RequestBody):
        _, problems = body.check(model, data, today=TODAY)
        return not [p for p in problems if p.rule not in BEYOND]
    try:
        model.model_validate(data)
    except ValidationError:
        return False
    return True


PDF = {"report_type": "seasonal_activity", "start_date": "2025-01-01", "end_date": "2025-02-01"}
PERIODS = [{"label": "a", "start_date": "2025-01-01", "end_date": "2025-01-10"},
           {"label": "b", "start_date": "2025-02-01", "end_date": "2025-02-10"}]
FILTERS = {"start_date": "2025-01-01", "end_date": "2025-02-01"}
IMAGE = {"captured_at": "2025-01-01T05:00:00Z", "location_id": 1}

SAMPLES: list[tuple[type[BaseModel], dict[str, Any], bool]] = [
    (REQUEST_MODELS["pdf"], PDF, True),
    (REQUEST_MODELS["pdf"], {**PDF, "report_type": "comparison"}, False),  # comparison without its periods
    (REQUEST_MODELS["pdf"], {**PDF, "report_type": "comparison", "comparison_periods": PERIODS}, True),
    (REQUEST_MODELS["pdf"], {**PDF, "report_type": "comparison", "comparison_periods": None}, False),
    (REQUEST_MODELS["pdf"], {**PDF, "comparison_periods": PERIODS}, False),  # periods for another report
    (REQUEST_MODELS["pdf"], {**PDF, "report_type": "deer_profile"}, False),  # deer_profile without deer_id
    (REQUEST_MODELS["pdf"], {**PDF, "report_type": "deer_profile", "deer_id": 3}, True),
    (REQUEST_MODELS["pdf"], {**PDF, "deer_id": 3}, False),
    (REQUEST_MODELS["pdf"], {**PDF, "deer_id": None}, True),
    (REQUEST_MODELS["pdf"], {**PDF, "title": "   "}, False),  # blank once stripped
    (REQUEST_MODELS["pdf"], {**PDF, "title": "Rut"}, True),
    (REQUEST_MODELS["pdf"], {**PDF, "location_ids": [0]}, False),
    (REQUEST_MODELS["pdf"], {**PDF, "location_ids": [3.0]}, True),  # JSON Schema's integer includes 3.0
    (REQUEST_MODELS["pdf"], {**PDF, "location_ids": ["3"]}, False),
    (REQUEST_MODELS["pdf"], {**PDF, "include_charts": 1}, False),
    (REQUEST_MODELS["zip"], {}, False),  # one of detection_ids or filters
    (REQUEST_MODELS["zip"], {"detection_ids": [1, 2]}, True),
    (REQUEST_MODELS["zip"], {"filters": FILTERS}, True),
    (REQUEST_MODELS["zip"], {"detection_ids": [1], "filters": FILTERS}, False),
    (REQUEST_MODELS["zip"], {"detection_ids": [1], "filters": None}, True),
    (REQUEST_MODELS["zip"], {"detection_ids": [1], "include_crops": False, "include_metadata_csv": False}, False),
    (REQUEST_MODELS["zip"], {"detection_ids": [1], "include_crops": False}, True),
    (REQUEST_MODELS["zip"], {"detection_ids": [1], "crop_size": 100}, False),
    (REQUEST_MODELS["camtrap-dp"], {}, False),
    (REQUEST_MODELS["camtrap-dp"], {"filters": {**FILTERS, "min_confidence": 1}}, True),
    (REQUEST_MODELS["camtrap-dp"], {"filters": {**FILTERS, "min_confidence": True}}, False),
    (ImageIn, IMAGE, False),  # neither image_key nor image_base64
    (ImageIn, {**IMAGE, "image_key": "a.jpg"}, True),
    (ImageIn, {**IMAGE, "image_key": "a.jpg", "image_base64": "AAAA"}, False),
    (ImageIn, {**IMAGE, "image_key": "a.jpg", "location_code": "CAM-A"}, False),  # two locations
    (ImageIn, {"captured_at": "2025-01-01T05:00:00Z", "image_key": "a.jpg"}, False),  # no location
    (ImageIn, {**IMAGE, "image_key": "a.jpg", "captured_at": 1735707600}, False),
    (ImageIn, {**IMAGE, "image_base64": "AAAA"}, True),
    (DetectionPatch, {}, False),
    (DetectionPatch, {"note": ""}, False),
    (DetectionPatch, {"note": None}, False),
    (DetectionPatch, {"note": "seen twice"}, True),
    (DetectionPatch, {"deer_id": None}, False),
    (DetectionPatch, {"deer_id": 2}, True),
    (DetectionPatch, {"new_deer": True, "deer_id": 2}, False),
    (DetectionPatch, {"new_deer": False}, False),
    (DetectionPatch, {"new_deer": True}, True),
    (DetectionPatch, {"is_valid": None}, False),
    (DetectionPatch, {"is_valid": False, "note": ""}, True),
    (MergeRequest, {"into_deer_id": 0}, False),
    (MergeRequest, {"into_deer_id": 4}, True),
    (MergeRequest, {"into_deer_id": 2**31}, False),
    (MergeJobRequest, {}, True),
    (MergeJobRequest, {"auto": "yes please"}, False),
    (BackfillRequest, {}, True),
    (BackfillRequest, {"since": "2025-01-01"}, True),
    (BackfillRequest, {"since": "2025-01-01T05:00:00Z", "limit": 5, "threshold": 0.7}, True),
    (BackfillRequest, {"since": 1735707600}, False),
    (BackfillRequest, {"limit": 0}, False),
    (BackfillRequest, {"limit": "5"}, False),
]


@pytest.mark.parametrize(("model", "data", "valid"), SAMPLES,
                         ids=[f"{m.__name__}-{i}" for i, (m, _, _) in enumerate(SAMPLES)])
def test_the_document_and_the_code_judge_each_sample_alike(document: dict[str, Any], model: type[BaseModel],
                                                           data: dict[str, Any], valid: bool) -> None:
    name = model.__name__ if model is not ImageIn else "ImageDoc"
    assert _document_accepts(document, name, data) is valid, f"the document says {not valid} for {data}"
    assert _code_accepts(model, data) is valid, f"the code says {not valid} for {data}"


def test_path_ids_are_integers_from_1_and_every_query_parameter_is_typed(document: dict[str, Any]) -> None:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                schema = parameter["schema"]
                where = f"{method.upper()} {path} {parameter['name']}"
                assert {"type", "enum", "anyOf", "const"} & schema.keys(), where
                if parameter["in"] == "path" and parameter["name"] in PATH_IDS:
                    assert (schema["type"], schema["minimum"]) == ("integer", 1), where
                    assert schema["maximum"] == PATH_IDS[parameter["name"]], where


def test_bodies_that_may_be_empty_say_so(document: dict[str, Any]) -> None:
    paths = document["paths"]
    assert paths["/api/reid/backfill"]["post"]["requestBody"]["required"] is False
    assert paths["/api/deer/merge-job"]["post"]["requestBody"]["required"] is False
    assert paths["/api/exports/zip"]["post"]["requestBody"]["required"] is True


def test_headers_and_problem_answers_are_documented(document: dict[str, Any]) -> None:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            for status, response in operation["responses"].items():
                if status == "202" or (status == "207" and path == "/api/detections"):
                    assert "Location" in response["headers"], where
                if status == "503" and path != "/api/health":
                    assert response["headers"]["Retry-After"]["schema"]["type"] == "integer", where
                if status in ("400", "401", "403", "404", "409", "503") and path != "/api/health":
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith("/ProblemBody"), where


def test_every_string_of_a_request_refuses_nul(document: dict[str, Any]) -> None:
    """PostgreSQL text cannot hold NUL: the document says so on every request string, the loader refuses it."""
    def strings(node: Any) -> list[dict[str, Any]]:
        if isinstance(node, dict):
            found = [node] if node.get("type") == "string" and not {"format", "enum", "const"} & node.keys() else []
            return found + [s for value in node.values() for s in strings(value)]
        if isinstance(node, list):
            return [s for value in node for s in strings(value)]
        return []

    schemas = document["components"]["schemas"]
    for name in ("PdfExportRequest", "ComparisonPeriod", "ImageDoc", "DetectionPatch", "MergeRequest"):
        for schema in strings(schemas[name]):
            assert "pattern" in schema and not re.search(schema["pattern"], "a\x00b"), (name, schema)
    q = [p for p in document["paths"]["/api/deer"]["get"]["parameters"] if p["name"] == "q"]
    assert q[0]["schema"]["pattern"] == NO_NUL_PATTERN
    with pytest.raises(RequestInvalid) as refused:
        load_json('{"note": "a\\u0000b"}')
    assert [(p.field, p.rule) for p in refused.value.details] == [("note", "no_nul")]


def test_operations_list_the_rules_they_check_beyond_their_schema(document: dict[str, Any]) -> None:
    post = document["paths"]["/api/exports/pdf"]["post"]
    assert {"date_order", "max_range", "not_future", "unknown_id"} <= set(post["x-rules-beyond-schema"])
    assert "`date_order`" in post["description"]
    zip_post = document["paths"]["/api/exports/zip"]["post"]
    assert "no_matches" in zip_post["x-rules-beyond-schema"]
