"""Reporting periods: the day / week (ISO, Monday first) / month buckets covering a date range."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

GroupBy = Literal["day", "week", "month"]


@dataclass(frozen=True)
class Period:
    start: date  # first day of the bucket (may lie before the range start for week/month)
    label: str


def bucket_start(day: date, group_by: GroupBy) -> date:
    if group_by == "day":
        return day
    if group_by == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def label_for(start: date, group_by: GroupBy) -> str:
    if group_by == "day":
        return start.isoformat()
    if group_by == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    return start.strftime("%b %Y")


def _next(start: date, group_by: GroupBy) -> date:
    if group_by == "day":
        return start + timedelta(days=1)
    if group_by == "week":
        return start + timedelta(days=7)
    return date(start.year + (start.month == 12), start.month % 12 + 1, 1)


def periods_between(start: date, end: date, group_by: GroupBy) -> list[Period]:
    """Every bucket touching [start, end], in order, including empty ones."""
    current = bucket_start(start, group_by)
    out: list[Period] = []
    while current <= end:
        out.append(Period(current, label_for(current, group_by)))
        current = _next(current, group_by)
    return out
