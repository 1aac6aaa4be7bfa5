"""GET /api/deer/{id}'s view reads a deer's sightings once and sums them up in Python; here it is held to
what the SQL aggregation it replaced answers, for every deer of a demo slice, by day and by week."""

from __future__ import annotations

from typing import Any

import pytest

from deertrack import db
from deertrack.db import rows_as_dicts
from deertrack.reid import catalog

pytestmark = pytest.mark.integration


def _plain(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in r.items()} for r in rows]


def _by_sql(con: Any, deer_id: int, unit: str) -> dict[str, Any]:
    """The parts as PostgreSQL aggregates them (the queries deer_view ran before)."""
    timeline = con.run(
        f"SELECT date_trunc('{unit}', i.captured_at AT TIME ZONE 'UTC')::date AS period, count(*) AS n,"
        " count(DISTINCT d.burst_group) AS bursts, array_agg(DISTINCT l.code ORDER BY l.code) AS codes"
        " FROM detections d JOIN images i ON i.id = d.image_id JOIN locations l ON l.id = i.location_id"
        " WHERE d.deer_id = :id AND d.is_valid GROUP BY period ORDER BY period", id=deer_id)
    cameras = rows_as_dicts(
        con,
        "SELECT l.id AS location_id, l.code, l.name, count(*) AS detections, min(i.captured_at) AS first_seen,"
        " max(i.captured_at) AS last_seen FROM detections d JOIN images i ON i.id = d.image_id"
        " JOIN locations l ON l.id = i.location_id WHERE d.deer_id = :id AND d.is_valid"
        " GROUP BY l.id, l.code, l.name ORDER BY detections DESC, l.code", id=deer_id)
    recent = rows_as_dicts(
        con,
        "SELECT d.id AS detection_id, i.captured_at, l.code AS location_code, d.reid_status, d.burst_group"
        " FROM detections d JOIN images i ON i.id = d.image_id JOIN locations l ON l.id = i.location_id"
        " WHERE d.deer_id = :id AND d.is_valid ORDER BY i.captured_at DESC, d.id DESC LIMIT 10", id=deer_id)
    crops = con.run(
        "SELECT id FROM (SELECT d.id, i.captured_at, row_number() OVER (ORDER BY i.captured_at, d.id) - 1 AS n,"
        " count(*) OVER () AS total FROM detections d JOIN images i ON i.id = d.image_id"
        " WHERE d.deer_id = :id AND d.is_valid) x"
        " WHERE n % greatest(1, CAST(ceil(total / CAST(:shown AS NUMERIC)) AS INTEGER)) = 0"
        " ORDER BY captured_at, id LIMIT :shown", id=deer_id, shown=catalog.DEER_PAGE_CROPS)
    return {
        "timeline": {"by": unit, "entries": [{"period": p.isoformat(), "detections": n, "bursts": b,
                                              "locations": list(codes or [])} for p, n, b, codes in timeline]},
        "crop_detection_ids": [r[0] for r in crops],
        "cameras": _plain(cameras),
        "recent_detections": _plain(recent),
    }


def test_every_deer_reads_as_the_sql_aggregation_reads_it(stack) -> None:
    from tests.review_helpers import seed_reviewable

    seed_reviewable(images=120)
    with db.connection() as con:
        # a detection without a burst (bursts count distinct groups, never a missing one)
        con.run("UPDATE detections SET burst_group = NULL WHERE id = (SELECT min(id) FROM detections"
                " WHERE deer_id IS NOT NULL)")
        # one deer with more sightings than a page shows crops of, and not a multiple of them (every n-th)
        con.run("UPDATE detections SET deer_id = (SELECT min(deer_id) FROM detections) WHERE id IN"
                " (SELECT id FROM detections WHERE deer_id IS NOT NULL AND is_valid ORDER BY id LIMIT 53)")
        deer_ids = [r[0] for r in con.run("SELECT id FROM deer ORDER BY id")]
        busiest = con.run("SELECT max(n) FROM (SELECT count(*) AS n FROM detections WHERE is_valid"
                          " GROUP BY deer_id) x")[0][0]
        assert busiest > 2 * catalog.DEER_PAGE_CROPS
        assert len(deer_ids) >= 3
        compared = 0
        for deer_id in deer_ids:
            for unit in ("day", "week"):
                view = catalog.deer_view(con, deer_id, unit)
                assert view is not None
                expected = _by_sql(con, deer_id, unit)
                assert {k: view[k] for k in expected} == expected, (deer_id, unit)
                assert list(view)[-5:] == ["timeline", "crop_detection_ids", "cameras", "recent_detections",
                                           "merges"]
                compared += bool(view["timeline"]["entries"])
        assert compared >= 3
        assert catalog.deer_view(con, max(deer_ids) + 1000) is None
