"""Read views of re-identification: a detection with its candidates, the deer list, one deer's
sightings, a detection's logged scores. Plain dicts ready for JSON."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import pg8000.native
from pydantic import BaseModel, ConfigDict, Field

from deertrack.classifications import Classification
from deertrack.db import rows_as_dicts

TOP_CANDIDATES = 5


class DeerQuery(BaseModel):
    """GET /api/deer query parameters."""

    model_config = ConfigDict(extra="forbid")
    sex: Classification | None = None
    status: Literal["active", "inactive", "deceased", "merged"] | None = None
    min_sightings: int = Field(0, ge=0)
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)


class DeerTimelineQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by: Literal["day", "week"] = "day"


class ScoresQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    detection_id: int = Field(ge=1)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _plain_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(v) for k, v in row.items()}


def candidates(con: pg8000.native.Connection, detection_id: int,
               limit: int | None = TOP_CANDIDATES) -> list[dict[str, Any]]:
    rows = rows_as_dicts(
        con,
        "SELECT s.deer_id, e.name AS deer_name, s.deer_sex, s.similarity_score AS score, s.matched, s.sex_match,"
        " s.threshold_used, s.detection_classification, s.calculated_at"
        " FROM reid_similarity_scores s JOIN deer e ON e.id = s.deer_id WHERE s.detection_id = :id"
        " ORDER BY s.similarity_score DESC, s.deer_id" + (" LIMIT :limit" if limit else ""),
        id=detection_id, **({"limit": limit} if limit else {}),
    )
    return [_plain_row(r) for r in rows]


def detection_view(con: pg8000.native.Connection, detection_id: int) -> dict[str, Any] | None:
    rows = rows_as_dicts(
        con,
        "SELECT d.id, d.image_id, i.s3_key, i.captured_at, i.width, i.height, l.id AS location_id,"
        " l.code AS location_code, l.name AS location_name, d.bbox_x, d.bbox_y, d.bbox_width, d.bbox_height,"
        " d.confidence, d.classification, d.corrected_classification, d.is_valid, d.deer_id, e.name AS deer_name,"
        " e.sex AS deer_sex, e.status AS deer_status, d.burst_group, d.reid_status, d.reid_note, d.reid_at,"
        " d.embedding_model, d.embedding IS NOT NULL AS has_embedding, t.individual_key, t.source AS truth_source,"
        " d.reviewed_by, d.reviewed_at"
        " FROM detections d JOIN images i ON i.id = d.image_id JOIN locations l ON l.id = i.location_id"
        " LEFT JOIN deer e ON e.id = d.deer_id LEFT JOIN detection_truth t ON t.detection_id = d.id"
        " WHERE d.id = :id", id=detection_id,
    )
    if not rows:
        return None
    r = _plain_row(rows[0])
    return {
        "id": r["id"],
        "image": {"id": r["image_id"], "s3_key": r["s3_key"], "captured_at": r["captured_at"],
                  "width": r["width"], "height": r["height"],
                  "location": {"id": r["location_id"], "code": r["location_code"], "name": r["location_name"]}},
        "bbox": {"x": r["bbox_x"], "y": r["bbox_y"], "width": r["bbox_width"], "height": r["bbox_height"]},
        "confidence": r["confidence"],
        "classification": r["classification"],
        "corrected_classification": r["corrected_classification"],
        "effective_classification": r["corrected_classification"] or r["classification"],
        "is_valid": r["is_valid"],
        "deer": None if r["deer_id"] is None else {"id": r["deer_id"], "name": r["deer_name"], "sex": r["deer_sex"],
                                                   "status": r["deer_status"]},
        "reid": {"status": r["reid_status"], "note": r["reid_note"], "at": r["reid_at"],
                 "burst_group": r["burst_group"], "embedding_model": r["embedding_model"],
                 "has_embedding": r["has_embedding"]},
        "truth": None if r["individual_key"] is None else {"individual_key": r["individual_key"],
                                                            "source": r["truth_source"]},
        "reviewed": None if r["reviewed_by"] is None else {"by": r["reviewed_by"], "at": r["reviewed_at"]},
        "candidates": candidates(con, detection_id),
    }


DEER_COLUMNS = (
    "id, name, sex, status, merged_into, first_seen, last_seen, sighting_count, profile_embedding_count,"
    " profile_embedding IS NOT NULL AS has_profile, cardinality(exemplar_detection_ids) AS exemplars,"
    " exemplar_detection_ids, notes, created_at, updated_at"
)


def deer_list(con: pg8000.native.Connection, query: DeerQuery) -> dict[str, Any]:
    where = ["sighting_count >= :min_sightings"]
    params: dict[str, Any] = {"min_sightings": query.min_sightings}
    if query.sex:
        where.append("sex = :sex")
        params["sex"] = query.sex
    if query.status:
        where.append("status = :status")
        params["status"] = query.status
    else:  # a merged deer is an alias of the deer it joined (ask for status=merged to see them)
        where.append("status <> 'merged'")
    clause = " WHERE " + " AND ".join(where)
    total = con.run(f"SELECT count(*) FROM deer{clause}", **params)[0][0]
    items = rows_as_dicts(con, f"SELECT {DEER_COLUMNS} FROM deer{clause} ORDER BY id LIMIT :limit OFFSET :offset",
                          limit=query.limit, offset=query.offset, **params)
    next_offset = query.offset + len(items)
    return {
        "total": total, "limit": query.limit, "offset": query.offset,
        "next_offset": next_offset if next_offset < total else None,
        "items": [_plain_row(i) for i in items],
    }


def deer_view(con: pg8000.native.Connection, deer_id: int, by: str = "day") -> dict[str, Any] | None:
    rows = rows_as_dicts(con, f"SELECT {DEER_COLUMNS} FROM deer WHERE id = :id", id=deer_id)
    if not rows:
        return None
    deer = _plain_row(rows[0])
    unit = "week" if by == "week" else "day"
    timeline = con.run(
        f"SELECT date_trunc('{unit}', i.captured_at AT TIME ZONE 'UTC')::date AS period, count(*) AS n,"
        " count(DISTINCT d.burst_group) AS bursts, array_agg(DISTINCT l.code ORDER BY l.code) AS codes"
        " FROM detections d JOIN images i ON i.id = d.image_id JOIN locations l ON l.id = i.location_id"
        " WHERE d.deer_id = :id AND d.is_valid GROUP BY period ORDER BY period", id=deer_id,
    )
    cameras = rows_as_dicts(
        con,
        "SELECT l.id AS location_id, l.code, l.name, count(*) AS detections, min(i.captured_at) AS first_seen,"
        " max(i.captured_at) AS last_seen FROM detections d JOIN images i ON i.id = d.image_id"
        " JOIN locations l ON l.id = i.location_id WHERE d.deer_id = :id AND d.is_valid"
        " GROUP BY l.id, l.code, l.name ORDER BY detections DESC, l.code", id=deer_id,
    )
    recent = rows_as_dicts(
        con,
        "SELECT d.id AS detection_id, i.captured_at, l.code AS location_code, d.reid_status, d.burst_group"
        " FROM detections d JOIN images i ON i.id = d.image_id JOIN locations l ON l.id = i.location_id"
        " WHERE d.deer_id = :id AND d.is_valid ORDER BY i.captured_at DESC, d.id DESC LIMIT 10", id=deer_id,
    )
    deer["timeline"] = {
        "by": unit,
        "entries": [{"period": p.isoformat(), "detections": n, "bursts": b, "locations": list(codes or [])}
                    for p, n, b, codes in timeline],
    }
    deer["cameras"] = [_plain_row(c) for c in cameras]
    deer["recent_detections"] = [_plain_row(r) for r in recent]
    from deertrack.reid.merges import merge_history

    deer["merges"] = merge_history(con, deer_id, limit=50)
    return deer


def scores_view(con: pg8000.native.Connection, detection_id: int) -> dict[str, Any] | None:
    if not con.run("SELECT 1 FROM detections WHERE id = :id", id=detection_id):
        return None
    scores = candidates(con, detection_id, limit=None)
    return {"detection_id": detection_id, "count": len(scores), "scores": scores}
