"""What a report counts: a UTC date range (both ends included), optional cameras and classifications.

`detections_cte` is the one definition of "the detections a report counts": valid detections, with
their effective classification, captured inside the range, at the chosen cameras.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from deertrack.detection_filters import EFFECTIVE_CLASSIFICATION, detection_conditions

#: Hour of day in solar time at the camera (UTC shifted by longitude / 15 h): what dawn and dusk
#: follow, wherever the cameras are. Dates stay UTC days, as in every request.
SOLAR_HOUR = "extract(hour FROM (i.captured_at AT TIME ZONE 'UTC') + make_interval(secs => l.longitude * 240))::int"


@dataclass(frozen=True)
class ReportScope:
    start_date: date
    end_date: date
    location_ids: tuple[int, ...] = field(default_factory=tuple)
    classifications: tuple[str, ...] = field(default_factory=tuple)
    deer_id: int | None = None

    @property
    def days(self) -> int:
        return (self.end_date - self.start_date).days + 1

    def with_range(self, start: date, end: date) -> ReportScope:
        return ReportScope(start, end, self.location_ids, self.classifications, self.deer_id)

    def describe(self) -> str:
        parts = [f"{self.start_date.isoformat()} to {self.end_date.isoformat()}"]
        if self.location_ids:
            parts.append(f"cameras {', '.join(str(i) for i in self.location_ids)}")
        if self.classifications:
            parts.append(", ".join(self.classifications))
        return " · ".join(parts)


def detections_cte(scope: ReportScope) -> tuple[str, dict[str, Any]]:
    """`WITH sel AS (...)`: id, deer_id, image_id, confidence, cls, ts (UTC, no zone), solar_hour, location_id."""
    where, params = detection_conditions(start_date=scope.start_date, end_date=scope.end_date,
                                         location_ids=scope.location_ids, classifications=scope.classifications,
                                         deer_ids=None if scope.deer_id is None else [scope.deer_id])
    sql = (
        "WITH sel AS (SELECT d.id, d.deer_id, d.image_id, d.confidence, "
        f"{EFFECTIVE_CLASSIFICATION} AS cls, i.captured_at AT TIME ZONE 'UTC' AS ts, {SOLAR_HOUR} AS solar_hour, "
        "i.location_id FROM detections d JOIN images i ON i.id = d.image_id JOIN locations l ON l.id = i.location_id "
        f"WHERE {' AND '.join(where)}) "
    )
    return sql, params
