"""Merges over real PostgreSQL: merge then undo restores every row exactly, the rules refuse what they
must, the merge job merges splits and stores suggestions, and the API in front of it (deertrack.reid.merges)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from deertrack import db
from deertrack.reid import merges
from deertrack.reid.assignment import commit_batch, lock_gallery
from deertrack.reid.bursts import Pending
from deertrack.reid.vectors import normalize
from tests.conftest import reset_caches
from tests.reid_helpers import add_location, at, http, run_reid_queue

pytestmark = pytest.mark.integration


def _vector(direction: int, noise: float, seed: int, dim: int = 16) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.zeros(dim, np.float32)
    base[direction] = 1.0
    return normalize(base + rng.normal(0, noise, dim).astype(np.float32))


def _detections(con: Any, specs: list[tuple[int, str, np.ndarray, float]]) -> list[Pending]:
    """specs: (image number, class, embedding, seconds); one row each, pending."""
    location = con.run("SELECT id FROM locations LIMIT 1")[0][0]
    images: dict[int, int] = {}
    out = []
    for number, cls, vector, seconds in specs:
        if number not in images:
            images[number] = con.run("INSERT INTO images (s3_key, location_id, captured_at, width, height) VALUES"
                                     " (:k, :l, :t, 640, 480) RETURNING id", k=f"m/{number}.jpg", l=location,
                                     t=at(seconds))[0][0]
        detection = con.run("INSERT INTO detections (image_id, bbox_x, bbox_y, bbox_width, bbox_height, confidence,"
                            " classification) VALUES (:i, 10, 10, 100, 80, 0.95, :c) RETURNING id",
                            i=images[number], c=cls)[0][0]
        out.append(Pending(detection, images[number], location, at(seconds), cls, vector))
    return out


def _snapshot(con: Any) -> dict[str, Any]:
    return {
        "deer": con.run("SELECT to_jsonb(e) FROM deer e ORDER BY id"),
        "detections": con.run("SELECT id, deer_id, reid_status, burst_group, updated_at FROM detections ORDER BY id"),
        "scores": con.run("SELECT id, detection_id, deer_id, similarity_score, threshold_used, matched, sex_match,"
                          " detection_classification, deer_sex, calculated_at FROM reid_similarity_scores ORDER BY id"),
        "truth": con.run("SELECT detection_id, individual_key, source FROM detection_truth ORDER BY detection_id"),
    }


@pytest.fixture
def split(stack) -> Any:
    """Three deer that are one doe (A, split at a threshold no score reaches), another doe (B), a buck
    looking just like A (C) and a doe seen in the same photo as A's first deer (D)."""
    add_location("M1")
    with db.connection() as con:
        specs = [(1, "doe", _vector(0, 0.05, 1), 0), (2, "doe", _vector(0, 0.05, 2), 600),
                 (3, "doe", _vector(0, 0.05, 3), 1200), (4, "doe", _vector(1, 0.05, 4), 1800),
                 (5, "buck", _vector(0, 0.05, 5), 2400), (1, "doe", _vector(2, 0.05, 6), 0)]
        pending = _detections(con, specs)
        commit_batch(con, pending, threshold=0.9999, model_name="test")
        deer_of = dict(con.run("SELECT id, deer_id FROM detections"))
        con.run("INSERT INTO detection_truth (detection_id, individual_key, source) VALUES (:d, :k, 'review')",
                d=pending[1].detection_id, k=f"deer-{deer_of[pending[1].detection_id]}")
        yield con, [deer_of[p.detection_id] for p in pending], pending


