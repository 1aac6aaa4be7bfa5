"""The review queue: what a person's minute is best spent on, first, one page at a time.

In this order (each kind in its own order):

1. `close_call`: an assigned detection whose two best candidate deer score within CLOSE_MARGIN of each
   other (smallest margin first);
2. `needs_review`: a detection that matched no deer and whose crop was too poor to found one
   (deertrack/reid/crop_quality.py), so it has no deer until a person says which (best score first);
3. `new_deer`: a detection that made a new deer which still has at most FEW_SIGHTINGS sightings (fewest
   first);
4. `merge_candidate`: a pair of deer the merge job suggests are one animal (best score first), while both
   are still seen (not merged, at least one sighting);
5. `corrected_class`: a detection whose class a person corrected, whose deer is not yet confirmed;
6. `unreviewed`: every other detection not yet decided, least sure (lowest best score) first.

A detection is decided once a review answer that settles it (deertrack.reid.review.DECIDING) stands;
invalid detections are not queued. Filters: camera (location code), date range (capture day, UTC) and
sex (the detection's class; a pair's sex). Each detection is read through the score log's index by
(detection, score), so the queue does not sort a detection's scores against every deer.

Ranking every open detection takes tens of milliseconds on the demo data, and the page asks for the same
answer again and again between review answers; each process keeps its recent answers for as long as the
database's snapshot is unchanged (deertrack/snapshot_cache.py), so a repeated request costs one tiny query,
and any write anywhere makes the next one compute afresh.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any, Final, Literal

import pg8000.native
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from deertrack.classifications import Classification
from deertrack.exports.schemas import IsoDate
from deertrack.inputs import INT4_MAX
from deertrack.snapshot_cache import SNAPSHOT_SQL, SnapshotCache

CLOSE_MARGIN: Final = 0.05
FEW_SIGHTINGS: Final = 3
Kind = Literal["close_call", "needs_review", "new_deer", "merge_candidate", "corrected_class", "unreviewed"]
KINDS: Final[tuple[str, ...]] = ("close_call", "needs_review", "new_deer", "merge_candidate", "corrected_class",
                                 "unreviewed")


#: What GET /api/review/queue checks that its schema cannot say.
QUEUE_BEYOND_SCHEMA: Final = {"date_order": "start_date is not after end_date"}


class QueueQuery(BaseModel):
    """GET /api/review/queue query parameters."""

    model_config = ConfigDict(extra="forbid")
    kind: Kind | None = None
    camera: str | None = Field(None, min_length=1, max_length=64, description="a location code")
    start_date: IsoDate | None = Field(None, description="first capture day, YYYY-MM-DD (UTC)")
    end_date: IsoDate | None = Field(None, description="last capture day, YYYY-MM-DD (UTC), inclusive")
    sex: Classification | None = Field(None, description="a detection's class, a pair's sex")
    limit: int = Field(50, ge=1, le=200, description="page size")
    offset: int = Field(0, ge=0, le=INT4_MAX, description="items to skip; the answer's next_offset gives the next page")

    @field_validator("end_date")
    @classmethod
    def _after_start(cls, value: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("start_date")
        if value and start and start > value:
            raise PydanticCustomError("date_order", "start_date must be before end_date")
        return value


def _detection_filters(query: QueueQuery) -> tuple[str, dict[str, Any]]:
    where, params = [], {}
    if query.camera:
        where.append("l.code = :camera")
        params["camera"] = query.camera
    if query.start_date:
        where.append("i.captured_at >= CAST(:start AS DATE)")
        params["start"] = query.start_date
    if query.end_date:
        where.append("i.captured_at < CAST(:end AS DATE) + 1")
        params["end"] = query.end_date
    if query.sex:
        where.append("coalesce(d.corrected_classification, d.classification) = :sex")
        params["sex"] = query.sex
    return "".join(f" AND {w}" for w in where), params


def _pair_filters(query: QueueQuery) -> str:
    where = []
    if query.camera:
        where.append("EXISTS (SELECT 1 FROM detections x JOIN images xi ON xi.id = x.image_id JOIN locations xl"
                     " ON xl.id = xi.location_id WHERE x.deer_id IN (c.deer_a, c.deer_b) AND x.is_valid"
                     " AND xl.code = :camera)")
    if query.start_date:
        where.append("greatest(a.last_seen, b.last_seen) >= CAST(:start AS DATE)")
    if query.end_date:
        where.append("least(a.first_seen, b.first_seen) < CAST(:end AS DATE) + 1")
    if query.sex:
        where.append(":sex IN (a.sex, b.sex)")
    return "".join(f" AND {w}" for w in where)


def _sql(query: QueueQuery) -> tuple[str, dict[str, Any]]:
    detections, params = _detection_filters(query)
    pairs = _pair_filters(query)
    kinds = ", ".join(f"('{k}', {n})" for n, k in enumerate(KINDS))
    sql = f"""
