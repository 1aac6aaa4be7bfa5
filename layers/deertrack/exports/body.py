"""A JSON request body → a validated model, or every problem with it at once.

pydantic reports every field that does not parse; each model's `rules()` then runs on the fields
that did (nested models and list items included), so a body with a malformed `group_by` and a
reversed date range gets both problems in one answer.
"""

from __future__ import annotations

import json
import types
import typing
from datetime import date
from functools import cache
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from deertrack.exports.schemas import RequestBody, today_utc
from deertrack.problems import Problem, RequestInvalid

M = TypeVar("M", bound=RequestBody)

_TYPE_WORDS = {
    "int": "an integer", "bool": "true or false", "string": "a string", "str": "a string",
    "float": "a number", "list": "a list", "dict": "a JSON object", "model": "a JSON object",
    "date": "an ISO date, YYYY-MM-DD", "none": "null",
}


def load_json(raw: bytes | str | None) -> Any:
    """Parse a request body; a body that is not JSON is a problem with field `body`."""
    if raw is None or (isinstance(raw, bytes | str) and not raw.strip()):
        raise RequestInvalid([Problem("body", "json", "the request body is empty; send a JSON object")])
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, bad UTF-8, a 5,000-digit number, deep nesting
        raise RequestInvalid([Problem("body", "json", f"the request body is not valid JSON: {exc}")]) from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse(model: type[M], data: Any, *, today: date | None = None) -> M:
    """Validate `data` (parsed JSON) as `model`; raise RequestInvalid listing every problem."""
    if not isinstance(data, dict):
        raise RequestInvalid([Problem("body", "json_object",
                                      f"the request body must be a JSON object, not {_json_type(data)}")])
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
        nested, is_list = _nested_model(info.annotation)
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


def _nested_model(annotation: Any) -> tuple[type[RequestBody] | None, bool]:
    """(the RequestBody inside `annotation`, whether it is a list of them)."""
    if isinstance(annotation, type) and issubclass(annotation, RequestBody):
        return annotation, False
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            found = _nested_model(arg)
            if found[0] is not None:
                return found
    if origin is list and args:
        inner, _ = _nested_model(args[0])
        if inner is not None:
            return inner, True
    if origin is typing.Annotated:
        return _nested_model(args[0])
    return None, False


def field_name(loc: tuple[str | int, ...], trailing_dot: bool = False) -> str:
    """('comparison_periods', 1, 'start_date') -> 'comparison_periods[1].start_date'."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text + "." if trailing_dot and text else text


def _model_at(model: type[BaseModel], loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The model whose field list applies at `loc` (for naming the allowed fields)."""
    current: type[BaseModel] | None = model
    for part in loc:
        if isinstance(part, int) or current is None:
            continue
        info = current.model_fields.get(part)
        current = _nested_model(info.annotation)[0] if info else None
    return current


def problem_from_error(err: Any, path: tuple[str | int, ...], model: type[BaseModel]) -> Problem:
    """A pydantic error as a Problem whose message names the field and the rule."""
    loc = (*path, *err["loc"])
    name = field_name(loc) or "body"
    kind: str = err["type"]
    ctx = err.get("ctx") or {}
    got = _shown(err.get("input"))
    if kind == "missing":
        return Problem(name, "required", f"{name} is required")
    if kind == "extra_forbidden":
        owner = _model_at(model, tuple(err["loc"][:-1]))
        allowed = f"; allowed fields: {', '.join(owner.model_fields)}" if owner else ""
        return Problem(name, "unknown_field", f"{name} is not a known field{allowed}")
    if kind == "literal_error":
        return Problem(name, "enum", f"{name} must be one of {ctx.get('expected')} (got {got})")
    if kind == "date_format":
        return Problem(name, "date_format", f"{name} {err['msg']} (got {got})")
    bounds = {
        "greater_than_equal": ("minimum", "at least", "ge"), "greater_than": ("minimum", "more than", "gt"),
        "less_than_equal": ("maximum", "at most", "le"), "less_than": ("maximum", "less than", "lt"),
    }
    if kind in bounds:
        rule, words, key = bounds[kind]
        return Problem(name, rule, f"{name} must be {words} {ctx.get(key)} (got {got})")
    if kind in ("too_short", "too_long"):
        rule, words, key = ("min_items", "at least", "min_length") if kind == "too_short" else \
            ("max_items", "at most", "max_length")
        return Problem(name, rule, f"{name} must have {words} {ctx.get(key)} items (got {ctx.get('actual_length')})")
    if kind in ("string_too_short", "string_too_long"):
        rule, words, key = ("min_length", "at least", "min_length") if kind == "string_too_short" else \
            ("max_length", "at most", "max_length")
        return Problem(name, rule, f"{name} must have {words} {ctx.get(key)} characters")
    if kind.endswith(("_type", "_parsing")) or kind in ("int_from_float",):
        wanted = _TYPE_WORDS.get(kind.split("_")[0], kind.split("_")[0])
        return Problem(name, "type", f"{name} must be {wanted} (got {_json_type(err.get('input'))} {got})")
    return Problem(name, kind, f"{name}: {err['msg']}")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _shown(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
