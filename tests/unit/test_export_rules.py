"""Export request rules without any server: pydantic shapes, cross-field rules on whatever parsed,
how problems are named, and the selection's SQL."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from deertrack.exports import body
from deertrack.exports.idempotency import checked_key, fingerprint
from deertrack.exports.intake import split_export_type
from deertrack.exports.s3_requests import is_request_key, result_key
from deertrack.exports.schemas import (
    CamtrapDpExportRequest,
    PdfExportRequest,
    ZipExportRequest,
)
from deertrack.exports.selection import Selection
from deertrack.problems import RequestInvalid, ServiceUnavailable, summarize

TODAY = date(2025, 6, 15)
PDF = {"report_type": "seasonal_activity", "start_date": "2024-09-01", "end_date": "2024-11-30"}


def problems(model, data) -> list[tuple[str, str]]:
    with pytest.raises(RequestInvalid) as info:
        body.parse(model, data, today=TODAY)
    return [(p.field, p.rule) for p in info.value.details]


def test_defaults_are_filled_in() -> None:
    request = body.parse(PdfExportRequest, PDF, today=TODAY)
    assert (request.group_by, request.include_charts, request.include_tables, request.include_insights) == \
        ("month", True, True, True)
    zip_request = body.parse(ZipExportRequest, {"detection_ids": [1]}, today=TODAY)
    assert (zip_request.include_crops, zip_request.include_metadata_csv, zip_request.crop_size) == (True, True, 300)
    assert body.parse(CamtrapDpExportRequest, {"detection_ids": [1]}, today=TODAY).include_media is False


def test_today_is_allowed_tomorrow_is_not() -> None:
    body.parse(PdfExportRequest, {**PDF, "start_date": "2025-06-01", "end_date": "2025-06-15"}, today=TODAY)
    assert problems(PdfExportRequest, {**PDF, "start_date": "2025-06-01", "end_date": "2025-06-16"}) == \
        [("end_date", "not_future")]


def test_exactly_365_days_is_allowed_366_is_not() -> None:
    start = date(2024, 1, 1)
    body.parse(PdfExportRequest, {**PDF, "start_date": str(start), "end_date": str(start + timedelta(days=365))},
               today=TODAY)
    assert problems(PdfExportRequest, {**PDF, "start_date": str(start),
                                       "end_date": str(start + timedelta(days=366))}) == [("end_date", "max_range")]


def test_equal_dates_break_the_order_rule() -> None:
    assert problems(PdfExportRequest, {**PDF, "end_date": PDF["start_date"]}) == [("start_date", "date_order")]


@pytest.mark.parametrize("value", ["2024-02-30", "2024-9-1", "2024-09-01T00:00:00", 20240901, "", None, True])
def test_malformed_dates_name_the_field(value) -> None:
    assert problems(PdfExportRequest, {**PDF, "start_date": value}) == [("start_date", "date_format")]


def test_enum_messages_list_the_valid_values() -> None:
    with pytest.raises(RequestInvalid) as info:
        body.parse(PdfExportRequest, {**PDF, "group_by": "year"}, today=TODAY)
    assert info.value.details[0].message == "group_by must be one of 'day', 'week' or 'month' (got 'year')"


def test_rules_run_on_the_fields_that_parsed() -> None:
    found = problems(PdfExportRequest, {**PDF, "report_type": "deer_profile", "start_date": "2024-12-01",
                                        "group_by": 3, "include_tables": "no"})
    assert sorted(found) == sorted([("group_by", "enum"), ("include_tables", "type"),
                                    ("start_date", "date_order"), ("deer_id", "required_for_report_type")])


def test_a_report_type_that_does_not_parse_does_not_invent_required_fields() -> None:
    assert problems(PdfExportRequest, {**PDF, "report_type": "profile"}) == [("report_type", "enum")]


def test_nested_rules_run_when_a_sibling_item_is_malformed() -> None:
    periods = [{"label": "A", "start_date": "2024-05-01", "end_date": "2024-04-01"},
               {"label": "B", "start_date": "2024-04-01"}]
    found = problems(PdfExportRequest, {**PDF, "report_type": "comparison", "comparison_periods": periods})
    assert sorted(found) == [("comparison_periods[0].start_date", "date_order"),
                             ("comparison_periods[1].end_date", "required")]


def test_body_must_be_a_json_object() -> None:
    with pytest.raises(RequestInvalid) as info:
        body.parse(PdfExportRequest, "text", today=TODAY)
    assert info.value.details[0].rule == "json_object"
    with pytest.raises(RequestInvalid) as info:
        body.load_json(b"{")
    assert info.value.details[0].field == "body"


def test_ids_must_be_positive_integers_not_booleans() -> None:
    assert problems(ZipExportRequest, {"detection_ids": [True, 0, "3"]}) == [
        ("detection_ids[0]", "type"), ("detection_ids[1]", "minimum"), ("detection_ids[2]", "type")]


def test_the_400_body_shape() -> None:
    with pytest.raises(RequestInvalid) as info:
        body.parse(PdfExportRequest, {**PDF, "start_date": "2024-12-01", "x": 1}, today=TODAY)
    payload = info.value.body()
    assert set(payload) == {"error", "message", "details"}
    assert payload["error"] == "validation_error"
    assert all(set(d) == {"field", "rule", "message"} for d in payload["details"])
    assert payload["message"].startswith("the request has 2 problems")


def test_summary_stays_short() -> None:
    from deertrack.problems import Problem

    text = summarize([Problem(f"f{i}", "r", f"m{i}") for i in range(8)])
    assert text.endswith("and 3 more") and "m5" not in text


def test_503_names_the_service_and_says_when_to_retry() -> None:
    problem = ServiceUnavailable("redis", ConnectionError("refused"))
    assert problem.status == 503 and problem.headers()["Retry-After"].isdigit()
    assert problem.body()["details"][0]["field"] == "redis"


def test_selection_sql_follows_the_request() -> None:
    where, params = Selection.from_request({"detection_ids": [3, 4]}).where()
    assert where == "d.id = ANY(CAST(:detection_ids AS BIGINT[]))" and params == {"detection_ids": [3, 4]}
    request = body.parse(ZipExportRequest, {"filters": {"start_date": "2024-01-01", "end_date": "2024-01-31",
                                                        "classifications": ["doe"], "min_confidence": 0.5}},
                         today=TODAY)
    stored = request.model_dump(mode="json")
    assert Selection.from_request(stored) == Selection.from_request(request)
    where, params = Selection.from_request(stored).where()
    assert "d.is_valid" in where and "COALESCE(d.corrected_classification, d.classification)" in where
    assert params["end_before"].isoformat() == "2024-02-01T00:00:00+00:00"  # end_date is included
    assert "location_ids" not in params


def test_idempotency_fingerprint_ignores_key_order_but_not_the_endpoint() -> None:
    assert fingerprint("pdf", {"a": 1, "b": 2}) == fingerprint("pdf", {"b": 2, "a": 1})
    assert fingerprint("pdf", {"a": 1}) != fingerprint("zip", {"a": 1})
    assert checked_key(None) is None and checked_key("abc-123") == "abc-123"
    with pytest.raises(RequestInvalid):
        checked_key("has space")


def test_request_documents_carry_their_export_type() -> None:
    assert split_export_type({"export_type": "zip", "detection_ids": [1]}) == ("zip", {"detection_ids": [1]})
    for document, rule in (({}, "required"), ({"export_type": "csv"}, "enum"), ([], "json_object")):
        with pytest.raises(RequestInvalid) as info:
            split_export_type(document)
        assert info.value.details[0].rule == rule


def test_result_files_sit_next_to_their_request() -> None:
    assert result_key("export-requests/foo.json") == "export-requests/foo.result.json"
    assert is_request_key("export-requests/a b.json")
    assert not is_request_key("export-requests/foo.result.json")
    assert not is_request_key("elsewhere/foo.json")


@pytest.mark.parametrize("raw", [
    b"null", b"[" * 100_000, b'{"deer_id": ' + b"9" * 5000 + b"}", b'{"min_confidence": NaN}', b"\x00",
    b'{"report_type": {"nested": [1, 2]}, "start_date": [], "end_date": {}, "location_ids": "1,2"}',
    b'{"title": "\\u0000\\ud800", "comparison_periods": [null, 3, "x"]}',
])
def test_strange_bodies_are_problems_never_crashes(raw) -> None:
    with pytest.raises(RequestInvalid) as info:
        body.parse(PdfExportRequest, body.load_json(raw), today=TODAY)
    assert info.value.details and all(p.field and p.rule and p.message for p in info.value.details)
