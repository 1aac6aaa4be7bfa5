"""Which detections a ZIP / Camtrap DP export holds: the one translation of a request into SQL.

The API counts with it (`total_detections`, "no matching detections" → 400) and the export worker
reads with it, so both always agree. Semantics:

- `detection_ids`: exactly those detections (whatever their `is_valid`), nothing else.
- `filters`: valid detections (`is_valid`) whose image was captured from `start_date` 00:00 UTC up to
  the end of `end_date` (both days included), and, when given, at one of `location_ids`, assigned
  to one of `deer_ids`, with an effective classification (a person's correction wins) in
  `classifications`, and a confidence of at least `min_confidence`.

Use it on the stored request (`job.request` / `ExportJobMessage.request`, JSON) or on a model:

    selection = Selection.from_request(message.request)
    where, params = selection.where()
    con.run(f"SELECT d.id, i.s3_key FROM {SELECTION_FROM} WHERE {where} ORDER BY i.captured_at, d.id", **params)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import pg8000.native
from pydantic import BaseModel

from deertrack.detection_filters import detection_conditions

#: The tables a selection's WHERE clause refers to: detections `d`, their images `i`.
SELECTION_FROM = "detections d JOIN images i ON i.id = d.image_id"


def _as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _ids(value: Any) -> tuple[int, ...] | None:
    return None if value is None else tuple(int(v) for v in value)


@dataclass(frozen=True)
class Selection:
    detection_ids: tuple[int, ...] | None = None
    start_date: date | None = None
    end_date: date | None = None
    location_ids: tuple[int, ...] | None = None
    deer_ids: tuple[int, ...] | None = None
    classifications: tuple[str, ...] | None = None
    min_confidence: float | None = None

    @classmethod
    def from_request(cls, request: Mapping[str, Any] | BaseModel) -> Selection:
        """From a ZIP / Camtrap DP request ({detection_ids} or {filters: {...}}) or a flat filter dict."""
        data = request.model_dump() if isinstance(request, BaseModel) else dict(request)
        if data.get("detection_ids") is not None:
            return cls(detection_ids=_ids(data["detection_ids"]))
        filters = data.get("filters")
        if filters is None:
            filters = data
        classifications = filters.get("classifications")
        min_confidence = filters.get("min_confidence")
        return cls(
            start_date=_as_date(filters.get("start_date")),
            end_date=_as_date(filters.get("end_date")),
            location_ids=_ids(filters.get("location_ids")),
            deer_ids=_ids(filters.get("deer_ids")),
            classifications=None if classifications is None else tuple(classifications),
            min_confidence=None if min_confidence is None else float(min_confidence),
        )

    def where(self) -> tuple[str, dict[str, Any]]:
        """(SQL condition over SELECTION_FROM, its named parameters for pg8000.native)."""
        if self.detection_ids is not None:
            return "d.id = ANY(CAST(:detection_ids AS BIGINT[]))", {"detection_ids": list(self.detection_ids)}
        conditions, params = detection_conditions(
            start_date=self.start_date, end_date=self.end_date, location_ids=self.location_ids,
            deer_ids=self.deer_ids, classifications=self.classifications, min_confidence=self.min_confidence)
        return " AND ".join(conditions), params


def count_detections(con: pg8000.native.Connection, selection: Selection) -> int:
    where, params = selection.where()
    return int(con.run(f"SELECT count(*) FROM {SELECTION_FROM} WHERE {where}", **params)[0][0])


def detection_ids(con: pg8000.native.Connection, selection: Selection) -> list[int]:
    """The selected detection ids in capture order (then id)."""
    where, params = selection.where()
    rows = con.run(f"SELECT d.id FROM {SELECTION_FROM} WHERE {where} ORDER BY i.captured_at, d.id", **params)
    return [int(r[0]) for r in rows]
