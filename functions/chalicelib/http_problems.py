"""What every Chalice view shares: JSON answers (ApiProblem → its status and body; an outage → 503; anything
unexpected → 500 JSON) and the OpenAPI replies of those problem answers. A view reads its inputs with
deertrack.inputs and its database connection with deertrack.db.reused(): a lost PostgreSQL is a 503 here."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from chalice import Response

from deertrack import openapi
from deertrack.logs import logger
from deertrack.outages import service_down
from deertrack.problems import ApiProblem, ProblemBody, ServiceUnavailable

JSON = {"Content-Type": "application/json", "Cache-Control": "no-store"}

#: Any content type for a route with a body: it is read as JSON whatever the header says, and answered
#: with our 400.
ANY_CONTENT = ["*/*"]


def problem_reply(description: str, retry: bool = False) -> openapi.Reply:
    """The OpenAPI reply of a problem answer; `retry` for a 503, which carries Retry-After."""
    return openapi.Reply(description, ProblemBody, headers={"Retry-After": openapi.RETRY_AFTER} if retry else {})


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
