"""The one SQL translation of "which detections": valid ones, by capture time, camera, deer, class and
confidence. Reports and archives select with it, so a PDF and a ZIP of the same filters count the
same detections. Conditions are over `detections d JOIN images i`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

#: The class a person sees: a reviewer's correction replaces the detector's class.
EFFECTIVE_CLASSIFICATION = "COALESCE(d.corrected_classification, d.classification)"


def _day_start(day: date) -> datetime:
    """00:00 UTC of a day: request dates are UTC days."""
    return datetime.combine(day, time.min, tzinfo=UTC)


def detection_conditions(*, start_date: date | None = None, end_date: date | None = None,
                         location_ids: Sequence[int] | None = None, deer_ids: Sequence[int] | None = None,
                         classifications: Sequence[str] | None = None,
                         min_confidence: float | None = None) -> tuple[list[str], dict[str, Any]]:
    """(SQL conditions to AND together, their named parameters for pg8000.native); empty or None
    filters select everything. Images captured from `start_date` 00:00 UTC up to the end of `end_date`
    (both days included) are selected."""
    conditions = ["d.is_valid"]
    params: dict[str, Any] = {}
    if start_date is not None:
        conditions.append("i.captured_at >= :start_at")
        params["start_at"] = _day_start(start_date)
    if end_date is not None:
        conditions.append("i.captured_at < :end_before")
        params["end_before"] = _day_start(end_date + timedelta(days=1))
    if location_ids:
        conditions.append("i.location_id = ANY(CAST(:location_ids AS INTEGER[]))")
        params["location_ids"] = list(location_ids)
    if deer_ids:
        conditions.append("d.deer_id = ANY(CAST(:deer_ids AS INTEGER[]))")
        params["deer_ids"] = list(deer_ids)
    if classifications:
        conditions.append(f"{EFFECTIVE_CLASSIFICATION} = ANY(CAST(:classifications AS TEXT[]))")
        params["classifications"] = list(classifications)
    if min_confidence is not None:
        conditions.append("d.confidence >= CAST(:min_confidence AS REAL)")
        params["min_confidence"] = min_confidence
    return conditions, params
