"""Report data from PostgreSQL: every figure checked against a plain SQL query over the same rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from deertrack import db
from deertrack.reports.comparison import PeriodSpec, comparison
from deertrack.reports.deer_profile import DeerNotFound, deer_profile
from deertrack.reports.scope import ReportScope
from deertrack.reports.seasonal import seasonal_activity
from tests.export_data import build

pytestmark = pytest.mark.integration

START, END = date(2023, 9, 1), date(2023, 12, 31)


@pytest.fixture
def con(stack):
    with db.connection() as connection:
        build(connection, detections=400, days=150)
        yield connection


def sql(con, where: str = "TRUE", **params) -> list[tuple]:
    return con.run(
        "SELECT COALESCE(d.corrected_classification, d.classification) AS cls, d.deer_id, i.location_id, "
        "i.captured_at AT TIME ZONE 'UTC' AS ts, l.longitude FROM detections d JOIN images i ON i.id = d.image_id "
        "JOIN locations l ON l.id = i.location_id "
        "WHERE d.is_valid AND i.captured_at >= :s AND i.captured_at < :e AND " + where,
        s=datetime(2023, 9, 1, tzinfo=UTC), e=datetime(2024, 1, 1, tzinfo=UTC), **params)


def test_seasonal_figures_match_sql(con) -> None:
    data = seasonal_activity(con, ReportScope(START, END), "month")
    rows = sql(con)
    assert data.totals.total == len(rows)
    for cls in ("buck", "doe", "fawn", "unknown"):
        assert data.totals[cls] == sum(1 for r in rows if r[0] == cls)
    # Corrections count as the corrected class; invalid detections not at all.
    assert con.run("SELECT count(*) FROM detections WHERE corrected_classification IS NOT NULL")[0][0] > 0
    assert con.run("SELECT count(*) FROM detections WHERE NOT is_valid")[0][0] > 0
    for period in data.periods:
        in_month = [r for r in rows if (r[3].year, r[3].month) == (period.period.start.year, period.period.start.month)]
        assert period.total == len(in_month)
        assert period.unique_individuals == len({r[1] for r in in_month if r[1] is not None})
    assert [p.period.label for p in data.periods] == ["Sep 2023", "Oct 2023", "Nov 2023", "Dec 2023"]
    assert sum(data.hours) == len(rows)
    # Hours of day are solar time at the camera: UTC + longitude / 15 h.
    solar = [(r[3] + timedelta(seconds=r[4] * 240)).hour for r in rows]
    assert data.hours == [solar.count(h) for h in range(24)]
    assert data.unique_individuals == len({r[1] for r in rows if r[1] is not None})
    assert sum(c.counts.total for c in data.cameras) == len(rows)
    top = data.individuals[0]
    assert top.sightings == max(sum(1 for r in rows if r[1] == d) for d in {r[1] for r in rows if r[1]})


def test_filters_narrow_every_figure(con) -> None:
    location = con.run("SELECT id FROM locations ORDER BY id LIMIT 1")[0][0]
    data = seasonal_activity(con, ReportScope(START, END, (location,), ("buck", "fawn")), "week")
    rows = sql(con, "i.location_id = :l AND COALESCE(d.corrected_classification, d.classification) IN ('buck', 'fawn')",
               l=location)
    assert data.totals.total == len(rows) > 0
    assert data.totals["doe"] == 0
    assert [c.location_id for c in data.cameras] == [location]


def test_a_silent_camera_is_listed_with_zero(con) -> None:
    con.run("INSERT INTO locations (code, name, latitude, longitude) VALUES ('CAM-X', 'Broken', 44.0, -73.0)")
    data = seasonal_activity(con, ReportScope(START, END), "month")
    silent = [c for c in data.cameras if c.code == "CAM-X"]
    assert silent and silent[0].counts.total == 0
    assert any("No detections at Broken (CAM-X)" in line for line in data.insights)


def test_comparison_periods_and_highlights(con) -> None:
    specs = [PeriodSpec("Sep", date(2023, 9, 1), date(2023, 9, 30)),
             PeriodSpec("Nov", date(2023, 11, 1), date(2023, 11, 30)),
             PeriodSpec("Dec", date(2023, 12, 1), date(2023, 12, 31))]
    data = comparison(con, ReportScope(START, END), specs)
    rows = sql(con)
    for figures in data.periods:
        spec = figures.spec
        n = sum(1 for r in rows if spec.start_date <= r[3].date() <= spec.end_date)
        assert figures.total == n
    assert len(data.changes) == 2 * len(data.periods[0].metrics())
    assert 1 <= len(data.highlights) <= 3
    assert all(c.baseline_label == "Sep" for c in data.changes)


def test_deer_profile(con) -> None:
    deer_id = con.run("SELECT id FROM deer ORDER BY id LIMIT 1")[0][0]
    profile = deer_profile(con, ReportScope(START, END, deer_id=deer_id), "week")
    rows = [r for r in sql(con) if r[1] == deer_id]
    assert profile.sightings == len(rows) > 0
    assert sum(n for _, n in profile.periods) == len(rows)
    assert sum(c.sightings for c in profile.cameras) == len(rows)
    assert profile.first_in_range == min(r[3] for r in rows)
    assert profile.best_photo is not None
    best = con.run("SELECT max(d.confidence) FROM detections d JOIN images i ON i.id = d.image_id "
                   "WHERE d.deer_id = :d AND d.is_valid AND i.captured_at < '2024-01-01'", d=deer_id)[0][0]
    assert abs(profile.best_photo.confidence - best) < 1e-6
    with pytest.raises(DeerNotFound, match="deer 999 does not exist"):
        deer_profile(con, ReportScope(START, END, deer_id=999), "week")
