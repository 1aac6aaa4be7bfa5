"""Merges in PostgreSQL: merge two deer, undo a merge exactly, and the merge job (auto-merge + suggestions).

A merge moves every detection of the merged deer to the kept one, marks the merged deer `merged`
(its `merged_into` names the kept deer), gives the kept deer the union of both sightings galleries
(merging.union, the rule the evaluation replays) and rebuilds its counts, first/last seen and
profile. In the score log each touched detection keeps one row for the kept deer: the higher of its
two scores, `matched` when the detection now belongs to the kept deer; the merged deer's rows go. Reviewed
truth rows (`deer-<id>` keys) follow the detections.

Everything a merge replaces is recorded with it (both deer rows as they were, the moved detection
ids, every replaced score row with its id), so `undo` puts back exactly what was there. Merges that
touch the same deer are undone last-first. All of it runs under the gallery lock, in the caller's
transaction (the re-ID worker never scores against a half-merged gallery).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pg8000.native

from deertrack.db import rows_as_dicts, transaction
from deertrack.logs import logger
from deertrack.problems import Conflict, NotFound, Problem
from deertrack.reid import merging
from deertrack.reid.gallery import SCORABLE_STATUSES, exemplars_from_bytes, exemplars_to_bytes
from deertrack.reid.profiles import rebuild_deer
from deertrack.reid.review import review_individual_key
from deertrack.reid.vectors import from_bytes

#: Who merges automatically (and owns the merge job's actions).
SERVICE_ACTOR = "service:merge-job"
#: deer columns a merge changes and its undo restores.
_DEER_STATE = ("name", "sex", "status", "first_seen", "last_seen", "sighting_count", "profile_embedding",
               "profile_embedding_count", "exemplar_embeddings", "exemplar_detection_ids", "merged_into", "notes",
               "updated_at")
_SCORE_COLUMNS = ("id, detection_id, deer_id, similarity_score, threshold_used, matched, sex_match,"
                  " detection_classification, deer_sex, calculated_at")


class MergeRefused(Conflict):
    """The merge (or undo) breaks a rule; the message names it. A 409 wherever the API meets it."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(Problem("deer", rule, message))
        self.rule = rule


@dataclass
class MergeJobSummary:
    deer: int = 0
    merges: list[dict[str, Any]] = field(default_factory=list)
    candidates: int = 0
    auto: bool = True
    dry_run: bool = False
    suggest_threshold: float = 0.0
    auto_threshold: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"deer": self.deer, "merges": self.merges, "merged": len(self.merges), "candidates": self.candidates,
                "auto": self.auto, "dry_run": self.dry_run, "suggest_threshold": self.suggest_threshold,
                "auto_threshold": self.auto_threshold}


# ------------------------------------------------------------------------------------------ evidence


def load_evidence(con: pg8000.native.Connection, deer_ids: Sequence[int] | None = None) -> list[merging.DeerEvidence]:
    """The merge rules' view of every scorable deer (or of `deer_ids`), oldest first."""
    only = "" if deer_ids is None else " AND e.id = ANY(CAST(:ids AS INTEGER[]))"
    params: dict[str, Any] = {"statuses": list(SCORABLE_STATUSES)}
    if deer_ids is not None:
        params["ids"] = [int(i) for i in deer_ids]
    rows = con.run(
        "SELECT e.id, e.sex, e.profile_embedding, e.exemplar_embeddings, e.exemplar_detection_ids,"
        " e.sighting_count, coalesce(array_agg(DISTINCT d.image_id) FILTER (WHERE d.id IS NOT NULL), '{}')"
        " FROM deer e LEFT JOIN detections d ON d.deer_id = e.id"
        " WHERE e.status = ANY(CAST(:statuses AS TEXT[])) AND e.profile_embedding IS NOT NULL" + only +
        " GROUP BY e.id ORDER BY e.id", **params,
    )
    out = []
    for deer_id, sex, profile_blob, exemplar_blob, exemplar_ids, sightings, images in rows:
        profile = from_bytes(profile_blob).astype(np.float32)
        vectors = exemplars_from_bytes(exemplar_blob, profile.shape[0])
        ids = [int(i) for i in (exemplar_ids or [])]
        if len(vectors) == 0:
            vectors, ids = profile[None, :].copy(), [0]
        elif len(ids) != len(vectors):
            ids = [0] * len(vectors)
        out.append(merging.DeerEvidence(deer_id=int(deer_id), sex=sex, exemplars=vectors, exemplar_ids=ids,
                                        images={int(i) for i in images}, sightings=int(sightings), profile=profile))
    return out


