"""Detection ingest validation and the review / read API over HTTP, with real PostgreSQL, SQS and S3."""

from __future__ import annotations

import base64
import threading

import numpy as np
import pytest

from deertrack import db
from deertrack.reid.vectors import from_bytes, normalize
from gpu_batch.reid.pipeline import reidentify
from tests.conftest import reset_caches
from tests.reid_helpers import (
    STEADY_THRESHOLD,
    add_location,
    at,
    deer_photo,
    http,
    put_photo,
    record,
    run_reid_queue,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def strict(monkeypatch):
    monkeypatch.setenv("REID_MODEL_URI", "builtin")  # steady scores on deer_photo (reid_helpers)
    monkeypatch.setenv("REID_THRESHOLD", str(STEADY_THRESHOLD))
    reset_caches()


def test_bad_records_are_reported_and_the_rest_goes_in(api) -> None:
    add_location("C1")
    good_box = put_photo("v/good.jpg", 0, 1)
    put_photo("v/other.jpg", 1, 1)
    x, y, w, h = good_box
    records = [
        record("v/good.jpg", at(0), "C1", good_box),
        record("v/missing.jpg", at(10), "C1", good_box),
        record("v/good2.jpg", at(20), "NOPE", good_box),
        {**record("v/other.jpg", at(30), "C1", good_box),
         "boxes": [{"x": x, "y": y, "width": w, "height": h, "confidence": 0.8, "classification": "doe"},
                   {"x": 5, "y": 5, "width": -3, "height": 10, "confidence": 0.8},
                   {"x": 400, "y": 300, "width": 200, "height": 100, "confidence": 0.8},
                   {"x": 5, "y": 5, "width": 30, "height": 30, "confidence": 1.5, "classification": "moose"}]},
        {"image_key": "v/good.jpg", "captured_at": "2024-06-01T05:00:00", "location_code": "C1"},
    ]
    status, body = http("POST", f"{api}/api/detections", {"images": records})
    assert status == 207, body
    fields = {(d["field"], d["rule"]) for d in body["details"]}
    assert ("images[1].image_key", "exists") in fields
    assert ("images[2].location_code", "known_location") in fields
    assert ("images[3].boxes[1].width", "minimum") in fields
    assert ("images[3].boxes[2]", "within_image") in fields
    assert ("images[3].boxes[3].confidence", "maximum") in fields
    assert ("images[3].boxes[3].classification", "enum") in fields
    assert ("images[4].captured_at", "timezone_aware") in fields
    assert all(d["message"].startswith(d["field"]) for d in body["details"])
    assert [d["record"] for d in body["detections"]] == ["images[0].boxes[0]", "images[3].boxes[0]"]
    assert body["queued_detections"] == 2 and len(body["reid_messages"]) == 1


def test_nothing_valid_is_a_400_naming_every_problem(api) -> None:
    add_location("C1")
    status, body = http("POST", f"{api}/api/detections", {"images": [record("nope.jpg", at(0), "C1", (0, 0, 9, 9)),
                                                                       {"captured_at": "x"}]})
    assert status == 400
    assert body["error"] == "validation_error"
    fields = {d["field"] for d in body["details"]}
    assert {"images[0].image_key", "images[1].captured_at"} <= fields
    for payload, field in (({}, "images"), ([], "body"), ({"images": [], "x": 1}, "x")):
        status, body = http("POST", f"{api}/api/detections", payload)
        assert status == 400 and body["details"][0]["field"] == field, body
    status, body = http("POST", f"{api}/api/detections", b"{not json")
    assert status == 400 and body["details"][0]["rule"] == "json"


def test_upload_and_resubmission_store_nothing_twice(api) -> None:
    add_location("C1")
    data, box = deer_photo(2, seed=1)
    x, y, w, h = box
    upload = {"image_base64": base64.b64encode(data).decode(), "filename": "IMG_0001.JPG",
              "captured_at": at(0).isoformat(), "location_code": "C1",
              "boxes": [{"x": x, "y": y, "width": w, "height": h, "confidence": 0.7, "classification": "fawn"}]}
    status, first = http("POST", f"{api}/api/detections", {"images": [upload]})
    assert status == 202, first
    status, second = http("POST", f"{api}/api/detections", {"images": [upload]})
    assert status == 202
    assert second["detections"][0] == {**first["detections"][0], "duplicate": True}
    with db.connection() as con:
        assert con.run("SELECT count(*) FROM detections")[0][0] == 1
        key = con.run("SELECT s3_key FROM images")[0][0]
    assert key.startswith("uploads/") and key.endswith("/IMG_0001.JPG")
    status, body = http("POST", f"{api}/api/detections", {"images": [{**upload, "image_base64": "%%%%"}]})
    assert status == 400 and body["details"][0]["rule"] == "base64"


def test_two_workers_at_once_never_make_two_deer_for_one_burst(api, embedder, strict) -> None:
    add_location("C1")
    boxes = [put_photo(f"w/{i}.jpg", 3, i) for i in range(4)]
    ids = []
    for i, box in enumerate(boxes):  # four single-photo batches of one burst
        status, body = http("POST", f"{api}/api/detections", {"images": [record(f"w/{i}.jpg", at(i), "C1", box)]})
        ids.append(body["detections"][0]["detection_id"])
    errors: list[BaseException] = []

    def work(detection_id: int) -> None:
        try:
            reidentify([detection_id], embedder=embedder)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with db.connection() as con:
        assert con.run("SELECT count(*) FROM deer")[0][0] == 1
        assert con.run("SELECT count(DISTINCT burst_group), count(DISTINCT deer_id) FROM detections")[0] == [1, 1]
        assert con.run("SELECT sighting_count FROM deer")[0][0] == 4


def _three_deer(api, embedder) -> list[dict]:
    """Deer 1 (individual 0, two sightings), deer 2 (individual 1), deer 3 (individual 2, a buck)."""
    add_location("C1")
    add_location("C2")
    recs = [
        record("p/a.jpg", at(0), "C1", put_photo("p/a.jpg", 0, 1), "doe"),
        record("p/b.jpg", at(600), "C1", put_photo("p/b.jpg", 1, 1)),
        record("p/c.jpg", at(1200), "C2", put_photo("p/c.jpg", 0, 2)),
        record("p/d.jpg", at(86400 * 8), "C2", put_photo("p/d.jpg", 2, 1), "buck"),
    ]
    status, body = http("POST", f"{api}/api/detections", {"images": recs})
    assert status == 202
    run_reid_queue(embedder)
    with db.connection() as con:
        return db.rows_as_dicts(con, "SELECT id, deer_id, reid_status FROM detections ORDER BY id")


def test_read_api(api, embedder, strict) -> None:
    rows = _three_deer(api, embedder)
    assert [r["deer_id"] for r in rows] == [1, 2, 1, 3]
    status, view = http("GET", f"{api}/api/detections/{rows[2]['id']}")
    assert status == 200
    assert view["deer"]["id"] == 1 and view["reid"]["status"] == "assigned"
    assert view["image"]["location"]["code"] == "C2"
    assert [c["deer_id"] for c in view["candidates"]][0] == 1 and len(view["candidates"]) == 2
    assert view["candidates"][0]["matched"] is True and view["candidates"][0]["score"] >= STEADY_THRESHOLD

    status, scores = http("GET", f"{api}/api/reid/scores?detection_id={rows[3]['id']}")
    assert status == 200 and scores["count"] == 2
    assert {s["deer_id"]: s["sex_match"] for s in scores["scores"]} == {1: False, 2: True}
    assert scores["scores"][0]["score"] >= scores["scores"][1]["score"]

    status, page = http("GET", f"{api}/api/deer?limit=2")
    assert status == 200 and page["total"] == 3 and page["next_offset"] == 2 and len(page["items"]) == 2
    status, page = http("GET", f"{api}/api/deer?limit=2&offset=2")
    assert [d["id"] for d in page["items"]] == [3] and page["next_offset"] is None
    status, page = http("GET", f"{api}/api/deer?sex=buck")
    assert [d["name"] for d in page["items"]] == ["Deer-0003"]
    status, page = http("GET", f"{api}/api/deer?min_sightings=2&status=active")
    assert [d["id"] for d in page["items"]] == [1]

    status, deer = http("GET", f"{api}/api/deer/1?by=week")
    assert status == 200 and deer["sighting_count"] == 2
    assert deer["timeline"]["by"] == "week" and sum(e["detections"] for e in deer["timeline"]["entries"]) == 2
    assert {c["code"]: c["detections"] for c in deer["cameras"]} == {"C1": 1, "C2": 1}
    status, deer = http("GET", f"{api}/api/deer/1")
    assert [e["period"] for e in deer["timeline"]["entries"]] == ["2024-06-01"]

    for url, field in (("/api/deer?sex=moose", "sex"), ("/api/deer?limit=0", "limit"),
                       ("/api/deer?colour=red", "colour"), ("/api/reid/scores", "detection_id"),
                       ("/api/reid/scores?detection_id=x", "detection_id"), ("/api/detections/abc", "detection_id"),
                       ("/api/deer/0", "deer_id")):
        status, body = http("GET", api + url)
        assert status == 400 and body["details"][0]["field"] == field, (url, body)
    for url in ("/api/detections/999", "/api/deer/999", "/api/reid/scores?detection_id=999"):
        status, body = http("GET", api + url)
        assert status == 404 and body["error"] == "not_found"


def _deer(con, deer_id: int) -> dict:
    return db.rows_as_dicts(con, "SELECT * FROM deer WHERE id = :i", i=deer_id)[0]


def _mean_profile(con, deer_id: int) -> np.ndarray:
    blobs = [r[0] for r in con.run("SELECT embedding FROM detections WHERE deer_id = :d AND is_valid", d=deer_id)]
    return normalize(np.mean([from_bytes(b) for b in blobs], axis=0))


def test_patch_corrections_move_counts_and_profiles(api, embedder, strict) -> None:
    rows = _three_deer(api, embedder)
    moved = rows[2]["id"]
    status, body = http("PATCH", f"{api}/api/detections/{moved}", {"deer_id": 2, "corrected_classification": "doe"})
    assert status == 200, body
    assert body["deer"]["id"] == 2 and body["effective_classification"] == "doe"
    assert body["truth"] == {"individual_key": "deer-2", "source": "review"}
    assert body["review"]["deer_rebuilt"] == [1, 2]
    with db.connection() as con:
        one, two = _deer(con, 1), _deer(con, 2)
        assert (one["sighting_count"], two["sighting_count"]) == (1, 2)
        assert one["last_seen"] == at(0) and two["last_seen"] == at(1200)
        assert two["profile_embedding_count"] == 2
        assert np.allclose(from_bytes(two["profile_embedding"]), _mean_profile(con, 2), atol=1e-6)
        assert np.allclose(from_bytes(one["profile_embedding"]), _mean_profile(con, 1), atol=1e-6)

    status, body = http("PATCH", f"{api}/api/detections/{rows[1]['id']}", {"is_valid": False})
    assert status == 200 and body["is_valid"] is False
    with db.connection() as con:
        two = _deer(con, 2)
        assert two["sighting_count"] == 1 and two["first_seen"] == at(1200)
        assert np.allclose(from_bytes(two["profile_embedding"]), _mean_profile(con, 2), atol=1e-6)
    status, body = http("PATCH", f"{api}/api/detections/{rows[1]['id']}", {"is_valid": True})
    with db.connection() as con:
        assert _deer(con, 2)["sighting_count"] == 2

    for payload, field, rule in (({}, "body", "value_error"), ({"deer_id": 99}, "deer_id", "known_deer"),
                                 ({"corrected_classification": "elk"}, "corrected_classification", "enum"),
                                 ({"is_valid": None}, "body", "value_error"),
                                 ({"colour": 1}, "colour", "unknown_field"),
                                 ({"deer_id": 3}, "deer_id", "sex_match")):  # a doe detection, deer 3 a buck
        status, body = http("PATCH", f"{api}/api/detections/{moved}", payload)
        assert status == 400 and (body["details"][0]["field"], body["details"][0]["rule"]) == (field, rule), body
    # the same reassignment with the classification corrected in the same request is accepted
    status, body = http("PATCH", f"{api}/api/detections/{moved}", {"deer_id": 3, "corrected_classification": "buck"})
    assert status == 200 and body["deer"]["id"] == 3 and body["effective_classification"] == "buck", body
    status, body = http("PATCH", f"{api}/api/detections/999", {"is_valid": False})
    assert status == 404