def test_merge_then_undo_restores_every_row_exactly(split) -> None:
    con, deer, pending = split
    a1, a2 = deer[0], deer[1]
    before = _snapshot(con)
    with db.transaction(con):
        lock_gallery(con)
        record = merges.merge(con, a1, a2, method="manual", actor="tester", reason="same doe")
    assert record["kept_deer_id"] == a1 and record["merged_deer_id"] == a2 and record["moved_detections"] == 1
    status, into, count = con.run("SELECT status, merged_into, sighting_count FROM deer WHERE id = :i", i=a2)[0]
    assert (status, into, count) == ("merged", a1, 0)
    assert con.run("SELECT sighting_count FROM deer WHERE id = :i", i=a1)[0][0] == 2
    assert con.run("SELECT count(*) FROM detections WHERE deer_id = :i", i=a2)[0][0] == 0
    # the score log follows: no rows for the merged deer, one kept row per touched detection, matched
    assert con.run("SELECT count(*) FROM reid_similarity_scores WHERE deer_id = :i", i=a2)[0][0] == 0
    assert con.run("SELECT matched FROM reid_similarity_scores WHERE deer_id = :k AND detection_id = :d",
                   k=a1, d=pending[1].detection_id) == [[True]]
    assert con.run("SELECT max(n) FROM (SELECT count(*) AS n FROM reid_similarity_scores"
                   " GROUP BY detection_id, deer_id) c")[0][0] == 1
    # reviewed truth follows the detections
    assert con.run("SELECT individual_key FROM detection_truth")[0][0] == f"deer-{a1}"
    exemplar_ids = con.run("SELECT exemplar_detection_ids FROM deer WHERE id = :i", i=a1)[0][0]
    assert sorted(exemplar_ids) == sorted([pending[0].detection_id, pending[1].detection_id])
    assert merges.merge_history(con, a2)[0]["id"] == record["id"]

    with db.transaction(con):
        lock_gallery(con)
        undone = merges.undo(con, record["id"], "tester")
    assert undone["undone_at"] is not None and undone["undo_url"] is None
    assert _snapshot(con) == before
    with db.transaction(con), pytest.raises(merges.MergeRefused, match="already undone"):
        merges.undo(con, record["id"], "tester")


def test_no_merge_joins_incompatible_sexes_or_deer_seen_in_one_photo(split) -> None:
    con, deer, _ = split
    before = _snapshot(con)
    for kept, merged, rule in ((deer[0], deer[4], "sex_match"), (deer[0], deer[5], "same_photo")):
        with pytest.raises(merges.MergeRefused) as refused, db.transaction(con):
            merges.merge(con, kept, merged, method="manual", actor="tester")
        assert refused.value.rule == rule
    assert _snapshot(con) == before
    # the merge job never proposes them either, however alike their sightings are
    summary = merges.run_merge_job(con, auto=True, suggest_threshold=0.0, auto_threshold=0.5)
    merged_pairs = {(m["kept_deer_id"], m["merged_deer_id"]) for m in summary.merges}
    assert not merged_pairs & {(deer[0], deer[4]), (deer[0], deer[5])}
    for a, b in con.run("SELECT deer_a, deer_b FROM deer_merge_candidates"):
        sexes = {r[0] for r in con.run("SELECT sex FROM deer WHERE id IN (:a, :b)", a=a, b=b)}
        assert sexes != {"buck", "doe"}


def test_merge_job_merges_splits_suggests_the_rest_and_changes_nothing_twice(split) -> None:
    con, deer, _ = split
    dry = merges.run_merge_job(con, auto=True, dry_run=True, suggest_threshold=0.2, auto_threshold=0.9)
    assert dry.merges and con.run("SELECT count(*) FROM deer_merges")[0][0] == 0  # a dry run writes nothing
    summary = merges.run_merge_job(con, auto=True, suggest_threshold=0.2, auto_threshold=0.9)
    merged = {m["merged_deer_id"] for m in summary.merges}
    assert merged == {deer[1], deer[2]}  # A's splits join A's first deer; B, the buck and D stay
    assert con.run("SELECT sighting_count FROM deer WHERE id = :i", i=deer[0])[0][0] == 3
    assert con.run("SELECT count(*) FROM deer_merges WHERE method = 'auto' AND actor = :a",
                   a=merges.SERVICE_ACTOR)[0][0] == 2
    again = merges.run_merge_job(con, auto=True, suggest_threshold=0.2, auto_threshold=0.9)
    assert again.merges == []
    assert all(0.2 <= float(s) < 0.9 for (s,) in con.run("SELECT score FROM deer_merge_candidates"))
    # auto-merge off: only suggestions
    assert merges.run_merge_job(con, auto=False, suggest_threshold=0.0, auto_threshold=0.0).merges == []


