"""Re-identification end to end over the real services: POST /api/detections → reid message →
worker (process_one_message) → assignments, deer and the score log in PostgreSQL."""

from __future__ import annotations

import json

import numpy as np
import pytest

from deertrack import db
from deertrack.queues import receive
from deertrack.reid import crops
from deertrack.reid.vectors import normalize, to_bytes
from deertrack.settings import get_settings
from tests.conftest import reset_caches
from tests.reid_helpers import (
    STEADY_THRESHOLD,
    add_location,
    at,
    deer_photo,
    http,
    put_image,
    put_photo,
    record,
    run_reid_queue,
)

pytestmark = pytest.mark.integration


def _ingest(api: str, records: list[dict]) -> dict:
    status, body = http("POST", f"{api}/api/detections", {"images": records})
    assert status == 202, body
    return body


def _detections() -> list[dict]:
    with db.connection() as con:
        return db.rows_as_dicts(con, "SELECT d.*, i.captured_at FROM detections d JOIN images i ON i.id = d.image_id"
                                     " ORDER BY d.id")


def _score_rows(con, detection_id: int | None = None) -> int:
    if detection_id is None:
        return con.run("SELECT count(*) FROM reid_similarity_scores")[0][0]
    return con.run("SELECT count(*) FROM reid_similarity_scores WHERE detection_id = :d", d=detection_id)[0][0]


def _set_threshold(monkeypatch, value: float) -> None:
    monkeypatch.setenv("REID_MODEL_URI", "builtin")  # the thresholds here are the built-in embedder's
    monkeypatch.setenv("REID_THRESHOLD", str(value))
    reset_caches()


def test_batch_gives_one_message_and_every_detection_is_scored_against_every_deer(api, embedder, monkeypatch) -> None:
    _set_threshold(monkeypatch, STEADY_THRESHOLD)
    add_location("C1")
    add_location("C2")
    # two individuals, far apart in time: two new deer
    first = [
        record("c1/a.jpg", at(0), "C1", put_photo("c1/a.jpg", 0, 1)),
        record("c2/b.jpg", at(3600), "C2", put_photo("c2/b.jpg", 2, 1, location=1)),
    ]
    body = _ingest(api, first)
    assert len(body["reid_messages"]) == 1 and body["queued_detections"] == 2
    messages = receive(get_settings().reid_queue_name, wait_seconds=0, max_messages=10)
    assert len(messages) == 1
    assert json.loads(messages[0].body)["detection_ids"] == [d["detection_id"] for d in body["detections"]]
    from gpu_batch.reid.worker import process_one_message

    outcome = process_one_message(messages[0], embedder=embedder)
    assert outcome.status == "done"
    rows = _detections()
    assert [r["reid_status"] for r in rows] == ["new_deer", "new_deer"]
    with db.connection() as con:
        deer = db.rows_as_dicts(con, "SELECT * FROM deer ORDER BY id")
        assert [d["name"] for d in deer] == ["Deer-0001", "Deer-0002"]
        assert [d["sighting_count"] for d in deer] == [1, 1]
        # the first detection met an empty gallery; the second was scored against the first deer
        assert _score_rows(con, rows[0]["id"]) == 0
        assert _score_rows(con, rows[1]["id"]) == 1

    # three more sightings of the two known individuals, not in bursts: each scored against both deer
    second = [
        record("c1/c.jpg", at(7200), "C1", put_photo("c1/c.jpg", 0, 2)),
        record("c2/d.jpg", at(7300), "C2", put_photo("c2/d.jpg", 2, 2, location=1)),
        record("c1/e.jpg", at(7400), "C1", put_photo("c1/e.jpg", 0, 3)),
    ]
    body = _ingest(api, second)
    run_reid_queue(embedder)
    rows = _detections()
    new_ids = [d["detection_id"] for d in body["detections"]]
    assert [r["deer_id"] for r in rows if r["id"] in new_ids] == [1, 2, 1]
    assert all(r["embedding"] is not None and r["embedding_model"] == embedder.name for r in rows)
    with db.connection() as con:
        assert sum(_score_rows(con, i) for i in new_ids) == 3 * 2
        matched = con.run("SELECT detection_id, deer_id FROM reid_similarity_scores WHERE matched ORDER BY 1")
        assert [tuple(m) for m in matched] == [(new_ids[0], 1), (new_ids[1], 2), (new_ids[2], 1)]
        assert {float(r[0]) for r in con.run("SELECT threshold_used FROM reid_similarity_scores")} == {STEADY_THRESHOLD}
        deer = db.rows_as_dicts(con, "SELECT * FROM deer ORDER BY id")
        assert [d["sighting_count"] for d in deer] == [3, 2]
        assert [d["profile_embedding_count"] for d in deer] == [3, 2]
        assert deer[0]["first_seen"] == at(0) and deer[0]["last_seen"] == at(7400)


