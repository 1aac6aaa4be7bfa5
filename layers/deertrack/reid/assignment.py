"""The re-ID transaction: lock the gallery, assign or create deer, update them, log every score.

Everything a batch changes is written in one transaction, under one transaction-scoped advisory
lock on the gallery: two workers never score against the same gallery state at once, so they can
never both create a deer for the same burst, and a crash leaves nothing half-written (SQS delivers
the message again). Detections already re-identified when the lock is taken are left alone, so a
redelivered message changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pg8000.native

from deertrack.db import transaction
from deertrack.logs import logger
from deertrack.reid.bursts import BURST_SECONDS, Linked, Pending
from deertrack.reid.classes import class_sql
from deertrack.reid.crop_quality import NEEDS_REVIEW, NO_GATE, CropGate
from deertrack.reid.gallery import Gallery, exemplars_to_bytes, load_gallery
from deertrack.reid.matching import BatchOutcome, match_batch
from deertrack.reid.score_log import replace_scores
from deertrack.reid.vectors import from_bytes, to_bytes

#: pg_advisory_xact_lock key held while the gallery is read and changed ("deerreid" in ASCII).
GALLERY_LOCK_KEY = 0x6465657272656964
#: Statuses a detection is (re-)identified from; 'assigned', 'new_deer', 'needs_review' and 'skipped' are
#: final (a person decides a 'needs_review' one).
OPEN_STATUSES = ("pending", "failed")
DEER_NAME_PREFIX = "Deer-"


@dataclass
class CommitResult:
    assigned: list[int] = field(default_factory=list)
    new_deer: list[int] = field(default_factory=list)  # detection ids that created a deer
    needs_review: list[int] = field(default_factory=list)  # matched no deer, crop too poor to found one
    created_deer: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    already_done: list[int] = field(default_factory=list)
    score_rows: int = 0


def lock_gallery(con: pg8000.native.Connection) -> None:
    """Take the gallery lock for the rest of the current transaction."""
    con.run("SELECT pg_advisory_xact_lock(:key)", key=GALLERY_LOCK_KEY)


def next_deer_number(con: pg8000.native.Connection) -> int:
    rows = con.run(
        "SELECT coalesce(max(CAST(substring(name FROM '^Deer-([0-9]{1,9})$') AS BIGINT)), 0) FROM deer"
    )
    return int(rows[0][0]) + 1


def deer_name(number: int) -> str:
    return f"{DEER_NAME_PREFIX}{number:04d}"


def _windows(pending: Sequence[Pending], burst_seconds: float) -> tuple[list[int], list[datetime], list[datetime]]:
    """Merged [t - gap, t + gap] intervals per location around the pending detections."""
    gap = timedelta(seconds=burst_seconds)
    locations: list[int] = []
    starts: list[datetime] = []
    ends: list[datetime] = []
    by_location: dict[int, list[datetime]] = {}
    for p in pending:
        by_location.setdefault(p.location_id, []).append(p.captured_at)
    for location, times in by_location.items():
        times.sort()
        start, end = times[0] - gap, times[0] + gap
        for t in times[1:]:
            if t - gap <= end:
                end = t + gap
            else:
                locations.append(location)
                starts.append(start)
                ends.append(end)
                start, end = t - gap, t + gap
        locations.append(location)
        starts.append(start)
        ends.append(end)
    return locations, starts, ends


def load_linked(con: pg8000.native.Connection, pending: Sequence[Pending],
                burst_seconds: float = BURST_SECONDS) -> list[Linked]:
    """Detections already re-identified within a burst gap of the pending ones, same location."""
    if not pending:
        return []
    locations, starts, ends = _windows(pending, burst_seconds)
    rows = con.run(
        f"SELECT d.id, d.image_id, i.location_id, i.captured_at, {class_sql('d')},"
        " d.embedding, d.burst_group, d.deer_id"
        " FROM unnest(CAST(:locs AS INTEGER[]), CAST(:starts AS TIMESTAMPTZ[]), CAST(:ends AS TIMESTAMPTZ[]))"
        "   AS w(location_id, start_at, end_at)"
        " JOIN images i ON i.location_id = w.location_id AND i.captured_at BETWEEN w.start_at AND w.end_at"
        " JOIN detections d ON d.image_id = i.id"
        " WHERE d.reid_status IN ('assigned', 'new_deer') AND d.is_valid AND d.burst_group IS NOT NULL"
        "   AND NOT (d.id = ANY(CAST(:ids AS BIGINT[])))",
        locs=locations, starts=starts, ends=ends, ids=[p.detection_id for p in pending],
    )
    return [
        Linked(detection_id=r[0], image_id=r[1], location_id=r[2], captured_at=r[3], classification=r[4],
               embedding=from_bytes(r[5]) if r[5] is not None else None, burst_group=r[6], deer_id=r[7])
        for r in rows
    ]


def _write_assignments(con: pg8000.native.Connection, outcome: BatchOutcome, embeddings: Mapping[int, np.ndarray],
                       model_name: str) -> None:
    items = outcome.assignments
    if not items:
        return
    con.run(
        "UPDATE detections AS d SET deer_id = v.deer_id, burst_group = v.burst_group, reid_status = v.status,"
        " reid_note = v.note, embedding = v.embedding, embedding_model = :model, reid_at = now(), updated_at = now()"
        " FROM unnest(CAST(:ids AS BIGINT[]), CAST(:deer AS INTEGER[]), CAST(:groups AS TEXT[]),"
        "             CAST(:statuses AS TEXT[]), CAST(:notes AS TEXT[]), CAST(:embeddings AS BYTEA[]))"
        "   AS v(id, deer_id, burst_group, status, note, embedding)"
        " WHERE d.id = v.id",
        ids=[a.detection_id for a in items], deer=[a.deer_id for a in items],
        groups=[a.burst_group for a in items], statuses=[a.status for a in items], notes=[a.note for a in items],
        embeddings=[to_bytes(embeddings[a.detection_id]) for a in items], model=model_name,
    )


def write_statuses(con: pg8000.native.Connection, notes: Mapping[int, str], status: str) -> None:
    """Set reid_status/reid_note of detections that could not be re-identified ('skipped' or 'failed')."""
    if not notes:
        return
    ids = list(notes)
    con.run(
        "UPDATE detections AS d SET reid_status = :status, reid_note = v.note, deer_id = NULL, burst_group = NULL,"
        " reid_at = now(), updated_at = now()"
        " FROM unnest(CAST(:ids AS BIGINT[]), CAST(:notes AS TEXT[])) AS v(id, note) WHERE d.id = v.id",
        ids=ids, notes=[notes[i][:1000] for i in ids], status=status,
    )


def _write_deer(con: pg8000.native.Connection, outcome: BatchOutcome, gallery: Gallery) -> None:
    changes = list(outcome.deer.values())
    if not changes:
        return
    indexes = [gallery.index_of(c.deer_id) for c in changes]
    con.run(
        "UPDATE deer AS e SET sighting_count = e.sighting_count + v.added,"
        " first_seen = LEAST(coalesce(e.first_seen, v.first_seen), v.first_seen),"
        " last_seen = GREATEST(coalesce(e.last_seen, v.last_seen), v.last_seen),"
        " profile_embedding = v.profile, profile_embedding_count = v.profile_count,"
        " exemplar_embeddings = v.exemplars, exemplar_detection_ids = ARRAY(SELECT jsonb_array_elements_text("
        "   CAST(v.exemplar_ids AS JSONB))::BIGINT), updated_at = now()"
        " FROM unnest(CAST(:ids AS INTEGER[]), CAST(:added AS INTEGER[]), CAST(:firsts AS TIMESTAMPTZ[]),"
        "             CAST(:lasts AS TIMESTAMPTZ[]), CAST(:profiles AS BYTEA[]), CAST(:counts AS INTEGER[]),"
        "             CAST(:exemplars AS BYTEA[]), CAST(:exemplar_ids AS TEXT[]))"
        "   AS v(id, added, first_seen, last_seen, profile, profile_count, exemplars, exemplar_ids)"
        " WHERE e.id = v.id",
        ids=[c.deer_id for c in changes], added=[c.added for c in changes],
        firsts=[c.first_seen for c in changes], lasts=[c.last_seen for c in changes],
        profiles=[to_bytes(gallery.profiles[i]) for i in indexes], counts=[gallery.counts[i] for i in indexes],
        exemplars=[exemplars_to_bytes(gallery.exemplars(i)) for i in indexes],
        exemplar_ids=[json.dumps(gallery.exemplar_ids[i]) for i in indexes],
    )


def commit_batch(
    con: pg8000.native.Connection, pending: Sequence[Pending], *, threshold: float, model_name: str,
    skipped: Mapping[int, str] | None = None, failed: Mapping[int, str] | None = None,
    burst_seconds: float = BURST_SECONDS, batch_id: str | None = None, gate: CropGate = NO_GATE,
) -> CommitResult:
    """Re-identify `pending` (embedded) and record `skipped` / `failed` ones, all in one transaction."""
    skipped, failed = dict(skipped or {}), dict(failed or {})
    result = CommitResult()
    all_ids = [p.detection_id for p in pending] + list(skipped) + list(failed)
    if not all_ids:
        return result
    with transaction(con):
        lock_gallery(con)
        open_ids = {
            r[0] for r in con.run(
                "SELECT id FROM detections WHERE id = ANY(CAST(:ids AS BIGINT[]))"
                " AND reid_status = ANY(CAST(:open AS TEXT[])) FOR UPDATE", ids=all_ids, open=list(OPEN_STATUSES),
            )
        }
        result.already_done = [i for i in all_ids if i not in open_ids]
        pending = [p for p in pending if p.detection_id in open_ids]
        skipped = {i: note for i, note in skipped.items() if i in open_ids}
        failed = {i: note for i, note in failed.items() if i in open_ids}

        gallery = load_gallery(con)
        linked = load_linked(con, pending, burst_seconds)
        number = [next_deer_number(con)]

        def new_deer(sex: str, profile: np.ndarray, count: int, first: datetime, last: datetime) -> int:
            deer_id = con.run(
                "INSERT INTO deer (name, sex, first_seen, last_seen, sighting_count, profile_embedding,"
                " profile_embedding_count) VALUES (:name, :sex, :first, :last, 0, :profile, 0) RETURNING id",
                name=deer_name(number[0]), sex=sex, first=first, last=last, profile=to_bytes(profile),
            )[0][0]
            number[0] += 1
            result.created_deer.append(deer_id)
            return deer_id

        outcome = match_batch(pending, gallery, threshold, new_deer, linked, burst_seconds, gate=gate)
        _write_assignments(con, outcome, {p.detection_id: p.embedding for p in pending}, model_name)
        write_statuses(con, skipped, "skipped")
        write_statuses(con, failed, "failed")
        _write_deer(con, outcome, gallery)
        written_ids = [p.detection_id for p in pending] + list(skipped) + list(failed)
        result.score_rows = replace_scores(con, written_ids, outcome.score_block(threshold))
    for a in outcome.assignments:
        {"assigned": result.assigned, "new_deer": result.new_deer,
         NEEDS_REVIEW: result.needs_review}[a.status].append(a.detection_id)
    result.skipped, result.failed = list(skipped), list(failed)
    logger.info(
        "re-ID batch committed",
        extra={"batch_id": batch_id, "assigned": len(result.assigned), "new_deer": len(result.new_deer),
               "needs_review": len(result.needs_review),
               "created_deer": result.created_deer, "skipped": result.skipped, "failed": result.failed,
               "already_done": len(result.already_done), "score_rows": result.score_rows,
               "gallery_size": len(gallery)},
    )
    return result
