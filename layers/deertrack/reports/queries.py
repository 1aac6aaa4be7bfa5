"""Figures more than one report reads from the selected detections (`detections_cte`'s `sel`)."""

from __future__ import annotations

from typing import Any

import pg8000.native

from deertrack.reports.figures import ClassCounts


def class_counts(con: pg8000.native.Connection, cte: str, params: dict[str, Any]) -> ClassCounts:
    """Detections by effective classification."""
    counts = ClassCounts()
    for cls, n in con.run(cte + "SELECT cls, count(*) FROM sel GROUP BY 1", **params):
        counts.add(cls, n)
    return counts


def hour_histogram(con: pg8000.native.Connection, cte: str, params: dict[str, Any]) -> list[int]:
    """Detections per solar hour of day, 0 to 23."""
    hours = [0] * 24
    for hour, n in con.run(cte + "SELECT solar_hour, count(*) FROM sel GROUP BY 1", **params):
        hours[hour] = n
    return hours
