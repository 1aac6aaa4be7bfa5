"""A request's inputs read into validated values: the JSON body, the query string and the path ids.

Every route reads them through here, so each refusal is the same RequestInvalid (`deertrack.problems`) naming
the field and the rule, and the OpenAPI document takes the path parameters' schemas from the same table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final, TypeVar

from pydantic import BaseModel, BeforeValidator, Field, ValidationError
from pydantic_core import PydanticCustomError

from deertrack.problems import Problem, RequestInvalid, load_json, nul_problems, problems_from

M = TypeVar("M", bound=BaseModel)

INT4_MAX: Final = 2_147_483_647
INT8_MAX: Final = 9_223_372_036_854_775_807



def _json_integer(value: Any) -> Any:
    """A JSON integer: a whole number (JSON Schema counts 5.0 as one), never a string or a boolean."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("int_type", "must be an integer")
    return int(value) if isinstance(value, float) and value.is_integer() else value


def json_int(*, ge: int | None = None, gt: int | None = None, le: int | None = None) -> Any:
    """An integer of a JSON body within bounds: what JSON Schema's "integer" accepts (5 and 5.0), nothing else
    ("5", true). The bounds sit inside the type, so that the JSON schema states them (also inside `X | None`)."""
    return Annotated[int, Field(ge=ge, gt=gt, le=le), BeforeValidator(_json_integer)]


JsonInt = json_int()
#: A row id of a SERIAL (INTEGER) or BIGSERIAL column.
Int4Id = json_int(ge=1, le=INT4_MAX)
Int8Id = json_int(ge=1, le=INT8_MAX)

#: Every numeric path id and its largest value (the column's type: deer are SERIAL, the rest BIGSERIAL).
PATH_IDS: Final = {"detection_id": INT8_MAX, "deer_id": INT4_MAX, "merge_id": INT8_MAX, "review_id": INT8_MAX}
#: The other path parameters: job and ingest batch ids (any text; an unknown one is a 404) and the review
#: page's file names.
PATH_TEXT: Final = {"job_id": {"type": "string", "minLength": 1, "maxLength": 64},
                    "batch_id": {"type": "string", "minLength": 1, "maxLength": 64},
                    "asset": {"type": "string", "minLength": 1, "maxLength": 100}}


def path_schema(name: str) -> dict[str, Any]:
    """The JSON schema of path parameter `name`."""
    if name in PATH_IDS:
        return {"type": "integer", "minimum": 1, "maximum": PATH_IDS[name]}
    if name in PATH_TEXT:
        return dict(PATH_TEXT[name])
    raise KeyError(f"path parameter {name!r} has no schema: add it to deertrack.inputs.PATH_IDS or PATH_TEXT")


def path_id(value: str, name: str) -> int:
    """A path id: a whole number from 1 to the column's largest value."""
    largest = PATH_IDS[name]
    text = value.strip()
    number = int(text) if text.isascii() and text.isdigit() else 0
    if not 1 <= number <= largest:
        raise RequestInvalid([Problem(name, "positive_integer",
                                      f"{name} must be a whole number from 1 to {largest}, not {value!r}")])
    return number


def json_object(raw: bytes | str | None, empty_ok: bool = False) -> dict[str, Any]:
    """The body as a JSON object (an empty body is `{}` when `empty_ok`)."""
    blank = raw is None or not (raw if isinstance(raw, str) else raw.decode(errors="replace")).strip()
    if empty_ok and blank:
        return {}
    data = load_json(raw)
    if not isinstance(data, dict):
        raise RequestInvalid([Problem("body", "json_object", "the request body must be a JSON object")])
    return data


def body(model: type[M], raw: bytes | str | None, empty_ok: bool = False) -> M:
    """A JSON object body validated by a pydantic model (whose fields take JSON's types: JsonInt, StrictBool,
    StrictStr, StrictFloat)."""
    data = json_object(raw, empty_ok)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestInvalid(problems_from(exc, (), model)) from None


def query(model: type[M], params: Mapping[str, str] | None) -> M:
    """Query parameters validated by a pydantic model; every problem names its parameter."""
    problems = nul_problems(dict(params or {}))
    if problems:
        raise RequestInvalid(problems)
    try:
        return model.model_validate(dict(params or {}))
    except ValidationError as exc:
        raise RequestInvalid(problems_from(exc, (), model)) from None
