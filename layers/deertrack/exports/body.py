"""A JSON request body → a validated model, or every problem with it at once.

pydantic reports every field that does not parse; each model's `rules()` then runs on the fields
that did (nested models and list items included), so a body with a malformed `group_by` and a
reversed date range gets both problems in one answer.
"""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from deertrack.exports.schemas import RequestBody, today_utc
from deertrack.problems import (
    Problem,
    RequestInvalid,
    field_name,
    json_type,
    load_json,  # noqa: F401 - exports.intake and the tests read request bodies through exports.body
    nested_model,
    problem_from_error,
)

M = TypeVar("M", bound=RequestBody)


def parse(model: type[M], data: Any, *, today: date | None = None) -> M:
    """Validate `data` (parsed JSON) as `model`; raise RequestInvalid listing every problem."""
    if not isinstance(data, dict):
        raise RequestInvalid([Problem("body", "json_object",
                                      f"the request body must be a JSON object, not {json_type(data)}")])
    parsed, problems = check(model, data, today=today or today_utc())
    if problems:
        raise RequestInvalid(problems)
    assert parsed is not None
    return parsed


def check(model: type[M], data: dict[str, Any], *, today: date,
          path: tuple[str | int, ...] = ()) -> tuple[M | None, list[Problem]]:
    """(model or None, shape problems + rule problems) for one (possibly nested) body."""
    shape: list[Problem] = []
    try:
        parsed: M | None = model.model_validate(data)
        values = {name: getattr(parsed, name) for name in model.model_fields}
    except ValidationError as exc:
        parsed = None
        shape = [problem_from_error(err, path, model) for err in exc.errors()]
        failed = {err["loc"][0] for err in exc.errors() if err["loc"]}
        values = partial_values(model, data, failed)
    return parsed, shape + _rule_problems(model, data, values, today, path)


def _rule_problems(model: type[RequestBody], data: dict[str, Any], values: dict[str, Any], today: date,
                   path: tuple[str | int, ...]) -> list[Problem]:
    problems = model.rules(values, field_name(path, trailing_dot=True), today)
    for name, info in model.model_fields.items():
        nested, is_list = nested_model(info.annotation, RequestBody)
        raw = data.get(name)
        if nested is None:
            continue
        if not is_list and isinstance(raw, dict):
            problems += _rule_problems_of(nested, raw, today, (*path, name))
        elif is_list and isinstance(raw, list):
            for index, item in enumerate(raw):
                if isinstance(item, dict):
                    problems += _rule_problems_of(nested, item, today, (*path, name, index))
    return problems


def _rule_problems_of(model: type[RequestBody], data: dict[str, Any], today: date,
                      path: tuple[str | int, ...]) -> list[Problem]:
    """Only the rule problems of a nested body: its shape problems are already the parent's."""
    try:
        parsed = model.model_validate(data)
        values = {name: getattr(parsed, name) for name in model.model_fields}
    except ValidationError as exc:
        values = partial_values(model, data, {err["loc"][0] for err in exc.errors() if err["loc"]})
    return _rule_problems(model, data, values, today, path)


def partial_values(model: type[BaseModel], data: dict[str, Any], failed: set[Any]) -> dict[str, Any]:
    """The parsed values of the fields that did not fail (defaults for the absent ones)."""
    values: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name in failed:
            continue
        if name not in data:
            if not info.is_required():
                values[name] = info.get_default(call_default_factory=True)
            continue
        try:
            values[name] = _field_adapter(model, name).validate_python(data[name])
        except ValidationError:
            continue
    return values


@cache
def _field_adapter(model: type[BaseModel], name: str) -> TypeAdapter[Any]:
    return TypeAdapter(model.model_fields[name].rebuild_annotation())
