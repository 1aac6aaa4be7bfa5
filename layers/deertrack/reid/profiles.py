"""Deer summaries rebuilt from their detections: sighting counts, first/last seen and profile embedding.

Used after a review changes which detections belong to a deer (PATCH), and to initialise the
profiles of deer whose detections were given embeddings afterwards (`deertrack reid embed`).
A deer's profile is the normalized mean of the embeddings of its valid detections.
"""

from __future__ import annotations

from collections.abc import Iterable

import pg8000.native

from deertrack.reid.gallery import mean_profile
from deertrack.reid.vectors import stack, to_bytes


def rebuild_deer(con: pg8000.native.Connection, deer_ids: Iterable[int] | None = None) -> int:
    """Recompute sighting_count, first/last seen and the profile of `deer_ids` (all deer when None)."""
    ids = None if deer_ids is None else sorted({int(i) for i in deer_ids if i is not None})
    if ids is not None and not ids:
        return 0
    where = "" if ids is None else " AND d.deer_id = ANY(CAST(:ids AS INTEGER[]))"
    params = {} if ids is None else {"ids": ids}
    only = "" if ids is None else " AND x.id = ANY(CAST(:ids AS INTEGER[]))"
    con.run(
        "UPDATE deer AS e SET sighting_count = coalesce(agg.n, 0), first_seen = agg.first_seen,"
        " last_seen = agg.last_seen, updated_at = now()"
        " FROM deer AS x LEFT JOIN ("
        "   SELECT d.deer_id, count(*) AS n, min(i.captured_at) AS first_seen, max(i.captured_at) AS last_seen"
        "   FROM detections d JOIN images i ON i.id = d.image_id"
        f"  WHERE d.is_valid AND d.deer_id IS NOT NULL{where} GROUP BY d.deer_id"
        " ) AS agg ON agg.deer_id = x.id"
        f" WHERE e.id = x.id{only}",
        **params,
    )
    blobs: dict[int, list[bytes]] = {}
    rows = con.run(
        "SELECT d.deer_id, d.embedding FROM detections d WHERE d.is_valid AND d.embedding IS NOT NULL"
        f" AND d.deer_id IS NOT NULL{where}", **params,
    )
    for deer_id, blob in rows:
        kept = blobs.setdefault(deer_id, [])
        if kept and len(kept[0]) != len(blob):
            continue  # mixed models: keep the first dimension seen (re-embed to fix)
        kept.append(bytes(blob))
    target = ids if ids is not None else [r[0] for r in con.run("SELECT id FROM deer")]
    with_profile = [i for i in target if i in blobs]
    without = [i for i in target if i not in blobs]
    if with_profile:
        con.run(
            "UPDATE deer AS e SET profile_embedding = v.profile, profile_embedding_count = v.n"
            " FROM unnest(CAST(:ids AS INTEGER[]), CAST(:profiles AS BYTEA[]), CAST(:ns AS INTEGER[]))"
            "   AS v(id, profile, n) WHERE e.id = v.id",
            ids=with_profile,
            profiles=[to_bytes(mean_profile(stack(blobs[i]))) for i in with_profile],
            ns=[len(blobs[i]) for i in with_profile],
        )
    if without:
        con.run("UPDATE deer SET profile_embedding = NULL, profile_embedding_count = 0"
                " WHERE id = ANY(CAST(:ids AS INTEGER[]))", ids=without)
    return len(target)
