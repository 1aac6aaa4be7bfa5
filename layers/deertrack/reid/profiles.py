"""Deer summaries rebuilt from their detections: sighting counts, first/last seen and profile embedding.

Used after a review changes which detections belong to a deer (PATCH), and to initialise the
profiles of deer whose detections were given embeddings afterwards (`deertrack reid embed`).
A deer's profile is the normalized mean of the embeddings of its valid detections; its sightings
gallery (exemplars) is chosen from them in time order by the rule of `exemplars.py`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import pg8000.native

from deertrack.reid import exemplars
from deertrack.reid.gallery import exemplars_to_bytes, mean_profile
from deertrack.reid.vectors import stack, to_bytes
from deertrack.settings import get_settings


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
    detection_ids: dict[int, list[int]] = {}
    rows = con.run(
        "SELECT d.deer_id, d.embedding, d.id FROM detections d JOIN images i ON i.id = d.image_id"
        " WHERE d.is_valid AND d.embedding IS NOT NULL"
        f" AND d.deer_id IS NOT NULL{where} ORDER BY i.captured_at, d.id", **params,
    )
    for deer_id, blob, detection_id in rows:
        kept = blobs.setdefault(deer_id, [])
        if kept and len(kept[0]) != len(blob):
            continue  # mixed models: keep the first dimension seen (re-embed to fix)
        kept.append(bytes(blob))
        detection_ids.setdefault(deer_id, []).append(int(detection_id))
    target = ids if ids is not None else [r[0] for r in con.run("SELECT id FROM deer")]
    with_profile = [i for i in target if i in blobs]
    without = [i for i in target if i not in blobs]
    if with_profile:
        max_exemplars = get_settings().reid_max_exemplars
        chosen = {i: exemplars.select(stack(blobs[i]), detection_ids[i], max_exemplars) for i in with_profile}
        con.run(
            "UPDATE deer AS e SET profile_embedding = v.profile, profile_embedding_count = v.n,"
            " exemplar_embeddings = v.exemplars, exemplar_detection_ids = ARRAY(SELECT jsonb_array_elements_text("
            "   CAST(v.exemplar_ids AS JSONB))::BIGINT)"
            " FROM unnest(CAST(:ids AS INTEGER[]), CAST(:profiles AS BYTEA[]), CAST(:ns AS INTEGER[]),"
            "             CAST(:exemplars AS BYTEA[]), CAST(:exemplar_ids AS TEXT[]))"
            "   AS v(id, profile, n, exemplars, exemplar_ids) WHERE e.id = v.id",
            ids=with_profile,
            profiles=[to_bytes(mean_profile(stack(blobs[i]))) for i in with_profile],
            ns=[len(blobs[i]) for i in with_profile],
            exemplars=[exemplars_to_bytes(chosen[i][0]) for i in with_profile],
            exemplar_ids=[json.dumps(chosen[i][1]) for i in with_profile],
        )
    if without:
        con.run("UPDATE deer SET profile_embedding = NULL, profile_embedding_count = 0, exemplar_embeddings = NULL,"
                " exemplar_detection_ids = '{}' WHERE id = ANY(CAST(:ids AS INTEGER[]))", ids=without)
    return len(target)