def test_merge_api_by_hand_undo_not_same_and_the_queued_job(api, split, monkeypatch) -> None:
    con, deer, _ = split
    status, body = http("POST", f"{api}/api/deer/{deer[1]}/merge", {"into_deer_id": deer[0], "reason": "same"})
    assert status == 200 and body["kept_deer_id"] == deer[0] and body["method"] == "manual"
    status, body = http("POST", f"{api}/api/deer/{deer[1]}/merge", {"into_deer_id": deer[0]})
    assert status == 409 and body["details"][0]["rule"] == "not_merged"
    status, body = http("POST", f"{api}/api/deer/{deer[4]}/merge", {"into_deer_id": deer[0]})
    assert status == 409 and body["details"][0]["rule"] == "sex_match"
    status, body = http("POST", f"{api}/api/deer/{deer[2]}/merge", {"into_deer_id": deer[2]})
    assert status == 400 and body["details"][0]["field"] == "into_deer_id"
    status, body = http("POST", f"{api}/api/deer/{deer[2]}/merge", {"into": 1})
    assert status == 400 and {d["field"] for d in body["details"]} == {"into", "into_deer_id"}
    status, body = http("POST", f"{api}/api/deer/999/merge", {"into_deer_id": deer[0]})
    assert status == 404
    status, history = http("GET", f"{api}/api/deer/merges?deer_id={deer[0]}")
    assert status == 200 and [m["merged_deer_id"] for m in history["items"]] == [deer[1]]
    status, body = http("POST", f"{api}{history['items'][0]['undo_url']}")
    assert status == 200 and body["undone_at"]
    assert con.run("SELECT status FROM deer WHERE id = :i", i=deer[1])[0][0] == "active"

    status, body = http("POST", f"{api}/api/deer/{deer[2]}/not-same", {"other_deer_id": deer[0]})
    assert status == 200 and body["decision"] == "not_same"
    monkeypatch.setenv("REID_MERGE_AUTO_THRESHOLD", "0.9")
    monkeypatch.setenv("REID_MERGE_SUGGEST_THRESHOLD", "0.2")
    monkeypatch.setenv("REID_AUTO_MERGE", "true")
    reset_caches()
    status, accepted = http("POST", f"{api}/api/deer/merge-job", {})
    assert status == 202 and accepted["status"] == "queued"
    assert [o.status for o in run_reid_queue()] == ["done"]
    status, job = http("GET", f"{api}{accepted['status_url']}")
    assert status == 200 and job["status"] == "completed"
    # one of A's splits joins the other: A's third deer and its first were said not to be one animal
    assert job["result"]["merged"] == 1
    after = dict(con.run("SELECT id, coalesce(merged_into, id) FROM deer"))
    assert after[deer[0]] != after[deer[2]]
    status, candidates = http("GET", f"{api}/api/deer/merge-candidates")
    assert status == 200 and all(c["score"] >= 0.2 for c in candidates["items"])
    status, body = http("POST", f"{api}/api/deer/merge-job", {"auto": "yes please"})
    assert status == 400 and body["details"][0]["field"] == "auto"


def test_the_evaluation_replays_merges_as_the_merge_job_makes_them(stack) -> None:
    """The same detections through the worker's commit and the merge job (PostgreSQL), and through the
    in-memory replay of `deertrack reid evaluate`: the same deer, the same merges."""
    from gpu_batch.reid import evaluation

    add_location("M1")
    specs = []
    for k in range(30):  # 3 does, 10 sightings each, 10 minutes apart, noisy enough to split at 0.95
        individual = k % 3
        specs.append((k, "doe", _vector(individual, 0.12, 100 + k), 600 * k))
    with db.connection() as con:
        pending = _detections(con, specs)
        commit_batch(con, pending, threshold=0.95, model_name="test")
        created = con.run("SELECT count(*) FROM deer")[0][0]
        summary = merges.run_merge_job(con, auto=True, suggest_threshold=0.5, auto_threshold=0.8)
        stored = dict(con.run("SELECT id, deer_id FROM detections"))
    labelled = [evaluation.Labelled(p, f"doe-{k % 3}") for k, p in enumerate(pending)]
    replay = evaluation.replay(labelled, 0.95, 0.8)
    assert replay.created == created and replay.merges == len(summary.merges) > 0

    def partition(deer_of: dict[int, int]) -> set[frozenset[int]]:
        groups: dict[int, set[int]] = {}
        for detection, deer_id in deer_of.items():
            groups.setdefault(deer_id, set()).add(detection)
        return {frozenset(g) for g in groups.values()}

    assert partition(replay.deer_of) == partition(stored)
