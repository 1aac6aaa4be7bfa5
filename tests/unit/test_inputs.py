"""deertrack.inputs: the one reader of a request's body, query and path ids."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, Field

from deertrack import inputs
from deertrack.problems import RequestInvalid


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: inputs.JsonInt = Field(ge=1)
    deer: inputs.Int4Id | None = None


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(50, ge=1, le=500)
    q: str | None = None


def _rules(call: object, *args: object, **kwargs: object) -> list[tuple[str, str]]:
    with pytest.raises(RequestInvalid) as refused:
        call(*args, **kwargs)  # type: ignore[operator]
    return [(p.field, p.rule) for p in refused.value.details]


@pytest.mark.parametrize("value", ["1", "42", "9223372036854775807"])
def test_a_path_id_is_a_whole_number_from_1(value: str) -> None:
    assert inputs.path_id(value, "detection_id") == int(value)


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5", "", "٣", "9223372036854775808"])
def test_anything_else_is_refused_naming_the_id(value: str) -> None:
    assert _rules(inputs.path_id, value, "detection_id") == [("detection_id", "positive_integer")]


def test_a_deer_id_stops_at_its_columns_maximum() -> None:
    assert inputs.path_id(str(inputs.INT4_MAX), "deer_id") == inputs.INT4_MAX
    assert _rules(inputs.path_id, str(inputs.INT4_MAX + 1), "deer_id") == [("deer_id", "positive_integer")]


def test_every_path_parameter_of_the_app_has_a_schema() -> None:
    for name in (*inputs.PATH_IDS, *inputs.PATH_TEXT):
        assert inputs.path_schema(name)["type"] in ("integer", "string")
    with pytest.raises(KeyError):
        inputs.path_schema("thing_id")


def test_a_json_integer_is_what_json_schema_calls_one() -> None:
    assert inputs.body(_Body, '{"count": 5}').count == 5
    assert inputs.body(_Body, '{"count": 5.0}').count == 5  # JSON Schema's integer includes 5.0
    for bad in ('{"count": "5"}', '{"count": true}', '{"count": 5.5}'):
        assert _rules(inputs.body, _Body, bad)[0][0] == "count", bad
    assert _rules(inputs.body, _Body, '{"count": 0}') == [("count", "minimum")]
    assert _rules(inputs.body, _Body, '{"count": 1, "deer": 2147483648}') == [("deer", "maximum")]


def test_the_body_is_one_json_object() -> None:
    assert _rules(inputs.body, _Body, "") == [("body", "json")]
    assert _rules(inputs.body, _Body, "[1]") == [("body", "json_object")]
    assert _rules(inputs.body, _Body, "{nope") == [("body", "json")]
    assert inputs.json_object(b"  ", empty_ok=True) == {}
    assert _rules(inputs.body, _Body, '{"count": 1, "colour": "red"}') == [("colour", "unknown_field")]


def test_nul_is_refused_in_bodies_and_queries() -> None:
    assert _rules(inputs.json_object, '{"a": ["x\\u0000"]}') == [("a[0]", "no_nul")]
    assert _rules(inputs.query, _Query, {"q": "a\x00"}) == [("q", "no_nul")]


def test_query_parameters_are_read_from_their_strings() -> None:
    assert inputs.query(_Query, {"limit": "7"}).limit == 7
    assert inputs.query(_Query, None).limit == 50
    assert _rules(inputs.query, _Query, {"limit": ""}) == [("limit", "type")]
    assert _rules(inputs.query, _Query, {"limit": "0"}) == [("limit", "minimum")]
