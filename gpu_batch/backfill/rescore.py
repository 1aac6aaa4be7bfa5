"""Re-score stored embeddings against a gallery: scores, sex eligibility and the matched decision.

The decision is the re-ID rule (deertrack.reid.scoring): a burst track (detections sharing a
`burst_group`) is decided together on its members' mean score; its best eligible deer is matched
when that score reaches the threshold. Members of a burst outside the shard (or outside the
scope) take part in the decision but get no rows here, so the rows of a detection never depend on
how a run was cut into shards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pg8000.native

from deertrack.backfill.plan import SELECTED
from deertrack.reid import scoring
from deertrack.reid.classes import class_sql
from deertrack.reid.gallery import Gallery
from deertrack.reid.score_log import matrix_copy_text
from deertrack.reid.vectors import stack

#: Detections per COPY chunk: the client formats the next chunk while the server indexes this one.
CHUNK_DETECTIONS = 256


@dataclass(frozen=True)
class StoredDetections:
    """The selected detections of a shard (first `count` rows) followed by their burst companions."""

    ids: np.ndarray  # int64 (n,)
    classifications: list[str]  # (n,)
    assigned_deer: np.ndarray  # int64 (n,), -1 when the detection has no deer
    groups: np.ndarray  # int64 (n,) burst track codes
    embeddings: np.ndarray  # float32 (n, d)
    count: int  # how many of the rows are selected (the rest only help decide their bursts)


def load_detections(con: pg8000.native.Connection, first: int, last: int,
                    since: datetime | None) -> StoredDetections:
    rows = con.run(
        f"SELECT d.id, {class_sql('d')}, d.deer_id,"
        " CASE WHEN d.is_valid THEN d.burst_group END, d.embedding"
        + SELECTED + " AND d.id BETWEEN :first AND :last ORDER BY d.id",
        since=since, first=first, last=last,
    )
    selected = [r[0] for r in rows]
    bursts = sorted({r[3] for r in rows if r[3] is not None})
    companions = []
    everything_selected = since is None and first <= 1 and last >= 2**62  # an atomic shard: no one outside
    if bursts and not everything_selected:
        companions = con.run(
            f"SELECT d.id, {class_sql('d')}, d.deer_id, d.burst_group,"
            " d.embedding FROM detections d"
            " WHERE d.burst_group = ANY(CAST(:bursts AS TEXT[])) AND d.is_valid AND d.embedding IS NOT NULL"
            "   AND NOT (d.id = ANY(CAST(:ids AS BIGINT[]))) ORDER BY d.id",
            bursts=bursts, ids=selected,
        )
    everything = [*rows, *companions]
    codes: dict[str, int] = {}
    groups = np.empty(len(everything), dtype=np.int64)
    for i, row in enumerate(everything):
        key = row[3] if row[3] is not None else f"\0{row[0]}"  # no burst: a track of its own
        groups[i] = codes.setdefault(key, len(codes))
    return StoredDetections(
        ids=np.fromiter((r[0] for r in everything), dtype=np.int64, count=len(everything)),
        classifications=[r[1] for r in everything],
        assigned_deer=np.fromiter((-1 if r[2] is None else r[2] for r in everything), dtype=np.int64,
                                  count=len(everything)),
        groups=groups,
        embeddings=stack([r[4] for r in everything], "stored detection embeddings"),
        count=len(rows),
    )


@dataclass(frozen=True)
class Rescored:
    """Rows of the selected detections: (count, m) scores, eligibility and matched deer column."""

    detection_ids: np.ndarray
    classifications: list[str]
    deer_ids: list[int]
    deer_sexes: list[str]
    scores: np.ndarray  # float32 (count, m)
    eligible: np.ndarray  # bool (count, m)
    assigned: np.ndarray  # int64 (count,), matched column or -1
    previous_deer: np.ndarray  # int64 (count,), detections.deer_id or -1
    threshold: float

    @property
    def detections(self) -> int:
        return int(self.detection_ids.shape[0])

    @property
    def rows(self) -> int:
        return self.detections * len(self.deer_ids)

    @property
    def matched_detections(self) -> int:
        return int((self.assigned >= 0).sum())

    @property
    def changed_detections(self) -> int:
        """Detections whose matched deer (or none) differs from the deer they are assigned to now."""
        deer = np.asarray(self.deer_ids, dtype=np.int64)
        now = np.where(self.assigned >= 0, deer[np.clip(self.assigned, 0, None)] if len(deer) else -1, -1)
        return int((now != self.previous_deer).sum())

    def copy_chunks(self, on_chunk: Callable[[int], None] | None = None,
                    abort: Callable[[], bool] | None = None,
                    chunk_detections: int | None = None) -> Iterator[bytes]:
        """COPY text (MATRIX_COLUMNS) chunk by chunk; `on_chunk(detections so far)` after each.

        When `abort()` turns true the stream just ends: the caller must then roll back.
        """
        m = len(self.deer_ids)
        if m == 0:
            return
        matched = scoring.matched_mask(self.detections, m, self.assigned)
        chunk_detections = chunk_detections or CHUNK_DETECTIONS
        for start in range(0, self.detections, chunk_detections):
            if abort is not None and abort():
                return
            stop = min(start + chunk_detections, self.detections)
            yield matrix_copy_text(
                self.detection_ids[start:stop], self.classifications[start:stop], self.deer_ids, self.deer_sexes,
                self.scores[start:stop], matched[start:stop], self.eligible[start:stop], self.threshold,
            )
            if on_chunk is not None:
                on_chunk(stop)


def rescore(detections: StoredDetections, gallery: Gallery, threshold: float) -> Rescored:
    threshold = scoring.round_threshold(threshold)
    n, m = detections.count, len(gallery)
    if m and len(detections.ids):
        scores = gallery.similarity(detections.embeddings)
        eligible = scoring.sex_match_matrix(detections.classifications, gallery.sexes)
        assigned, _ = scoring.decide_groups(scores, eligible, detections.groups, threshold)
    else:
        scores = np.zeros((len(detections.ids), m), dtype=np.float32)
        eligible = np.zeros((len(detections.ids), m), dtype=bool)
        assigned = np.full(len(detections.ids), -1, dtype=np.int64)
    return Rescored(
        detection_ids=detections.ids[:n], classifications=detections.classifications[:n],
        deer_ids=list(gallery.deer_ids), deer_sexes=list(gallery.sexes),
        scores=scores[:n], eligible=eligible[:n], assigned=assigned[:n],
        previous_deer=detections.assigned_deer[:n], threshold=threshold,
    )