def rejected_pairs(con: pg8000.native.Connection) -> set[tuple[int, int]]:
    return {(int(a), int(b)) for a, b in con.run("SELECT deer_a, deer_b FROM deer_pair_decisions"
                                                 " WHERE decision = 'not_same'")}


def _summary(con: pg8000.native.Connection, deer_id: int) -> dict[str, Any]:
    rows = rows_as_dicts(
        con, "SELECT e.id, e.name, e.sex, e.status, e.sighting_count, e.first_seen, e.last_seen,"
             " coalesce((SELECT array_agg(DISTINCT l.code ORDER BY l.code) FROM detections d"
             "  JOIN images i ON i.id = d.image_id JOIN locations l ON l.id = i.location_id"
             "  WHERE d.deer_id = e.id), '{}') AS cameras FROM deer e WHERE e.id = :id", id=deer_id)
    if not rows:
        return {"id": deer_id}
    row = rows[0]
    return {"id": row["id"], "name": row["name"], "sex": row["sex"], "status": row["status"],
            "sightings": row["sighting_count"], "cameras": list(row["cameras"] or []),
            "first_seen": row["first_seen"].isoformat() if row["first_seen"] else None,
            "last_seen": row["last_seen"].isoformat() if row["last_seen"] else None}


def pair_evidence(con: pg8000.native.Connection, a: merging.DeerEvidence, b: merging.DeerEvidence,
                  pairs: int = 3) -> dict[str, Any]:
    """What a reviewer needs to judge a pair: both deer's summaries and their closest sightings."""
    cosines = a.exemplars @ b.exemplars.T
    order = np.argsort(-cosines, axis=None)[:pairs]
    closest = [
        {"detection_a": a.exemplar_ids[i], "detection_b": b.exemplar_ids[j], "cosine": round(float(cosines[i, j]), 4)}
        for i, j in (np.unravel_index(k, cosines.shape) for k in order)
        if a.exemplar_ids[i] and b.exemplar_ids[j]
    ]
    first, second = _summary(con, a.deer_id), _summary(con, b.deer_id)
    shared = sorted(set(first.get("cameras", [])) & set(second.get("cameras", [])))
    return {"deer_a": first, "deer_b": second, "shared_cameras": shared, "closest_sightings": closest}


# ------------------------------------------------------------------------------------------ merge / undo


def _deer_state(con: pg8000.native.Connection, deer_id: int) -> dict[str, Any] | None:
    rows = con.run("SELECT to_jsonb(e) FROM deer e WHERE e.id = :id FOR UPDATE", id=deer_id)
    return rows[0][0] if rows else None


def _restore_deer(con: pg8000.native.Connection, deer_id: int, state: dict[str, Any]) -> None:
    columns = ", ".join(_DEER_STATE)
    con.run(f"UPDATE deer AS e SET ({columns}) = (SELECT {columns} FROM jsonb_populate_record(NULL::deer,"
            " CAST(:state AS JSONB))) WHERE e.id = :id", state=json.dumps(state), id=deer_id)


