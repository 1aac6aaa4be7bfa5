"""The one SQL translation of "which detections": valid ones, by capture time, camera, deer, class and
confidence. Reports and archives select with it, so a PDF and a ZIP of the same filters count the
same detections. Conditions are over `detections d JOIN images i`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

#: The class a person sees: a reviewer's correction replaces the detector's class.
EFFECTIVE_CLASSIFICATION = "COALESCE(d.corrected_classification, d.classification)"


def detection_conditions(*, start_at: datetime | None = None, end_before: datetime | None = None,
                         location_ids: Sequence[int] | None = None, deer_ids: Sequence[int] | None = None,
                         classifications: Sequence[str] | None = None,
                         min_confidence: float | None = None) -> tuple[list[str], dict[str, Any]]:
    """(SQL conditions to AND together, their named parameters for pg8000.native); empty or None
    filters select everything."""
    conditions = ["d.is_valid"]
    params: dict[str, Any] = {}
    if start_at is not None:
        conditions.append("i.captured_at >= :start_at")
        params["start_at"] = start_at
    if end_before is not None:
        conditions.append("i.captured_at < :end_before")
        params["end_before"] = end_before
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