def test_redelivered_message_changes_nothing(api, embedder, monkeypatch) -> None:
    _set_threshold(monkeypatch, STEADY_THRESHOLD)
    add_location("C1")
    records = [record(f"r/{i}.jpg", at(100 * i), "C1", put_photo(f"r/{i}.jpg", i % 2, i)) for i in range(4)]
    _ingest(api, records)
    message = receive(get_settings().reid_queue_name, wait_seconds=0)[0]
    from gpu_batch.reid.worker import process_one_message

    process_one_message(message, embedder=embedder)

    def snapshot() -> tuple:
        with db.connection() as con:
            return (
                con.run("SELECT id, deer_id, burst_group, reid_status, embedding FROM detections ORDER BY id"),
                con.run("SELECT id, name, sighting_count, profile_embedding, profile_embedding_count FROM deer"
                        " ORDER BY id"),
                con.run("SELECT id, detection_id, deer_id, similarity_score, matched FROM reid_similarity_scores"
                        " ORDER BY id"),
            )

    before = snapshot()
    again = process_one_message(message, embedder=embedder)  # SQS delivered it a second time
    assert again.status == "done"
    assert len(again.summary.commit.already_done) == 4
    assert snapshot() == before


def _photo_and_profile_at_cosine_08(embedder) -> tuple[tuple[int, int, int, int], np.ndarray, np.ndarray, np.ndarray]:
    """Location C1 and photo t/a.jpg stored; (its box, its embedding, a unit vector orthogonal to the
    embedding, a deer profile with cosine similarity 0.8 to the embedding)."""
    add_location("C1")
    data, box = deer_photo(1, seed=5)
    put_image("t/a.jpg", data)
    vector = embedder.embed([crops.cut(crops.decode(data), box).image])[0]
    other = normalize(np.random.default_rng(3).normal(size=vector.shape).astype(np.float32))
    other = normalize(other - np.dot(other, vector) * vector)
    return box, vector, other, normalize(0.8 * vector + 0.6 * other)


def test_score_exactly_at_threshold_matches(api, embedder, monkeypatch) -> None:
    # a deer whose profile has cosine similarity exactly 0.8 with the detection's embedding
    box, vector, other, profile = _photo_and_profile_at_cosine_08(embedder)
    score = float(np.dot(vector, profile))
    assert round(score, 4) == 0.8
    with db.connection() as con:
        con.run("INSERT INTO deer (name, sex, profile_embedding, profile_embedding_count) VALUES "
                "('Edge', 'unknown', :p, 1), ('Edge-above', 'unknown', :q, 1)",
                p=to_bytes(profile), q=to_bytes(normalize(0.7 * vector + 0.714 * other)))
    _set_threshold(monkeypatch, 0.8)
    _ingest(api, [record("t/a.jpg", at(0), "C1", box)])
    run_reid_queue(embedder)
    row = _detections()[0]
    assert row["reid_status"] == "assigned" and row["deer_id"] == 1
    with db.connection() as con:
        logged = con.run("SELECT similarity_score, threshold_used, matched FROM reid_similarity_scores"
                         " WHERE deer_id = 1")[0]
    assert float(logged[0]) == 0.8 and float(logged[1]) == 0.8 and logged[2] is True