def merge(con: pg8000.native.Connection, kept_id: int, merged_id: int, *, method: str, actor: str,
          reason: str | None = None, score: float | None = None, threshold: float | None = None,
          max_exemplars: int | None = None) -> dict[str, Any]:
    """Merge deer `merged_id` into `kept_id`. Call in a transaction holding the gallery lock."""
    from deertrack.settings import get_settings

    max_exemplars = max_exemplars or get_settings().reid_max_exemplars
    kept_before, merged_before = _deer_state(con, kept_id), _deer_state(con, merged_id)
    if kept_before is None:
        raise NotFound(f"no deer {kept_id}")
    if merged_before is None:
        raise NotFound(f"no deer {merged_id}")
    for state in (kept_before, merged_before):
        if state["status"] == "merged":
            raise MergeRefused("not_merged", f"deer {state['id']} is already merged into deer {state['merged_into']}")
    evidence = {e.deer_id: e for e in load_evidence(con, [kept_id, merged_id])}
    a = evidence.get(kept_id) or _bare_evidence(con, kept_id, kept_before)
    b = evidence.get(merged_id) or _bare_evidence(con, merged_id, merged_before)
    why = merging.refusal(a, b, rejected_pairs(con) if method == "auto" else set())
    if why is not None:
        rule = "sex_match" if why.startswith("incompatible sex") else "same_photo" if "same photo" in why else \
            "not_same" if "not the same" in why else "distinct"
        raise MergeRefused(rule, f"deer {merged_id} cannot be merged into deer {kept_id}: {why}")
    if score is None and a.exemplars.size and b.exemplars.size:
        score = merging.pair_score(a, b)
    details = pair_evidence(con, a, b)
    moved = [r[0] for r in con.run("SELECT id FROM detections WHERE deer_id = :id ORDER BY id FOR UPDATE",
                                   id=merged_id)]
    kept_detections = [r[0] for r in con.run("SELECT id FROM detections WHERE deer_id = :id ORDER BY id", id=kept_id)]
    merge_id = con.run(
        "INSERT INTO deer_merges (kept_deer_id, merged_deer_id, method, actor, reason, score, threshold, evidence,"
        " moved_detection_ids, kept_detection_ids, kept_before, merged_before) VALUES (:kept, :merged, :method,"
        " :actor, :reason, :score, :threshold, CAST(:evidence AS JSONB), CAST(:moved AS BIGINT[]),"
        " CAST(:kept_ids AS BIGINT[]), CAST(:kept_before AS JSONB), CAST(:merged_before AS JSONB)) RETURNING id",
        kept=kept_id, merged=merged_id, method=method, actor=actor[:200], reason=reason,
        score=None if score is None or np.isnan(score) else round(float(score), 4),
        threshold=None if threshold is None else round(float(threshold), 4), evidence=json.dumps(details),
        moved=moved, kept_ids=kept_detections, kept_before=json.dumps(kept_before),
        merged_before=json.dumps(merged_before),
    )[0][0]
    # score log: archive both deer's rows of every touched detection, then fold them into one kept row
    con.run(f"INSERT INTO deer_merge_scores (merge_id, {_SCORE_COLUMNS}) SELECT :merge, {_SCORE_COLUMNS}"
            " FROM reid_similarity_scores WHERE deer_id IN (:kept, :merged)", merge=merge_id, kept=kept_id,
            merged=merged_id)
    union = merging.union(a, b, max_exemplars)
    # detections.updated_at is left as it was: the merge record says when and by whom (and undo is exact)
    con.run("UPDATE detections SET deer_id = :kept WHERE deer_id = :merged", kept=kept_id, merged=merged_id)
    relabelled = [r[0] for r in con.run(
        "UPDATE detection_truth SET individual_key = :to WHERE source = 'review' AND individual_key = :from"
        " RETURNING detection_id", to=review_individual_key(kept_id), **{"from": review_individual_key(merged_id)})]
    con.run("UPDATE deer_merges SET relabelled_truth_ids = CAST(:ids AS BIGINT[]) WHERE id = :id",
            ids=relabelled, id=merge_id)
    con.run("UPDATE deer SET status = 'merged', merged_into = :kept, sighting_count = 0, updated_at = now()"
            " WHERE id = :merged", kept=kept_id, merged=merged_id)
    con.run("UPDATE deer SET sex = :sex WHERE id = :kept", sex=union.sex, kept=kept_id)
    rebuild_deer(con, [kept_id])
    con.run("UPDATE deer SET exemplar_embeddings = :blob, exemplar_detection_ids = CAST(:ids AS BIGINT[])"
            " WHERE id = :kept", blob=exemplars_to_bytes(union.exemplars), ids=union.exemplar_ids, kept=kept_id)
    con.run(
        "INSERT INTO reid_similarity_scores (detection_id, deer_id, similarity_score, threshold_used, matched,"
        " sex_match, detection_classification, deer_sex, calculated_at)"
        " SELECT s.detection_id, :kept, max(s.similarity_score), max(s.threshold_used),"
        "        coalesce(bool_or(d.deer_id = :kept), FALSE),"
        "        (s.detection_classification = 'unknown' OR :sex = 'unknown'"
        "        OR s.detection_classification = :sex), s.detection_classification, :sex, now()"
        " FROM deer_merge_scores s JOIN detections d ON d.id = s.detection_id WHERE s.merge_id = :merge"
        " GROUP BY s.detection_id, s.detection_classification"
        " ON CONFLICT (detection_id, deer_id) DO UPDATE SET similarity_score = EXCLUDED.similarity_score,"
        "   threshold_used = EXCLUDED.threshold_used, matched = EXCLUDED.matched, sex_match = EXCLUDED.sex_match,"
        "   deer_sex = EXCLUDED.deer_sex, calculated_at = EXCLUDED.calculated_at",
        kept=kept_id, sex=union.sex, merge=merge_id,
    )
    con.run("DELETE FROM reid_similarity_scores WHERE deer_id = :merged", merged=merged_id)
    con.run("DELETE FROM deer_merge_candidates WHERE deer_a IN (:a, :b) OR deer_b IN (:a, :b)", a=kept_id, b=merged_id)
    logger.info("deer merged", extra={"merge_id": merge_id, "kept_deer_id": kept_id, "merged_deer_id": merged_id,
                                      "method": method, "actor": actor, "score": score, "moved_detections": len(moved)})
    return merge_view(con, merge_id)


