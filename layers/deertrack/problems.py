"""What the API answers when it cannot accept a request: one JSON shape for every 4xx/503, every route.

Every body is `{"error": <code>, "message": <one sentence>, "details": [{"field", "rule", "message"}]}`;
a 400 lists every violated rule at once. A JSON request body is read with `load_json`, and a pydantic
error becomes a Problem naming its field with `problem_from_error`.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError

#: Seconds a client should wait before retrying after a 503.
SERVICE_RETRY_AFTER_SECONDS = 5

B = TypeVar("B", bound=BaseModel)

class ProblemDetail(BaseModel):
    field: str = Field(description="The field (dotted path, list items as [i]) or header the rule is about")
    rule: str = Field(description="Machine-readable name of the rule, e.g. date_order, enum, unknown_id")
    message: str = Field(description="The rule in words, naming the field")


class ProblemBody(BaseModel):
    """The JSON body of every 4xx and 503 answer of the export API."""

    error: str = Field(description="validation_error, unauthorized, forbidden, not_found, idempotency_conflict or "
                                   "service_unavailable")
    message: str
    details: list[ProblemDetail] = Field(default_factory=list)


@dataclass(frozen=True)
class Problem:
    """One violated rule."""

    field: str
    rule: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


class ApiProblem(Exception):
    """A request the API answers with an error status and a ProblemBody."""

    status: int = 400
    error: str = "bad_request"

    def __init__(self, message: str, details: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = list(details or [])

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "message": self.message, "details": [d.as_dict() for d in self.details]}

    def headers(self) -> dict[str, str]:
        return {}


class RequestInvalid(ApiProblem):
    """400: the request broke one or more rules; `details` lists every one of them."""

    status = 400
    error = "validation_error"

    def __init__(self, problems: list[Problem]) -> None:
        if not problems:
            raise ValueError("RequestInvalid needs at least one problem")
        super().__init__(summarize(problems), problems)


class Unauthorized(ApiProblem):
    """401: no token, or one that is expired, not yet valid, badly signed, or for another issuer or audience."""

    status = 401
    error = "unauthorized"

    def __init__(self, message: str, rule: str = "valid_token") -> None:
        super().__init__(message, [Problem("Authorization", rule, message)])
        self.rule = rule

    def headers(self) -> dict[str, str]:
        challenge = 'Bearer realm="deertrack"'
        if self.rule != "required":  # RFC 6750: no error code when no credentials were sent
            challenge += f', error="invalid_token", error_description="{self.message.replace(chr(34), chr(39))}"'
        return {"WWW-Authenticate": challenge}


class Forbidden(ApiProblem):
    """403: a valid token whose role does not allow the route."""

    status = 403
    error = "forbidden"

    def __init__(self, message: str) -> None:
        super().__init__(message, [Problem("Authorization", "role", message)])


class NotFound(ApiProblem):
    status = 404
    error = "not_found"


class IdempotencyConflict(ApiProblem):
    """409: an Idempotency-Key already used with a different request body."""

    status = 409
    error = "idempotency_conflict"


class Conflict(ApiProblem):
    """409: the request is well formed but the data's state forbids it (a merge rule, an undo order)."""

    status = 409
    error = "conflict"

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message, [problem])


class ServiceUnavailable(ApiProblem):
    """503: a service the API stands on (Redis, SQS, PostgreSQL, S3) could not be reached."""

    status = 503
    error = "service_unavailable"

    def __init__(self, service: str, cause: BaseException | str) -> None:
        super().__init__(
            f"{service} is unavailable, nothing was created; retry in {SERVICE_RETRY_AFTER_SECONDS} s",
            [Problem(service, "unavailable", f"{service} could not be reached")],
        )
        self.service = service
        #: What went wrong, for the logs (not the client: it names internal addresses).
        self.cause = f"{type(cause).__name__}: {cause}" if isinstance(cause, BaseException) else str(cause)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(SERVICE_RETRY_AFTER_SECONDS)}


def summarize(problems: list[Problem], limit: int = 5) -> str:
    """One sentence for `message`: how many problems, and the first few in words."""
    shown = "; ".join(p.message for p in problems[:limit])
    more = f"; and {len(problems) - limit} more" if len(problems) > limit else ""
    noun = "problem" if len(problems) == 1 else "problems"
    return f"the request has {len(problems)} {noun}: {shown}{more}"


