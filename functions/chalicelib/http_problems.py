"""JSON answers for Chalice views: ApiProblem → its status and body; anything unexpected → 500 JSON."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from chalice import Response

from deertrack.logs import logger
from deertrack.problems import ApiProblem

JSON = {"Content-Type": "application/json", "Cache-Control": "no-store"}


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
        except Exception:
            logger.exception("unexpected error", extra={"view": view.__name__})
            return json_response({"error": "internal_error", "message": "unexpected error; it has been logged",
                                  "details": []}, 500)

    return wrapper