def _bare_evidence(con: pg8000.native.Connection, deer_id: int, state: dict[str, Any]) -> merging.DeerEvidence:
    """A deer without a profile yet (no embedded detection): only its sex and photos count."""
    images = {int(r[0]) for r in con.run("SELECT DISTINCT image_id FROM detections WHERE deer_id = :id", id=deer_id)}
    return merging.DeerEvidence(deer_id=deer_id, sex=state["sex"], exemplars=np.zeros((0, 0), np.float32),
                                exemplar_ids=[], images=images, sightings=int(state["sighting_count"]))


def undo(con: pg8000.native.Connection, merge_id: int, actor: str) -> dict[str, Any]:
    """Undo merge `merge_id` exactly. Call in a transaction holding the gallery lock."""
    rows = rows_as_dicts(con, "SELECT * FROM deer_merges WHERE id = :id FOR UPDATE", id=merge_id)
    if not rows:
        raise NotFound(f"no merge {merge_id}")
    record = rows[0]
    if record["undone_at"] is not None:
        raise MergeRefused("not_undone", f"merge {merge_id} was already undone at {record['undone_at'].isoformat()}")
    kept_id, merged_id = record["kept_deer_id"], record["merged_deer_id"]
    later = con.run(
        "SELECT id FROM deer_merges WHERE id > :id AND undone_at IS NULL AND (kept_deer_id IN (:a, :b)"
        " OR merged_deer_id IN (:a, :b)) ORDER BY id DESC LIMIT 1", id=merge_id, a=kept_id, b=merged_id)
    if later:
        raise MergeRefused("undo_order", f"merge {later[0][0]} touches the same deer and came later; undo it first")
    moved = [int(i) for i in record["moved_detection_ids"]]
    con.run("UPDATE detections SET deer_id = :merged WHERE id = ANY(CAST(:ids AS BIGINT[])) AND deer_id = :kept",
            merged=merged_id, kept=kept_id, ids=moved)
    con.run("UPDATE detection_truth SET individual_key = :to WHERE detection_id = ANY(CAST(:ids AS BIGINT[]))",
            to=review_individual_key(merged_id), ids=[int(i) for i in record["relabelled_truth_ids"]])
    touched = [r[0] for r in con.run("SELECT DISTINCT detection_id FROM deer_merge_scores WHERE merge_id = :id",
                                     id=merge_id)]
    con.run("DELETE FROM reid_similarity_scores WHERE deer_id IN (:a, :b)"
            " AND detection_id = ANY(CAST(:ids AS BIGINT[]))", a=kept_id, b=merged_id, ids=touched)
    con.run(f"INSERT INTO reid_similarity_scores ({_SCORE_COLUMNS}) SELECT {_SCORE_COLUMNS} FROM deer_merge_scores"
            " WHERE merge_id = :id", id=merge_id)
    _restore_deer(con, merged_id, record["merged_before"])
    now_kept = [r[0] for r in con.run("SELECT id FROM detections WHERE deer_id = :id ORDER BY id", id=kept_id)]
    if now_kept == [int(i) for i in record["kept_detection_ids"]]:
        _restore_deer(con, kept_id, record["kept_before"])
    else:  # the kept deer gained or lost detections since: rebuild it from them
        con.run("UPDATE deer SET sex = :sex WHERE id = :id", sex=record["kept_before"]["sex"], id=kept_id)
        rebuild_deer(con, [kept_id, merged_id])
    con.run("UPDATE deer_merges SET undone_at = now(), undone_by = :actor WHERE id = :id", actor=actor[:200],
            id=merge_id)
    logger.info("deer merge undone", extra={"merge_id": merge_id, "kept_deer_id": kept_id,
                                           "merged_deer_id": merged_id, "actor": actor})
    return merge_view(con, merge_id)