def test_score_just_below_threshold_makes_a_new_deer(api, embedder, monkeypatch) -> None:
    box, _, _, profile = _photo_and_profile_at_cosine_08(embedder)
    with db.connection() as con:
        con.run("INSERT INTO deer (name, sex, profile_embedding, profile_embedding_count) VALUES ('Edge', 'unknown',"
                " :p, 1)", p=to_bytes(profile))
    _set_threshold(monkeypatch, 0.8001)
    _ingest(api, [record("t/a.jpg", at(0), "C1", box)])
    run_reid_queue(embedder)
    row = _detections()[0]
    assert row["reid_status"] == "new_deer" and row["deer_id"] == 2
    assert "0.8000 < threshold 0.8001" in row["reid_note"]


def test_sex_filtering(api, embedder, monkeypatch) -> None:
    _set_threshold(monkeypatch, STEADY_THRESHOLD)
    add_location("C1")
    box_a = put_photo("s/a.jpg", 0, 1)
    box_b = put_photo("s/b.jpg", 0, 2)
    box_c = put_photo("s/c.jpg", 0, 3)
    _ingest(api, [record("s/a.jpg", at(0), "C1", box_a, "buck")])
    run_reid_queue(embedder)
    # the same-looking animal classified as a doe may not join the buck; 'unknown' may
    _ingest(api, [record("s/b.jpg", at(600), "C1", box_b, "doe"), record("s/c.jpg", at(1200), "C1", box_c)])
    run_reid_queue(embedder)
    rows = _detections()
    assert rows[0]["deer_id"] == 1
    assert rows[1]["reid_status"] == "new_deer" and rows[1]["deer_id"] == 2
    assert rows[2]["reid_status"] == "assigned"
    with db.connection() as con:
        deer_sex = dict(con.run("SELECT id, sex FROM deer"))
        pairs = con.run("SELECT detection_id, deer_id, sex_match, detection_classification, deer_sex"
                        " FROM reid_similarity_scores ORDER BY detection_id, deer_id")
    assert deer_sex == {1: "buck", 2: "doe"}
    assert [tuple(p) for p in pairs] == [
        (rows[1]["id"], 1, False, "doe", "buck"),
        (rows[2]["id"], 1, True, "unknown", "buck"),
        (rows[2]["id"], 2, True, "unknown", "doe"),
    ]


def test_burst_shares_one_assignment_even_across_batches(api, embedder, monkeypatch) -> None:
    _set_threshold(monkeypatch, 0.9999)  # nothing would match on its score alone
    add_location("C1")
    add_location("C2")
    burst = [record(f"b/{i}.jpg", at(2 * i), "C1", put_photo(f"b/{i}.jpg", i, i)) for i in range(3)]
    elsewhere = record("b/x.jpg", at(2), "C2", put_photo("b/x.jpg", 0, 9, location=1))
    _ingest(api, [*burst, elsewhere])
    run_reid_queue(embedder)
    # a fourth photo 4 s after the last one, arriving in a later batch, joins the same burst
    late = record("b/3.jpg", at(8), "C1", put_photo("b/3.jpg", 4, 4))
    _ingest(api, [late])
    # and one 6 s after it is a new burst
    _ingest(api, [record("b/4.jpg", at(14), "C1", put_photo("b/4.jpg", 3, 4))])
    run_reid_queue(embedder)
    rows = _detections()
    burst_rows, other, late_row, next_burst = rows[:3], rows[3], rows[4], rows[5]
    assert len({r["deer_id"] for r in burst_rows}) == 1
    assert len({r["burst_group"] for r in burst_rows}) == 1
    assert late_row["deer_id"] == burst_rows[0]["deer_id"]
    assert late_row["burst_group"] == burst_rows[0]["burst_group"]
    assert other["deer_id"] != burst_rows[0]["deer_id"]
    assert next_burst["burst_group"] != burst_rows[0]["burst_group"]
    with db.connection() as con:
        deer = db.rows_as_dicts(con, "SELECT id, sighting_count FROM deer ORDER BY id")
    assert {d["id"]: d["sighting_count"] for d in deer}[burst_rows[0]["deer_id"]] == 4


