"""What every Chalice view shares: JSON answers (ApiProblem → its status and body; anything unexpected →
500 JSON), the request helpers (a database connection whose loss is a 503, a positive id, query
parameters through a pydantic model) and the OpenAPI replies of those problem answers."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import pg8000.native
from chalice import Response
from pydantic import BaseModel, ValidationError

from deertrack import db, openapi
from deertrack.logs import logger
from deertrack.outages import POSTGRES, service_down
from deertrack.problems import (
    ApiProblem,
    Problem,
    ProblemBody,
    RequestInvalid,
    ServiceUnavailable,
    load_json,
    problems_from,
)

M = TypeVar("M", bound=BaseModel)

JSON = {"Content-Type": "application/json", "Cache-Control": "no-store"}

#: Any content type for a route with a body: it is read as JSON whatever the header says, and answered
#: with our 400.
ANY_CONTENT = ["*/*"]


def problem_reply(description: str, retry: bool = False) -> openapi.Reply:
    """The OpenAPI reply of a problem answer; `retry` for a 503, which carries Retry-After."""
    headers = {"Retry-After": "Seconds to wait before retrying"} if retry else {}
    return openapi.Reply(description, ProblemBody, headers=headers)


#: The 400 of a route that validates a body: every violated rule is listed.
INVALID_REQUEST = problem_reply("Invalid request: every violated rule in `details`")


def json_response(body: Any, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(body=body, status_code=status, headers={**JSON, **(headers or {})})


def answers_problems(view: Callable[..., Response]) -> Callable[..., Response]:
    """Turn every ApiProblem raised by `view` into its JSON answer; log and hide anything else."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        try:
            return view(*args, **kwargs)
        except ApiProblem as problem:
            level = logger.warning if problem.status >= 500 else logger.info
            level("request refused", extra={"status": problem.status, "error": problem.error,
                                            "view": view.__name__, "detail": problem.message,
                                            "cause": getattr(problem, "cause", None)})
            return json_response(problem.body(), problem.status, problem.headers())
        except Exception as exc:  # noqa: BLE001 - a service down is a 503 on every route; the rest a 500
            service = service_down(exc)
            if service is not None:
                down = ServiceUnavailable(service, exc)
                logger.warning("request refused: service unavailable", extra={
                    "status": 503, "view": view.__name__, "service": service, "cause": down.cause})
                return json_response(down.body(), down.status, down.headers())
            logger.exception("unexpected error", extra={"view": view.__name__})
            return json_response({"error": "internal_error", "message": "unexpected error; it has been logged",
                                  "details": []}, 500)

    return wrapper


@contextmanager
def database() -> Iterator[pg8000.native.Connection]:
    """The process's reused connection (db.reused); PostgreSQL down or lost becomes a 503 answer."""
    try:
        with db.reused() as con:
            yield con
    except db.DatabaseUnavailable as exc:
        raise ServiceUnavailable(POSTGRES, exc) from exc


def positive_id(value: str, name: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise RequestInvalid([Problem(name, "positive_integer", f"{name} must be a positive integer, not {value!r}")])
    return number


def parse_body(model: type[M], raw: bytes | str | None, empty_ok: bool = False) -> M:
    """A JSON object body validated by a pydantic model (an empty body is `{}` when `empty_ok`)."""
    blank = raw is None or not (raw if isinstance(raw, str) else raw.decode(errors="replace")).strip()
    data = {} if empty_ok and blank else load_json(raw)
    if not isinstance(data, dict):
        raise RequestInvalid([Problem("body", "json_object", "the request body must be a JSON object")])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestInvalid(problems_from(exc, (), model)) from None


def parse_query(model: type[M], params: Mapping[str, str] | None) -> M:
    """Query parameters validated by a pydantic model; every problem names its parameter."""
    try:
        return model.model_validate(params or {})
    except ValidationError as exc:
        raise RequestInvalid(problems_from(exc, (), model)) from None
