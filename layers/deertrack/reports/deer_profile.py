"""Data of the deer profile report: one individual's sightings over time, cameras, first/last seen
and the detection that makes the best photo."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pg8000.native

from deertrack.db import rows_as_dicts
from deertrack.reports.figures import ClassCounts
from deertrack.reports.periods import GroupBy, Period, periods_between
from deertrack.reports.queries import class_counts, hour_histogram
from deertrack.reports.scope import ReportScope, detections_cte


class DeerNotFound(LookupError):
    pass


@dataclass
class DeerCamera:
    code: str
    name: str
    sightings: int
    first: datetime
    last: datetime


@dataclass
class BestPhoto:
    detection_id: int
    image_s3_key: str
    bbox: tuple[int, int, int, int]
    confidence: float
    captured_at: datetime
    camera: str


@dataclass
class DeerProfile:
    scope: ReportScope
    group_by: GroupBy
    deer: dict
    sightings: int
    counts: ClassCounts
    periods: list[tuple[Period, int]]
    cameras: list[DeerCamera]
    hours: list[int]
    first_in_range: datetime | None
    last_in_range: datetime | None
    first_ever: datetime | None
    last_ever: datetime | None
    total_ever: int
    best_photo: BestPhoto | None
    notes: list[str] = field(default_factory=list)


def deer_profile(con: pg8000.native.Connection, scope: ReportScope, group_by: GroupBy) -> DeerProfile:
    if scope.deer_id is None:
        raise ValueError("a deer profile needs deer_id")
    rows = rows_as_dicts(con, "SELECT id, name, sex, status, notes, created_at FROM deer WHERE id = :id",
                         id=scope.deer_id)
    if not rows:
        raise DeerNotFound(f"deer {scope.deer_id} does not exist (deleted or merged since the request was made)")
    deer = rows[0]
    cte, params = detections_cte(scope)
    counts = class_counts(con, cte, params)
    unit = group_by
    per_period = {
        r[0].date(): r[1]
        for r in con.run(cte + f"SELECT date_trunc('{unit}', ts), count(*) FROM sel GROUP BY 1", **params)
    }
    periods = [(p, per_period.get(p.start, 0)) for p in periods_between(scope.start_date, scope.end_date, group_by)]
    cameras = [
        DeerCamera(*r)
        for r in con.run(
            cte + "SELECT l.code, l.name, count(*), min(sel.ts), max(sel.ts) FROM sel "
            "JOIN locations l ON l.id = sel.location_id GROUP BY l.code, l.name ORDER BY count(*) DESC, l.code",
            **params,
        )
    ]
    hours = hour_histogram(con, cte, params)
    first_in, last_in = con.run(cte + "SELECT min(ts), max(ts) FROM sel", **params)[0]
    first_ever, last_ever, total_ever = con.run(
        "SELECT min(i.captured_at AT TIME ZONE 'UTC'), max(i.captured_at AT TIME ZONE 'UTC'), count(*) "
        "FROM detections d JOIN images i ON i.id = d.image_id WHERE d.deer_id = :id AND d.is_valid",
        id=scope.deer_id,
    )[0]
    return DeerProfile(
        scope=scope, group_by=group_by, deer=deer, sightings=counts.total, counts=counts, periods=periods,
        cameras=cameras, hours=hours, first_in_range=first_in, last_in_range=last_in, first_ever=first_ever,
        last_ever=last_ever, total_ever=total_ever, best_photo=_best_photo(con, cte, params),
    )


def _best_photo(con: pg8000.native.Connection, cte: str, params: dict) -> BestPhoto | None:
    """The most confident detection, the larger box winning a tie: the clearest view of the deer."""
    rows = con.run(
        cte + "SELECT d.id, i.s3_key, d.bbox_x, d.bbox_y, d.bbox_width, d.bbox_height, d.confidence, "
        "sel.ts, l.code FROM sel JOIN detections d ON d.id = sel.id JOIN images i ON i.id = d.image_id "
        "JOIN locations l ON l.id = i.location_id "
        "ORDER BY d.confidence DESC, d.bbox_width * d.bbox_height DESC, d.id LIMIT 1",
        **params,
    )
    if not rows:
        return None
    r = rows[0]
    return BestPhoto(r[0], r[1], (r[2], r[3], r[4], r[5]), float(r[6]), r[7], r[8])