# ------------------------------------------------------------------------------------------ request bodies


#: Text the API stores never holds NUL (PostgreSQL's text cannot); the OpenAPI document gives every request
#: string this pattern, and `load_json` / `nul_problems` refuse it with the rule `no_nul`.
NO_NUL_PATTERN = "^[^\\x00]*$"


def load_json(raw: bytes | str | None) -> Any:
    """Parse a request body; a body that is not JSON is a problem with field `body`, a string holding NUL one
    with the string's field."""
    if raw is None or (isinstance(raw, bytes | str) and not raw.strip()):
        raise RequestInvalid([Problem("body", "json", "the request body is empty; send a JSON object")])
    try:
        data = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, bad UTF-8, a 5,000-digit number, deep nesting
        raise RequestInvalid([Problem("body", "json", f"the request body is not valid JSON: {exc}")]) from None
    problems = nul_problems(data)
    if problems:
        raise RequestInvalid(problems)
    return data


def nul_problems(value: Any, path: tuple[str | int, ...] = ()) -> list[Problem]:
    """A `no_nul` problem for every string (or object key) in `value` that holds a NUL character."""
    found: list[Problem] = []
    if isinstance(value, str) and "\x00" in value:
        name = field_name(path) or "body"
        found.append(Problem(name, "no_nul", f"{name} must not contain NUL characters (\\u0000)"))
    elif isinstance(value, dict):
        for key, item in value.items():
            found += nul_problems(key, (*path, key)) + nul_problems(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += nul_problems(item, (*path, index))
    return found


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def field_name(loc: tuple[str | int, ...], trailing_dot: bool = False) -> str:
    """('comparison_periods', 1, 'start_date') -> 'comparison_periods[1].start_date'."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text + "." if trailing_dot and text else text


def nested_model(annotation: Any, base: type[B]) -> tuple[type[B] | None, bool]:
    """(the `base` subclass inside `annotation`, whether it is a list of them)."""
    if isinstance(annotation, type) and issubclass(annotation, base):
        return annotation, False
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            found = nested_model(arg, base)
            if found[0] is not None:
                return found
    if origin is list and args:
        inner, _ = nested_model(args[0], base)
        if inner is not None:
            return inner, True
    if origin is typing.Annotated:
        return nested_model(args[0], base)
    return None, False


def _model_at(model: type[BaseModel], loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The model whose field list applies at `loc` (for naming the allowed fields)."""
    current: type[BaseModel] | None = model
    for part in loc:
        if isinstance(part, int) or current is None:
            continue
        info = current.model_fields.get(part)
        current = nested_model(info.annotation, BaseModel)[0] if info else None
    return current


_TYPE_WORDS = {
    "int": "an integer", "bool": "true or false", "string": "a string", "str": "a string",
    "float": "a number", "list": "a list", "dict": "a JSON object", "model": "a JSON object",
    "date": "an ISO date, YYYY-MM-DD", "datetime": "an ISO 8601 date-time", "none": "null",
}


def problems_from(exc: ValidationError, path: tuple[str | int, ...] = (),
                  model: type[BaseModel] | None = None) -> list[Problem]:
    """Every error of a pydantic ValidationError as a Problem, the one translation every route uses."""
    return [problem_from_error(err, path, model) for err in exc.errors()]


def problem_from_error(err: Any, path: tuple[str | int, ...], model: type[BaseModel] | None = None) -> Problem:
    """A pydantic error as a Problem whose message names the field and the rule (one rule vocabulary:
    required, unknown_field, enum, minimum, maximum, min_items, max_items, min_length, max_length, type…)."""
    loc = (*path, *err["loc"])
    name = field_name(loc) or "body"
    kind: str = err["type"]
    ctx = err.get("ctx") or {}
    got = _shown(err.get("input"))
    if kind == "missing":
        return Problem(name, "required", f"{name} is required")
    if kind == "extra_forbidden":
        owner = _model_at(model, tuple(err["loc"][:-1])) if model is not None else None
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
        return Problem(name, "type", f"{name} must be {wanted} (got {json_type(err.get('input'))} {got})")
    return Problem(name, kind, f"{name}: {err['msg'].removeprefix('Value error, ')}")


def json_type(value: Any) -> str:
    """The JSON type of a parsed value in words: "null", "a number", "an object", …"""
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
