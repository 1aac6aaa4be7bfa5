"""What a backfill covers: detections with a stored embedding, optionally captured since a date and
at most N of them (lowest ids first), and the threshold their rows are decided with."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, field_validator
from pydantic_core import PydanticCustomError

from deertrack.inputs import json_int
from deertrack.reid.scoring import round_threshold
from deertrack.settings import get_settings

#: The most detections one backfill may name.
MAX_LIMIT = 100_000_000


def date_as_midnight(value: object) -> object:
    """A date (or "YYYY-MM-DD") means its midnight UTC; a date-time is an ISO string (or a datetime), never a
    number; anything else is left to pydantic."""
    if value is not None and not isinstance(value, str | date):
        raise PydanticCustomError("datetime_type", "must be a date (YYYY-MM-DD) or an ISO 8601 date-time")
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime.combine(value, time(0), tzinfo=UTC)
    if isinstance(value, str) and len(value) == 10:
        try:
            return datetime.combine(date.fromisoformat(value), time(0), tzinfo=UTC)
        except ValueError:
            return value
    return value


class ScopeFields(BaseModel):
    """What a backfill request names: the fields of a scope, validated and described for the API."""

    model_config = ConfigDict(extra="forbid")

    since: datetime | None = Field(None, description="only detections captured on or after this date "
                                         "(YYYY-MM-DD, midnight UTC) or ISO timestamp")
    limit: json_int(ge=1, le=MAX_LIMIT) | None = Field(None, description="at most this many detections")
    #: threshold_used / matched decision; None means REID_THRESHOLD.
    threshold: StrictFloat | None = Field(None, ge=0.0, le=1.0, description="default REID_THRESHOLD")

    @field_validator("since", mode="before")
    @classmethod
    def _date_is_midnight(cls, value: object) -> object:
        return date_as_midnight(value)


class BackfillScope(ScopeFields):
    """Detections captured at or after `since` (a naive time is UTC), at most `limit` of them (lowest ids
    first), decided with `threshold`."""

    model_config = ConfigDict(frozen=True)

    @field_validator("since")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    @property
    def whole_log(self) -> bool:
        """Every detection with an embedding: the only scope that may replace the log in one swap."""
        return self.since is None and self.limit is None

    def resolved_threshold(self) -> float:
        return round_threshold(get_settings().reid_threshold if self.threshold is None else self.threshold)

    def describe(self) -> str:
        parts = ["every detection with an embedding"]
        if self.since is not None:
            parts.append(f"captured since {self.since.isoformat()}")
        if self.limit is not None:
            parts.append(f"at most {self.limit}")
        return ", ".join(parts) + f"; threshold {self.resolved_threshold():.4f}"
