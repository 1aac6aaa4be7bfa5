"""Embed detections that are already stored (`deertrack reid embed`) and initialise deer profiles.

Detections that arrive with their deer already known (the demo data, an import) have no embedding;
this computes them from the photos in the images bucket, a chunk at a time (each chunk its own
transaction, so a stopped run keeps what it did and a rerun continues), then rebuilds every deer's
profile, counts and first/last seen from its detections. Assignments are never changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pg8000.native

from deertrack.db import transaction
from deertrack.reid.profiles import rebuild_deer
from deertrack.reid.vectors import to_bytes
from gpu_batch.reid.embedder import Embedder
from gpu_batch.reid.pipeline import embed_rows, load_detections

CHUNK = 256


@dataclass
class EmbedReport:
    selected: int = 0
    embedded: int = 0
    too_small: dict[int, str] = field(default_factory=dict)
    unreadable: dict[int, str] = field(default_factory=dict)
    deer_rebuilt: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.embedded / self.seconds if self.seconds else 0.0


def embed_stored(con: pg8000.native.Connection, embedder: Embedder, *, everything: bool = False,
                 chunk: int = CHUNK, progress: Callable[[int, int, float], None] | None = None) -> EmbedReport:
    """Embed detections without an embedding (or, with everything, all of them) and rebuild every deer."""
    report = EmbedReport()
    where = "" if everything else " WHERE embedding IS NULL OR embedding_model IS DISTINCT FROM :model"
    ids = [r[0] for r in con.run(f"SELECT id FROM detections{where} ORDER BY id",
                                 **({} if everything else {"model": embedder.name}))]
    report.selected = len(ids)
    started = time.perf_counter()
    for start in range(0, len(ids), chunk):
        rows = load_detections(con, ids[start:start + chunk])
        embeddings, skipped, failed = embed_rows(rows, embedder, reuse=False)
        report.too_small.update(skipped)
        report.unreadable.update(failed)
        if embeddings:
            with transaction(con):
                con.run(
                    "UPDATE detections AS d SET embedding = v.embedding, embedding_model = :model, updated_at = now()"
                    " FROM unnest(CAST(:ids AS BIGINT[]), CAST(:embeddings AS BYTEA[])) AS v(id, embedding)"
                    " WHERE d.id = v.id",
                    ids=list(embeddings), embeddings=[to_bytes(v) for v in embeddings.values()], model=embedder.name,
                )
        report.embedded += len(embeddings)
        report.seconds = time.perf_counter() - started
        if progress:
            progress(min(start + chunk, len(ids)), len(ids), report.rate)
    with transaction(con):
        from deertrack.reid.assignment import lock_gallery

        lock_gallery(con)
        report.deer_rebuilt = rebuild_deer(con, None)
    report.seconds = time.perf_counter() - started
    return report