def merge_view(con: pg8000.native.Connection, merge_id: int) -> dict[str, Any]:
    rows = rows_as_dicts(
        con, "SELECT id, kept_deer_id, merged_deer_id, method, actor, reason, score, threshold, evidence,"
             " cardinality(moved_detection_ids) AS moved_detections, created_at, undone_at, undone_by"
             " FROM deer_merges WHERE id = :id", id=merge_id)
    if not rows:
        raise NotFound(f"no merge {merge_id}")
    return _merge_json(rows[0])


def _merge_json(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for key in ("score", "threshold"):
        out[key] = None if out[key] is None else float(out[key])
    for key in ("created_at", "undone_at"):
        out[key] = out[key].isoformat() if out[key] else None
    out["undo_url"] = None if out["undone_at"] else f"/api/deer/merges/{out['id']}/undo"
    return out


def merge_history(con: pg8000.native.Connection, deer_id: int | None = None, limit: int = 100,
                  offset: int = 0) -> list[dict[str, Any]]:
    where = "" if deer_id is None else " WHERE kept_deer_id = :deer OR merged_deer_id = :deer"
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    if deer_id is not None:
        params["deer"] = deer_id
    rows = rows_as_dicts(
        con, "SELECT id, kept_deer_id, merged_deer_id, method, actor, reason, score, threshold, evidence,"
             " cardinality(moved_detection_ids) AS moved_detections, created_at, undone_at, undone_by"
             f" FROM deer_merges{where} ORDER BY id DESC LIMIT :limit OFFSET :offset", **params)
    return [_merge_json(r) for r in rows]


def candidate_page(con: pg8000.native.Connection, limit: int, offset: int) -> dict[str, Any]:
    """One page of the merge suggestions, best first: {total, limit, offset, next_offset, items}."""
    total = con.run("SELECT count(*) FROM deer_merge_candidates")[0][0]
    rows = con.run("SELECT deer_a, deer_b, score, evidence, computed_at FROM deer_merge_candidates"
                   " ORDER BY score DESC, deer_a, deer_b LIMIT :limit OFFSET :offset", limit=limit, offset=offset)
    items = [{"deer_a": a, "deer_b": b, "score": float(score), "evidence": evidence, "computed_at": at.isoformat(),
              "merge_url": f"/api/deer/{b}/merge", "not_same_url": f"/api/deer/{b}/not-same"}
             for a, b, score, evidence, at in rows]
    next_offset = offset + len(items) if offset + len(items) < total else None
    return {"total": total, "limit": limit, "offset": offset, "next_offset": next_offset, "items": items}


def not_same_by_hand(con: pg8000.native.Connection, a: int, b: int, actor: str,
                     note: str | None = None) -> dict[str, Any]:
    """A reviewer's "not the same animal" about two deer that exist (NotFound names the first missing one)."""
    known = {r[0] for r in con.run("SELECT id FROM deer WHERE id IN (:a, :b)", a=a, b=b)}
    for missing in sorted({a, b} - known):
        raise NotFound(f"no deer {missing}")
    record_not_same(con, a, b, actor, note)
    first, second = sorted((a, b))
    return {"deer_a": first, "deer_b": second, "decision": "not_same", "decided_by": actor}


def record_not_same(con: pg8000.native.Connection, a: int, b: int, actor: str, note: str | None = None) -> None:
    """A reviewer's "not the same animal": remembered, and the pair is no longer suggested."""
    first, second = merging.pair_key(a, b)
    con.run("INSERT INTO deer_pair_decisions (deer_a, deer_b, decision, decided_by, note) VALUES (:a, :b,"
            " 'not_same', :actor, :note) ON CONFLICT (deer_a, deer_b) DO UPDATE SET decided_by = EXCLUDED.decided_by,"
            " note = EXCLUDED.note, decided_at = now()", a=first, b=second, actor=actor[:200], note=note)
    con.run("DELETE FROM deer_merge_candidates WHERE deer_a = :a AND deer_b = :b", a=first, b=second)


# ------------------------------------------------------------------------------------------ the job


def run_merge_job(con: pg8000.native.Connection, *, auto: bool | None = None, dry_run: bool = False,
                  suggest_threshold: float | None = None, auto_threshold: float | None = None,
                  actor: str = SERVICE_ACTOR) -> MergeJobSummary:
    """Merge what reaches the auto-merge threshold (unless auto is off), then store the suggestions.

    One transaction under the gallery lock; with dry_run it rolls back and reports what it would do.
    """
    from deertrack.reid.assignment import lock_gallery
    from deertrack.settings import get_settings

    settings = get_settings()
    auto = settings.reid_auto_merge if auto is None else auto
    suggest = settings.reid_merge_suggest_threshold if suggest_threshold is None else suggest_threshold
    automatic = settings.reid_merge_auto_threshold if auto_threshold is None else auto_threshold
    summary = MergeJobSummary(auto=auto, dry_run=dry_run, suggest_threshold=suggest, auto_threshold=automatic)
    con.run("BEGIN")
    try:
        lock_gallery(con)
        deer = load_evidence(con)
        rejected = rejected_pairs(con)
        summary.deer = len(deer)
        if auto:
            plan, _ = merging.plan(deer, automatic, top_k=settings.reid_top_k,
                                   max_exemplars=settings.reid_max_exemplars, rejected=rejected)
            for step in plan.merges:
                done = merge(con, step.kept, step.merged, method="auto", actor=actor, score=step.score,
                             threshold=automatic, reason=f"auto-merge: score {step.score:.4f} >= {automatic:.4f}")
                summary.merges.append({"merge_id": done["id"], "kept_deer_id": step.kept,
                                       "merged_deer_id": step.merged, "score": step.score})
            deer = load_evidence(con)
        found = [c for c in merging.candidates(deer, suggest, top_k=settings.reid_top_k, rejected=rejected)
                 if c.allowed]
        by_id = {d.deer_id: d for d in deer}
        con.run("DELETE FROM deer_merge_candidates")
        for candidate in found:
            con.run("INSERT INTO deer_merge_candidates (deer_a, deer_b, score, evidence) VALUES"
                    " (:a, :b, :score, CAST(:evidence AS JSONB))", a=candidate.kept, b=candidate.merged,
                    score=candidate.score,
                    evidence=json.dumps(pair_evidence(con, by_id[candidate.kept], by_id[candidate.merged])))
        summary.candidates = len(found)
        con.run("ROLLBACK" if dry_run else "COMMIT")
    except BaseException:
        con.run("ROLLBACK")
        raise
    logger.info("merge job done", extra=summary.as_dict())
    return summary


def merge_by_hand(con: pg8000.native.Connection, merged_id: int, kept_id: int, actor: str,
                  reason: str | None = None) -> dict[str, Any]:
    from deertrack.reid.assignment import lock_gallery

    with transaction(con):
        lock_gallery(con)
        return merge(con, kept_id, merged_id, method="manual", actor=actor, reason=reason)


def undo_by_hand(con: pg8000.native.Connection, merge_id: int, actor: str) -> dict[str, Any]:
    from deertrack.reid.assignment import lock_gallery

    with transaction(con):
        lock_gallery(con)
        return undo(con, merge_id, actor)
