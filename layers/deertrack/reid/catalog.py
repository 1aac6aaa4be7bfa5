"""Read views of re-identification: a detection with its candidates, the deer list, one deer's
sightings, a detection's logged scores. Plain dicts ready for JSON."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import pg8000.native
from pydantic import BaseModel, ConfigDict, Field

from deertrack.classifications import Classification
from deertrack.db import rows_as_dicts
from deertrack.inputs import INT4_MAX, INT8_MAX

TOP_CANDIDATES = 5
#: Crops shown per candidate deer on the review page; crops over time on a deer's page.
CANDIDATE_CROPS = 3
DEER_PAGE_CROPS = 24


class DeerQuery(BaseModel):
    """GET /api/deer query parameters."""

    model_config = ConfigDict(extra="forbid")
    sex: Classification | None = None
    status: Literal["active", "inactive", "deceased", "merged"] | None = None
    min_sightings: int = Field(0, ge=0, le=INT4_MAX, description="only deer with at least this many valid detections")
    q: str | None = Field(None, min_length=1, max_length=100, description="a deer id, or part of its name")
    limit: int = Field(50, ge=1, le=500, description="page size")
    offset: int = Field(0, ge=0, le=INT4_MAX, description="rows to skip; the answer's next_offset gives the next page")


class DeerTimelineQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by: Literal["day", "week"] = Field("day", description="timeline buckets")


class ScoresQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    detection_id: int = Field(ge=1, le=INT8_MAX, description="the detection")


#: How a value of each type pg8000 returns becomes JSON (the others are already), looked up by exact type:
#: a read route converts a few hundred values per answer.
_TO_JSON: dict[type, Any] = {Decimal: float, datetime: datetime.isoformat}


def _plain(value: Any) -> Any:
    convert = _TO_JSON.get(type(value))
    return value if convert is None else convert(value)


def _plain_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(v) for k, v in row.items()}


def candidates(con: pg8000.native.Connection, detection_id: int,
               limit: int | None = TOP_CANDIDATES, details: bool = False) -> list[dict[str, Any]]:
    """The detection's logged scores, best first. With `details` (the top few only) each deer also gets its
    sighting count, where and when it was last seen and up to CANDIDATE_CROPS detections to show it by; those
    are read for the `limit` best rows only (through the score log's (detection, score) index)."""
    extra = (
        ", e.status AS deer_status, e.sighting_count, e.last_seen, last.location_code AS last_location_code,"
        " e.exemplar_detection_ids, recent.ids AS recent_detection_ids"
        if details else ""
    )
    joins = (
        " LEFT JOIN LATERAL (SELECT l.code AS location_code FROM images xi JOIN detections x ON x.image_id = xi.id"
        "  JOIN locations l ON l.id = xi.location_id WHERE xi.captured_at = e.last_seen AND x.deer_id = s.deer_id"
        "  AND x.is_valid LIMIT 1) last ON TRUE"
        " LEFT JOIN LATERAL (SELECT array_agg(y.id) AS ids FROM (SELECT x.id FROM detections x"
        f"  WHERE x.deer_id = s.deer_id AND x.is_valid ORDER BY x.id DESC LIMIT {CANDIDATE_CROPS}) y) recent ON TRUE"
        if details else ""
    )
    page = " LIMIT :limit" if limit else ""
    rows = rows_as_dicts(
        con,
        "SELECT s.deer_id, e.name AS deer_name, s.deer_sex, s.similarity_score AS score, s.matched, s.sex_match,"
        f" s.threshold_used, s.detection_classification, s.calculated_at{extra}"
        " FROM (SELECT * FROM reid_similarity_scores WHERE detection_id = :id"
        f" ORDER BY similarity_score DESC, deer_id{page}) s JOIN deer e ON e.id = s.deer_id{joins}"
        " ORDER BY s.similarity_score DESC, s.deer_id",
        id=detection_id, **({"limit": limit} if limit else {}),
    )
    out = [_plain_row(r) for r in rows]
    for row in out:
        if details:
            shown = row.pop("exemplar_detection_ids") or row["recent_detection_ids"] or []
            del row["recent_detection_ids"]
            row["crop_detection_ids"] = [i for i in shown if i != detection_id][:CANDIDATE_CROPS]
    return out


def detection_view(con: pg8000.native.Connection, detection_id: int) -> dict[str, Any] | None:
    rows = rows_as_dicts(
        con,
        "SELECT d.id, d.image_id, i.s3_key, i.captured_at, i.width, i.height, l.id AS location_id,"
        " l.code AS location_code, l.name AS location_name, d.bbox_x, d.bbox_y, d.bbox_width, d.bbox_height,"
        " d.confidence, d.classification, d.corrected_classification, d.is_valid, d.deer_id, e.name AS deer_name,"
        " e.sex AS deer_sex, e.status AS deer_status, e.sighting_count AS deer_sightings, d.burst_group,"
        " d.reid_status, d.reid_note, d.reid_at,"
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
                                                   "status": r["deer_status"],
                                                   "sighting_count": r["deer_sightings"]},
        "reid": {"status": r["reid_status"], "note": r["reid_note"], "at": r["reid_at"],
                 "burst_group": r["burst_group"], "embedding_model": r["embedding_model"],
                 "has_embedding": r["has_embedding"]},
        "truth": None if r["individual_key"] is None else {"individual_key": r["individual_key"],
                                                            "source": r["truth_source"]},
        "reviewed": None if r["reviewed_by"] is None else {"by": r["reviewed_by"], "at": r["reviewed_at"]},
        "candidates": candidates(con, detection_id, details=True),
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
    if query.q:
        where.append("(name ILIKE :pattern OR CAST(id AS TEXT) = :q)")
        params |= {"q": query.q.strip(), "pattern": "%" + query.q.strip().replace("\\", "\\\\")
                   .replace("%", "\\%").replace("_", "\\_") + "%"}
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


#: A deer's valid detections, oldest first, with where each was seen; `code_rank` orders the location codes as
#: PostgreSQL orders them (its collation), so that a page lists them as the database sorts them.
SIGHTINGS_SQL = (
    "SELECT d.id, i.captured_at, l.id AS location_id, l.code, l.name, d.reid_status, d.burst_group,"
    " dense_rank() OVER (ORDER BY l.code) AS code_rank"
    " FROM detections d JOIN images i ON i.id = d.image_id JOIN locations l ON l.id = i.location_id"
    " WHERE d.deer_id = :id AND d.is_valid ORDER BY i.captured_at, d.id"
)
#: Detections listed as a deer's most recent.
RECENT_DETECTIONS = 10


@dataclass(frozen=True)
class Sighting:
    id: int
    captured_at: datetime
    location_id: int
    code: str
    name: str
    reid_status: str
    burst_group: str | None
    code_rank: int


def _period(captured_at: datetime, unit: str) -> date:
    """The UTC day, or the Monday of its ISO week (PostgreSQL's date_trunc)."""
    day = captured_at.astimezone(UTC).date()
    return day - timedelta(days=day.weekday()) if unit == "week" else day


def _timeline(sightings: list[Sighting], unit: str) -> list[dict[str, Any]]:
    periods: dict[date, list[Sighting]] = defaultdict(list)
    for seen in sightings:
        periods[_period(seen.captured_at, unit)].append(seen)
    return [{"period": period.isoformat(), "detections": len(seen),
             "bursts": len({s.burst_group for s in seen if s.burst_group is not None}),
             "locations": [code for _, code in sorted({(s.code_rank, s.code) for s in seen})]}
            for period, seen in sorted(periods.items())]


def _cameras(sightings: list[Sighting]) -> list[dict[str, Any]]:
    at: dict[int, list[Sighting]] = defaultdict(list)
    for seen in sightings:
        at[seen.location_id].append(seen)
    cameras = sorted(at.values(), key=lambda seen: (-len(seen), seen[0].code_rank))
    return [{"location_id": seen[0].location_id, "code": seen[0].code, "name": seen[0].name,
             "detections": len(seen), "first_seen": seen[0].captured_at.isoformat(),
             "last_seen": max(s.captured_at for s in seen).isoformat()} for seen in cameras]


def _spread(sightings: list[Sighting], shown: int) -> list[int]:
    """Up to `shown` detection ids spread evenly over the sightings (every ceil(n / shown)-th, from the first)."""
    step = max(1, -(-len(sightings) // shown))
    return [seen.id for seen in sightings[::step]][:shown]


def deer_view(con: pg8000.native.Connection, deer_id: int, by: str = "day") -> dict[str, Any] | None:
    """The deer, its timeline, cameras, recent detections, crops over time and merges. Its sightings are read
    once (a few hundred rows at most for the busiest demo deer) and summed up here."""
    rows = rows_as_dicts(con, f"SELECT {DEER_COLUMNS} FROM deer WHERE id = :id", id=deer_id)
    if not rows:
        return None
    deer = _plain_row(rows[0])
    unit = "week" if by == "week" else "day"
    sightings = [Sighting(*row) for row in con.run(SIGHTINGS_SQL, id=deer_id)]
    deer["timeline"] = {"by": unit, "entries": _timeline(sightings, unit)}
    deer["crop_detection_ids"] = _spread(sightings, DEER_PAGE_CROPS)
    deer["cameras"] = _cameras(sightings)
    deer["recent_detections"] = [
        {"detection_id": seen.id, "captured_at": seen.captured_at.isoformat(), "location_code": seen.code,
         "reid_status": seen.reid_status, "burst_group": seen.burst_group}
        for seen in reversed(sightings[-RECENT_DETECTIONS:])]
    from deertrack.reid.merges import merge_history

    deer["merges"] = merge_history(con, deer_id, limit=50)
    return deer


def scores_view(con: pg8000.native.Connection, detection_id: int) -> dict[str, Any] | None:
    if not con.run("SELECT 1 FROM detections WHERE id = :id", id=detection_id):
        return None
    scores = candidates(con, detection_id, limit=None)
    return {"detection_id": detection_id, "count": len(scores), "scores": scores}