def test_two_deer_in_one_photo_are_never_merged_by_the_burst(api, embedder, monkeypatch) -> None:
    _set_threshold(monkeypatch, 0.9999)
    add_location("C1")
    data, box = deer_photo(0, seed=1)
    put_image("two/a.jpg", data)
    x, y, w, h = box
    rec = record("two/a.jpg", at(0), "C1", box)
    rec["boxes"].append({"x": 0, "y": 0, "width": 60, "height": 50, "confidence": 0.5, "classification": "fawn"})
    _ingest(api, [rec])
    run_reid_queue(embedder)
    rows = _detections()
    assert rows[0]["deer_id"] != rows[1]["deer_id"]
    assert rows[0]["burst_group"] != rows[1]["burst_group"]


def test_small_crop_is_skipped_and_missing_image_fails_with_reason(api, embedder) -> None:
    from deertrack.aws import client

    add_location("C1")
    data, box = deer_photo(0, seed=1)
    put_image("k/a.jpg", data)
    put_image("k/b.jpg", data)
    _ingest(api, [record("k/a.jpg", at(0), "C1", (10, 10, 12, 40)), record("k/b.jpg", at(60), "C1", box)])
    client("s3").delete_object(Bucket=get_settings().images_bucket, Key="k/b.jpg")
    run_reid_queue(embedder)
    small, missing = _detections()
    assert small["reid_status"] == "skipped" and "smaller than the minimum 16 px" in small["reid_note"]
    assert missing["reid_status"] == "failed" and "does not exist" in missing["reid_note"]
    assert small["deer_id"] is None and missing["deer_id"] is None


def test_a_covered_crop_that_matches_no_deer_is_left_for_review_not_made_a_deer(api, embedder, monkeypatch) -> None:
    _set_threshold(monkeypatch, 0.9999)
    monkeypatch.setenv("REID_CROP_MAX_OVERLAP", "0.3")
    monkeypatch.setenv("REID_CROP_EDGE_MARGIN", "0")
    reset_caches()
    add_location("C1")
    data, box = deer_photo(0, seed=1)
    put_image("cover/a.jpg", data)
    x, y, w, h = box
    rec = record("cover/a.jpg", at(0), "C1", box)
    # a second animal's box lying mostly across the first: 100% of it is covered, it covers little of the first
    rec["boxes"].append({"x": x + 10, "y": y + 10, "width": w // 3, "height": h // 2, "confidence": 0.9,
                         "classification": "unknown"})
    _ingest(api, [rec])
    message = receive(get_settings().reid_queue_name, wait_seconds=0)[0]
    from gpu_batch.reid.worker import process_one_message

    process_one_message(message, embedder=embedder)
    whole, covered = _detections()
    assert whole["reid_status"] == "new_deer" and whole["deer_id"] is not None
    assert covered["reid_status"] == "needs_review" and covered["deer_id"] is None
    assert f"crop too poor to found a new deer: 100% of its box is covered by detection {whole['id']}" \
        in covered["reid_note"]
    with db.connection() as con:
        assert con.run("SELECT count(*) FROM deer")[0][0] == 1
        assert _score_rows(con, covered["id"]) == 1  # scored against the one deer, matched to none
        # a person decides it; a redelivered batch changes nothing
        before = db.rows_as_dicts(con, "SELECT id, reid_status, deer_id, reid_note FROM detections ORDER BY id")
    process_one_message(message, embedder=embedder)  # SQS delivered it a second time
    with db.connection() as con:
        assert db.rows_as_dicts(con, "SELECT id, reid_status, deer_id, reid_note FROM detections ORDER BY id") == before
