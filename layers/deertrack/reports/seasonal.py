"""Data of the seasonal activity report: per-period counts by classification, unique individuals,
buck:doe ratio, hour of day, per-camera table, most-seen individuals and the insights."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pg8000.native

from deertrack.db import rows_as_dicts
from deertrack.reports.figures import ClassCounts
from deertrack.reports.insights import seasonal_insights
from deertrack.reports.periods import GroupBy, Period, bucket_start, periods_between
from deertrack.reports.queries import hour_histogram
from deertrack.reports.scope import ReportScope, detections_cte

TOP_INDIVIDUALS = 10


@dataclass
class PeriodRow:
    period: Period
    counts: ClassCounts
    unique_individuals: int
    days: int  # days of this bucket inside the range

    @property
    def total(self) -> int:
        return self.counts.total


@dataclass
class CameraRow:
    location_id: int
    code: str
    name: str
    counts: ClassCounts
    unique_individuals: int
    first: datetime | None
    last: datetime | None


@dataclass
class IndividualRow:
    deer_id: int
    name: str
    sex: str
    sightings: int
    cameras: int
    first: datetime
    last: datetime


@dataclass
class SeasonalActivity:
    scope: ReportScope
    group_by: GroupBy
    totals: ClassCounts
    unique_individuals: int
    assigned_detections: int
    periods: list[PeriodRow]
    daily: dict[date, ClassCounts]
    hours: list[int]
    cameras: list[CameraRow]
    individuals: list[IndividualRow]
    insights: list[str] = field(default_factory=list)


def seasonal_activity(con: pg8000.native.Connection, scope: ReportScope, group_by: GroupBy) -> SeasonalActivity:
    cte, params = detections_cte(scope)
    daily: dict[date, ClassCounts] = {}
    for day, cls, n in con.run(cte + "SELECT ts::date, cls, count(*) FROM sel GROUP BY 1, 2", **params):
        daily.setdefault(day, ClassCounts()).add(cls, n)

    unit = {"day": "day", "week": "week", "month": "month"}[group_by]
    uniques = {
        row[0].date(): row[1]
        for row in con.run(
            cte + f"SELECT date_trunc('{unit}', ts), count(DISTINCT deer_id) FROM sel GROUP BY 1", **params
        )
    }
    hours = hour_histogram(con, cte, params)
    overall = con.run(cte + "SELECT count(DISTINCT deer_id), count(deer_id) FROM sel", **params)[0]

    periods: list[PeriodRow] = []
    for period in periods_between(scope.start_date, scope.end_date, group_by):
        periods.append(PeriodRow(period, ClassCounts(), uniques.get(period.start, 0), 0))
    by_start = {p.period.start: p for p in periods}
    day = scope.start_date
    while day <= scope.end_date:
        row = by_start[bucket_start(day, group_by)]
        row.days += 1
        for cls, n in daily.get(day, ClassCounts()).counts.items():
            row.counts.add(cls, n)
        day = date.fromordinal(day.toordinal() + 1)

    totals = ClassCounts()
    for counts in daily.values():
        for cls, n in counts.counts.items():
            totals.add(cls, n)

    data = SeasonalActivity(
        scope=scope,
        group_by=group_by,
        totals=totals,
        unique_individuals=overall[0],
        assigned_detections=overall[1],
        periods=periods,
        daily=daily,
        hours=hours,
        cameras=_cameras(con, scope, cte, params),
        individuals=_individuals(con, cte, params),
    )
    data.insights = seasonal_insights(data)
    return data


def _cameras(con: pg8000.native.Connection, scope: ReportScope, cte: str, params: dict[str, Any]) -> list[CameraRow]:
    """Every camera in scope, the ones with no detections included (a silent camera is news)."""
    where = "WHERE l.id = ANY(CAST(:location_ids AS INTEGER[]))" if scope.location_ids else ""
    rows = rows_as_dicts(
        con,
        cte + "SELECT l.id, l.code, l.name, count(sel.id) AS n, count(DISTINCT sel.deer_id) AS uniq, "
        "count(*) FILTER (WHERE sel.cls = 'buck') AS buck, count(*) FILTER (WHERE sel.cls = 'doe') AS doe, "
        "count(*) FILTER (WHERE sel.cls = 'fawn') AS fawn, count(*) FILTER (WHERE sel.cls = 'unknown') AS unknown, "
        "min(sel.ts) AS first, max(sel.ts) AS last "
        f"FROM locations l LEFT JOIN sel ON sel.location_id = l.id {where} "
        "GROUP BY l.id, l.code, l.name ORDER BY n DESC, l.code",
        **params,
    )
    out = []
    for r in rows:
        counts = ClassCounts()
        for cls in ("buck", "doe", "fawn", "unknown"):
            counts.add(cls, r[cls])
        out.append(CameraRow(r["id"], r["code"], r["name"], counts, r["uniq"], r["first"], r["last"]))
    return out


def _individuals(con: pg8000.native.Connection, cte: str, params: dict[str, Any]) -> list[IndividualRow]:
    rows = con.run(
        cte + "SELECT dr.id, dr.name, dr.sex, count(*), count(DISTINCT sel.location_id), min(sel.ts), max(sel.ts) "
        "FROM sel JOIN deer dr ON dr.id = sel.deer_id GROUP BY dr.id, dr.name, dr.sex "
        f"ORDER BY count(*) DESC, dr.name LIMIT {TOP_INDIVIDUALS}",
        **params,
    )
    return [IndividualRow(*r) for r in rows]
