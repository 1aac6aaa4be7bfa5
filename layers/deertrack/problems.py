"""What the API answers when it cannot accept a request: one JSON shape for every 4xx/503, every route.

Every body is `{"error": <code>, "message": <one sentence>, "details": [{"field", "rule", "message"}]}`;
a 400 lists every violated rule at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

#: Seconds a client should wait before retrying after a 503.
SERVICE_RETRY_AFTER_SECONDS = 5


class ProblemDetail(BaseModel):
    field: str = Field(description="The field (dotted path, list items as [i]) or header the rule is about")
    rule: str = Field(description="Machine-readable name of the rule, e.g. date_order, enum, unknown_id")
    message: str = Field(description="The rule in words, naming the field")


class ProblemBody(BaseModel):
    """The JSON body of every 4xx and 503 answer of the export API."""

    error: str = Field(description="validation_error, not_found, idempotency_conflict or service_unavailable")
    message: str
    details: list[ProblemDetail] = Field(default_factory=list)


@dataclass(frozen=True)
class Problem:
    """One violated rule."""

    field: str
    rule: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "rule": self.rule, "message": self.message}


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


class NotFound(ApiProblem):
    status = 404
    error = "not_found"


class IdempotencyConflict(ApiProblem):
    """409: an Idempotency-Key already used with a different request body."""

    status = 409
    error = "idempotency_conflict"


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
