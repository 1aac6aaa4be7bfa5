"""Every request rule over real HTTP, one test each, plus several at once.

These requests are all refused before anything is written, so the module shares one server and one
seeded database (reset once) instead of the per-test `stack` reset; each test still checks that
nothing reached Redis or SQS.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from deertrack import db
from deertrack.exports.schemas import today_utc
from infra.api_server import ApiServer
from tests.conftest import Stack, clean_slate, reset_caches
from tests.export_api_client import PDF, ZIP_FILTERS, call, export_messages, redis_keys, seed

pytestmark = pytest.mark.integration
TODAY = today_utc()
PERIODS = [{"label": "Rut", "start_date": "2024-10-15", "end_date": "2024-11-30"},
           {"label": "Summer", "start_date": "2024-06-01", "end_date": "2024-08-31"}]


@pytest.fixture(scope="module")
def rules_api(_services: Stack) -> Iterator[str]:
    clean_slate(_services)
    with db.connection() as con:
        seed(con)  # detection ids 1-6, location ids 1-2, deer ids 1-2
    server = ApiServer(port=0).start()
    try:
        yield server.url
    finally:
        server.stop()
        reset_caches()


@pytest.mark.parametrize("raw", [b"", b"{not json", b"report_type=comparison", b"\xff\xfe"])
def test_a_body_that_is_not_json_is_a_400(rules_api, raw) -> None:
    answer = call("POST", f"{rules_api}/api/exports/pdf", raw=raw)
    assert answer.status == 400
    assert answer.body["error"] == "validation_error"
    assert answer.problems() == [("body", "json")]


def test_a_json_body_that_is_not_an_object_is_a_400(rules_api) -> None:
    answer = call("POST", f"{rules_api}/api/exports/zip", [1, 2])
    assert answer.status == 400 and answer.problems() == [("body", "json_object")]


@pytest.mark.parametrize(
    ("body", "field", "rule", "words"),
    [
        ({**PDF, "start_date": "2024-12-01"}, "start_date", "date_order", "start_date must be before end_date"),
        ({**PDF, "start_date": "2023-01-01", "end_date": "2024-06-01"}, "end_date", "max_range", "at most 365 days"),
        ({**PDF, "start_date": str(TODAY - timedelta(days=9)), "end_date": str(TODAY + timedelta(days=1))},
         "end_date", "not_future", "must not be in the future"),
        ({**PDF, "start_date": "01/09/2024"}, "start_date", "date_format", "start_date must be an ISO date"),
        ({**PDF, "report_type": "weekly"}, "report_type", "enum",
         "'seasonal_activity', 'comparison' or 'deer_profile'"),
        ({**PDF, "group_by": "year"}, "group_by", "enum", "'day', 'week' or 'month'"),
        ({**PDF, "colour": "red"}, "colour", "unknown_field", "colour is not a known field"),
        ({**PDF, "title": "x" * 201}, "title", "max_length", "at most 200 characters"),
        ({**PDF, "report_type": "deer_profile"}, "deer_id", "required_for_report_type", "deer_id is required"),
        ({**PDF, "report_type": "comparison"}, "comparison_periods", "required_for_report_type",
         "comparison_periods is required"),
        ({**PDF, "comparison_periods": PERIODS}, "comparison_periods", "only_for_report_type",
         "applies only to report_type comparison"),
        ({**PDF, "report_type": "comparison", "comparison_periods": PERIODS[:1]}, "comparison_periods", "min_items",
         "at least 2 items"),
        ({**PDF, "report_type": "comparison", "comparison_periods": PERIODS * 3}, "comparison_periods", "max_items",
         "at most 5 items"),
        ({**PDF, "report_type": "comparison", "comparison_periods": [PERIODS[0], {**PERIODS[1], "label": "Rut"}]},
         "comparison_periods", "unique_labels", "labels must be unique"),
        ({**PDF, "report_type": "comparison",
          "comparison_periods": [PERIODS[0], {**PERIODS[1], "start_date": "2024-12-31"}]},
         "comparison_periods[1].start_date", "date_order", "must be before comparison_periods[1].end_date"),
        ({**PDF, "classifications": ["doe", "moose"]}, "classifications[1]", "enum", "'buck', 'doe', 'fawn'"),
        ({**PDF, "location_ids": ["1"]}, "location_ids[0]", "type", "must be an integer"),
        ({**PDF, "include_charts": "yes"}, "include_charts", "type", "must be true or false"),
        ({**PDF, "start_date": None}, "start_date", "date_format", "start_date must be an ISO date"),
        ({key: value for key, value in PDF.items() if key != "end_date"}, "end_date", "required",
         "end_date is required"),
    ],
)
def test_each_pdf_rule_over_http(rules_api, body, field, rule, words) -> None:
    answer = call("POST", f"{rules_api}/api/exports/pdf", body)
    assert answer.status == 400, answer.body
    assert answer.problems() == [(field, rule)]
    assert words in answer.body["details"][0]["message"]
    assert words in answer.body["message"]
    assert export_messages() == [] and redis_keys() == []


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        ({"detection_ids": []}, "detection_ids", "min_items"),
        ({"detection_ids": list(range(1, 10_002))}, "detection_ids", "max_items"),
        ({**ZIP_FILTERS, "crop_size": 1025}, "crop_size", "maximum"),
        ({**ZIP_FILTERS, "crop_size": 127}, "crop_size", "minimum"),
        ({**ZIP_FILTERS, "detection_ids": [1]}, "detection_ids", "one_of"),
        ({}, "detection_ids", "one_of"),
        ({"filters": {**ZIP_FILTERS["filters"], "min_confidence": 1.5}}, "filters.min_confidence", "maximum"),
        ({"filters": {**ZIP_FILTERS["filters"], "classifications": ["stag"]}}, "filters.classifications[0]", "enum"),
        ({"filters": {"start_date": "2024-09-01"}}, "filters.end_date", "required"),
        ({**ZIP_FILTERS, "include_media": True}, "include_media", "unknown_field"),
    ],
)
def test_each_zip_rule_over_http(rules_api, body, field, rule) -> None:
    answer = call("POST", f"{rules_api}/api/exports/zip", body)
    assert answer.status == 400, answer.body
    assert answer.problems() == [(field, rule)]
    assert export_messages() == [] and redis_keys() == []


def test_every_broken_rule_is_listed_at_once(rules_api) -> None:
    body = {"report_type": "comparison", "start_date": "2024-12-01", "end_date": "2024-02-30",
            "group_by": "fortnight", "title": "", "location_ids": [999], "deer_id": 5, "extra": 1}
    answer = call("POST", f"{rules_api}/api/exports/pdf", body)
    assert answer.status == 400
    assert sorted(answer.problems()) == sorted([
        ("end_date", "date_format"), ("group_by", "enum"), ("title", "min_length"), ("extra", "unknown_field"),
        ("comparison_periods", "required_for_report_type"), ("deer_id", "only_for_report_type"),
        ("location_ids", "unknown_id"), ("deer_id", "unknown_id"),
    ])
    assert "8 problems" in answer.body["message"]


def test_a_bad_idempotency_key_is_a_400(rules_api) -> None:
    answer = call("POST", f"{rules_api}/api/exports/pdf", PDF, headers={"Idempotency-Key": "x" * 300})
    assert answer.status == 400 and answer.problems() == [("Idempotency-Key", "format")]




def test_several_zip_rules_at_once_including_nested_ones(rules_api) -> None:
    body = {"filters": {"start_date": "2024-10-01", "end_date": "2024-09-01", "location_ids": [1, "two"],
                        "deer_ids": [77], "min_confidence": -1},
            "crop_size": 64, "include_crops": False, "include_metadata_csv": False}
    answer = call("POST", f"{rules_api}/api/exports/zip", body)
    assert answer.status == 400
    assert sorted(answer.problems()) == sorted([
        ("filters.location_ids[1]", "type"), ("filters.min_confidence", "minimum"), ("crop_size", "minimum"),
        ("filters.start_date", "date_order"), ("include_crops", "nothing_to_export"),
        ("filters.deer_ids", "unknown_id"),
    ])
    assert export_messages() == [] and redis_keys() == []


def test_the_answer_names_no_stack_trace(rules_api) -> None:
    answer = call("POST", f"{rules_api}/api/exports/pdf", {**PDF, "start_date": 20240901})
    assert answer.status == 400
    assert answer.problems() == [("start_date", "date_format")]
    assert "Traceback" not in answer.raw.decode()
