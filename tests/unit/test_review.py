"""deertrack.reid.review and review_queue without a database: what each answer is called, which answers
decide a detection, and the rules of an answer's and a queue query's fields."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from deertrack.reid.review import DECIDING, DetectionPatch
from deertrack.reid.review_queue import KINDS, QueueQuery


@pytest.mark.parametrize(("body", "current", "action"), [
    ({"deer_id": 4}, 4, "confirm"),
    ({"deer_id": 5}, 4, "reassign"),
    ({"deer_id": 5}, None, "reassign"),
    ({"new_deer": True}, 4, "new_deer"),
    ({"is_valid": False}, 4, "invalid"),
    ({"is_valid": True}, 4, "valid"),
    ({"corrected_classification": "doe"}, 4, "classify"),
    ({"corrected_classification": None}, 4, "classify"),
    ({"note": "antler tine broken"}, 4, "note"),
    ({"deer_id": 5, "corrected_classification": "buck"}, 4, "reassign"),
])
def test_each_answer_has_its_action(body: dict, current: int | None, action: str) -> None:
    assert DetectionPatch.model_validate(body).action(current) == action


def test_only_identity_answers_take_a_detection_off_the_queue() -> None:
    assert {"confirm", "reassign", "new_deer", "invalid"} == DECIDING


@pytest.mark.parametrize(("body", "words"), [
    ({}, "give at least one of"),
    ({"note": ""}, "give at least one of"),
    ({"deer_id": None}, "not null"),
    ({"is_valid": None}, "true or false"),
    ({"new_deer": True, "deer_id": 3}, "not both"),
    ({"new_deer": False}, "can only be true"),
    ({"deer_id": 0}, "greater than or equal to 1"),
    ({"note": "x" * 501}, "at most 500"),
    ({"colour": "red"}, "Extra inputs"),
])
def test_a_bad_answer_says_why(body: dict, words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        DetectionPatch.model_validate(body)


def test_queue_queries() -> None:
    query = QueueQuery.model_validate({"start_date": "2023-09-01", "end_date": "2023-09-01", "limit": "10"})
    assert query.start_date == query.end_date == date(2023, 9, 1) and query.limit == 10 and query.kind is None
    with pytest.raises(ValidationError, match="start_date must be before end_date"):
        QueueQuery.model_validate({"start_date": "2023-09-02", "end_date": "2023-09-01"})
    with pytest.raises(ValidationError, match="less than or equal to 200"):
        QueueQuery.model_validate({"limit": "201"})
    assert KINDS[0] == "close_call" and KINDS[-1] == "unreviewed"
