"""The detections an archive or package holds, with their image, camera and deer: one row each, in
capture order. Which detections is deertrack.exports.selection's answer, shared with the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pg8000.native

from deertrack.detection_filters import EFFECTIVE_CLASSIFICATION
from deertrack.exports.selection import SELECTION_FROM, Selection


@dataclass(frozen=True)
class DetectionRow:
    detection_id: int
    image_id: int
    image_s3_key: str
    image_width: int | None
    image_height: int | None
    captured_at: datetime
    location_id: int
    location_code: str
    location_name: str
    latitude: float
    longitude: float
    classification: str  # effective: a person's correction wins
    detector_classification: str
    corrected: bool
    confidence: float
    bbox: tuple[int, int, int, int]
    deer_id: int | None
    deer_name: str | None
    is_valid: bool
    burst_group: str | None
    detected_at: datetime

    @property
    def crop_path(self) -> str:
        return f"crops/{self.deer_id if self.deer_id is not None else 'unassigned'}/{self.detection_id}.jpg"


_COLUMNS = (
    "d.id, i.id, i.s3_key, i.width, i.height, i.captured_at, l.id, l.code, l.name, l.latitude, l.longitude, "
    f"{EFFECTIVE_CLASSIFICATION}, d.classification, d.corrected_classification IS NOT NULL, d.confidence, "
    "d.bbox_x, d.bbox_y, d.bbox_width, d.bbox_height, d.deer_id, dr.name, d.is_valid, d.burst_group, d.created_at"
)


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _row(r: list[Any]) -> DetectionRow:
    return DetectionRow(
        detection_id=r[0], image_id=r[1], image_s3_key=r[2], image_width=r[3], image_height=r[4],
        captured_at=_utc(r[5]), location_id=r[6], location_code=r[7], location_name=r[8], latitude=r[9],
        longitude=r[10], classification=r[11], detector_classification=r[12], corrected=r[13],
        confidence=float(r[14]), bbox=(r[15], r[16], r[17], r[18]), deer_id=r[19], deer_name=r[20],
        is_valid=r[21], burst_group=r[22], detected_at=_utc(r[23]),
    )


def selected_rows(con: pg8000.native.Connection, selection: Selection) -> list[DetectionRow]:
    where, params = selection.where()
    rows = con.run(
        f"SELECT {_COLUMNS} FROM {SELECTION_FROM} JOIN locations l ON l.id = i.location_id "
        f"LEFT JOIN deer dr ON dr.id = d.deer_id WHERE {where} ORDER BY i.captured_at, d.id",
        **params,
    )
    return [_row(r) for r in rows]