WITH open AS (
  SELECT d.id, d.deer_id, d.reid_status, d.classification, d.corrected_classification,
         coalesce(d.corrected_classification, d.classification) AS cls, i.captured_at, l.code AS location_code,
         e.name AS deer_name, e.sighting_count, top.scores
    FROM detections d JOIN images i ON i.id = d.image_id JOIN locations l ON l.id = i.location_id
    LEFT JOIN deer e ON e.id = d.deer_id
    LEFT JOIN LATERAL (SELECT array_agg(s.similarity_score ORDER BY s.similarity_score DESC) AS scores
                         FROM (SELECT similarity_score FROM reid_similarity_scores
                                WHERE detection_id = d.id ORDER BY similarity_score DESC LIMIT 2) s) top ON TRUE
   WHERE d.is_valid AND (d.deer_id IS NOT NULL OR d.reid_status = 'needs_review'){detections}
     AND NOT EXISTS (SELECT 1 FROM detection_reviews r WHERE r.detection_id = d.id AND r.decides
                     AND r.undone_at IS NULL)
), typed AS (
  SELECT o.*, o.scores[1] AS best, o.scores[2] AS runner_up,
         CASE WHEN o.reid_status = 'assigned' AND o.scores[2] IS NOT NULL
                   AND o.scores[1] - o.scores[2] < :margin THEN 'close_call'
              WHEN o.reid_status = 'needs_review' AND o.deer_id IS NULL THEN 'needs_review'
              WHEN o.reid_status = 'new_deer' AND o.sighting_count <= :few THEN 'new_deer'
              WHEN o.corrected_classification IS NOT NULL
                   AND o.corrected_classification <> o.classification THEN 'corrected_class'
              ELSE 'unreviewed' END AS kind
    FROM open o
), items AS (
  SELECT t.kind, CASE t.kind WHEN 'close_call' THEN t.best - t.runner_up
                             WHEN 'new_deer' THEN t.sighting_count
                             WHEN 'needs_review' THEN -coalesce(t.best, -1)
                             WHEN 'unreviewed' THEN coalesce(t.best, -1)
                             ELSE 0 END AS sort_key,
         t.captured_at AS at, t.id AS first_id, 0 AS second_id, t.deer_id, t.deer_name, t.cls, t.location_code,
         t.best, t.runner_up, t.sighting_count, NULL::integer AS deer_b, NULL::text AS deer_b_name,
         NULL::integer AS deer_b_sightings
    FROM typed t
  UNION ALL
  SELECT 'merge_candidate', -c.score, c.computed_at, c.deer_a, c.deer_b, c.deer_a, a.name,
         CASE WHEN a.sex = 'unknown' THEN b.sex ELSE a.sex END, NULL, c.score, NULL, a.sighting_count,
         c.deer_b, b.name, b.sighting_count
    FROM deer_merge_candidates c JOIN deer a ON a.id = c.deer_a JOIN deer b ON b.id = c.deer_b
   WHERE a.status <> 'merged' AND b.status <> 'merged' AND a.sighting_count > 0 AND b.sighting_count > 0{pairs}
), ranked AS (
  SELECT items.*, k.rank FROM items JOIN (VALUES {kinds}) AS k (kind, rank) ON k.kind = items.kind
   WHERE CAST(:kind AS TEXT) IS NULL OR items.kind = CAST(:kind AS TEXT)
)
SELECT (SELECT coalesce(jsonb_object_agg(kind, n), '{{}}'::jsonb) FROM (SELECT kind, count(*) AS n FROM ranked
        GROUP BY kind) c),
       (SELECT coalesce(jsonb_agg(CASE WHEN p.kind = 'merge_candidate' THEN
                  jsonb_build_object('kind', p.kind, 'deer_a', p.deer_id, 'deer_b', p.deer_b, 'deer_a_name',
                                     p.deer_name, 'deer_b_name', p.deer_b_name, 'sex', p.cls, 'score', p.runner_up,
                                     'deer_a_sightings', p.sighting_count, 'deer_b_sightings', p.deer_b_sightings)
                ELSE
                  jsonb_build_object('kind', p.kind, 'detection_id', p.first_id, 'deer_id', p.deer_id, 'deer_name',
                                     p.deer_name, 'classification', p.cls, 'captured_at', p.at, 'location_code',
                                     p.location_code, 'score', p.best, 'runner_up_score', p.runner_up,
                                     'margin', p.best - p.runner_up, 'deer_sightings', p.sighting_count)
                END ORDER BY p.rank, p.sort_key, p.at, p.first_id, p.second_id), '[]'::jsonb)
          FROM (SELECT * FROM ranked ORDER BY rank, sort_key, at, first_id, second_id
                LIMIT :limit OFFSET :offset) p),
       {SNAPSHOT_SQL}
"""
    return sql, {**params, "margin": CLOSE_MARGIN, "few": FEW_SIGHTINGS, "kind": query.kind,
                 "limit": query.limit, "offset": query.offset}


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


#: Queue pages a process keeps (filters x page), each valid while the database's snapshot is unchanged.
ANSWERS: SnapshotCache[dict[str, Any]] = SnapshotCache(size=64)


def review_queue(con: pg8000.native.Connection, query: QueueQuery) -> dict[str, Any]:
    """{total, by_kind, limit, offset, next_offset, items}; each item names its kind. A page asked for again
    with nothing written since is the kept one (ANSWERS)."""
    return ANSWERS.answer(con, tuple(sorted(query.model_dump().items())), lambda c: computed_page(c, query))


def computed_page(con: pg8000.native.Connection, query: QueueQuery) -> tuple[dict[str, Any], str]:
    sql, params = _sql(query)
    counts, items, snapshot = con.run(sql, **params)[0]
    counts, items = _json(counts), _json(items)
    by_kind = {k: int(counts.get(k, 0)) for k in KINDS}
    total = sum(by_kind.values())
    next_offset = query.offset + len(items)
    return {"total": total, "by_kind": by_kind, "limit": query.limit, "offset": query.offset,
            "next_offset": next_offset if next_offset < total else None, "items": items}, snapshot
