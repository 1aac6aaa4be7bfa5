"""The review API over HTTP on a demo slice: the queue (kinds in order, filters, pages, bad input), answers
logged in detection_reviews and undone exactly (rules included), crops and photos with their cache headers,
deer search, and the review page's own files."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from deertrack import db
from deertrack.reid.review_queue import KINDS
from tests.export_api_client import call
from tests.review_helpers import seed_reviewable

pytestmark = pytest.mark.integration


def _queue(api: str, query: str = "") -> dict[str, Any]:
    answer = call("GET", f"{api}/api/review/queue?limit=200{query}")
    assert answer.status == 200, answer.body
    return answer.body


def _rows(sql: str, **params: Any) -> list[Any]:
    with db.connection() as con:
        return con.run(sql, **params)


def test_the_queue_puts_close_calls_first_and_filters(api: str) -> None:
    seed_reviewable(images=60)
    whole = _queue(api)
    assert whole["total"] == sum(whole["by_kind"].values()) == len(whole["items"])
    ranks = [KINDS.index(i["kind"]) for i in whole["items"]]
    assert ranks == sorted(ranks) and whole["by_kind"]["merge_candidate"] >= 1
    new = [i["deer_sightings"] for i in whole["items"] if i["kind"] == "new_deer"]
    assert new == sorted(new) and all(n <= 3 for n in new)
    # a close call: another deer scores just under an assigned detection's best
    assigned = {r[0] for r in _rows("SELECT id FROM detections WHERE reid_status = 'assigned'")}
    item = next(i for i in whole["items"] if i["kind"] == "unreviewed" and i["detection_id"] in assigned
                and i["score"] is not None)
    other = _rows("SELECT id FROM deer WHERE id NOT IN (SELECT deer_id FROM reid_similarity_scores"
                  " WHERE detection_id = :d) ORDER BY id LIMIT 1", d=item["detection_id"])[0][0]
    _rows("INSERT INTO reid_similarity_scores (detection_id, deer_id, similarity_score, threshold_used, matched,"
          " sex_match, detection_classification, deer_sex) VALUES (:d, :e, :s, 0.5, false, true, 'doe', 'doe')",
          d=item["detection_id"], e=other, s=round(item["score"] - 0.01, 4))
    first = _queue(api)["items"][0]
    assert first["kind"] == "close_call" and first["detection_id"] == item["detection_id"]
    assert first["margin"] == pytest.approx(0.01) and first["runner_up_score"] == pytest.approx(item["score"] - 0.01)
    # a corrected class (not yet decided) is its own kind, and stays queued
    plain = next(i for i in whole["items"] if i["kind"] == "unreviewed" and i["detection_id"] != item["detection_id"])
    fixed = "buck" if plain["classification"] != "buck" else "doe"
    corrected = call("PATCH", f"{api}/api/detections/{plain['detection_id']}", {"corrected_classification": fixed})
    assert corrected.status == 200
    kinds = {i.get("detection_id"): i["kind"] for i in _queue(api)["items"]}
    assert kinds[plain["detection_id"]] == "corrected_class"
    # filters
    camera = plain["location_code"]
    for query, check in ((f"&camera={camera}", lambda i: i["location_code"] == camera),
                         ("&sex=doe", lambda i: i["classification"] == "doe"),
                         ("&start_date=2023-09-02&end_date=2023-09-02",
                          lambda i: i["captured_at"][:10] == "2023-09-02"),
                         ("&kind=new_deer", lambda i: i["kind"] == "new_deer")):
        page = _queue(api, query)
        detections = [i for i in page["items"] if i["kind"] != "merge_candidate"]
        assert detections and all(check(i) for i in detections), query
        assert page["total"] < whole["total"] + 1
    pairs = _queue(api, "&kind=merge_candidate")
    assert pairs["items"] and all(i["deer_a"] < i["deer_b"] for i in pairs["items"])
    # pages are slices of one order
    ten = call("GET", f"{api}/api/review/queue?limit=10").body
    second = call("GET", f"{api}/api/review/queue?limit=5&offset=5").body
    assert second["items"] == ten["items"][5:] and second["next_offset"] == 10


@pytest.mark.parametrize(("query", "field", "words"), [
    ("start_date=2023-09-03&end_date=2023-09-01", "end_date", "start_date must be before end_date"),
    ("kind=everything", "kind", "close_call"),
    ("sex=moose", "sex", "buck"),
    ("limit=0", "limit", "must be at least 1"),
    ("colour=red", "colour", ""),
])
def test_a_bad_queue_query_is_a_400_naming_the_parameter(api: str, query: str, field: str, words: str) -> None:
    answer = call("GET", f"{api}/api/review/queue?{query}")
    assert answer.status == 400
    assert any(d["field"] == field and words in d["message"] for d in answer.body["details"]), answer.body


def _review(detection_id: int) -> list[tuple[str, bool]]:
    return [tuple(r) for r in _rows("SELECT action, undone_at IS NOT NULL FROM detection_reviews"
                                    " WHERE detection_id = :d ORDER BY id", d=detection_id)]


def _state(detection_id: int) -> tuple[Any, ...]:
    return tuple(_rows("SELECT d.deer_id, d.is_valid, d.corrected_classification, d.reid_status, d.reid_note,"
                       " d.reviewed_by, d.reviewed_at, t.individual_key, t.source, t.recorded_at FROM detections d"
                       " LEFT JOIN detection_truth t ON t.detection_id = d.id WHERE d.id = :d", d=detection_id)[0])


def test_answers_are_logged_and_undone_exactly(api: str) -> None:
    seed_reviewable(images=40)
    items = [i for i in _queue(api)["items"] if i["kind"] != "merge_candidate" and i["deer_id"] is not None]
    first, second, third = (i["detection_id"] for i in items[:3])
    before = _state(first)
    confirmed = call("PATCH", f"{api}/api/detections/{first}", {"deer_id": items[0]["deer_id"]})
    assert confirmed.status == 200 and confirmed.body["review"]["action"] == "confirm"
    assert _state(first)[7:9] == (f"deer-{items[0]['deer_id']}", "review")
    assert first not in {i.get("detection_id") for i in _queue(api)["items"]}
    review = confirmed.body["review"]["review_id"]
    undone = call("POST", f"{api}/api/reviews/{review}/undo")
    assert undone.status == 200 and undone.body["action"] == "confirm"
    assert _state(first) == before and _review(first) == [("confirm", True)]  # the demo truth row is back
    assert first in {i.get("detection_id") for i in _queue(api)["items"]}
    again = call("POST", f"{api}/api/reviews/{review}/undo")
    assert again.status == 409 and again.body["details"][0]["rule"] == "already_undone"

    # a new deer, undone: the deer it made is gone
    deer_before = _rows("SELECT count(*) FROM deer")[0][0]
    made = call("PATCH", f"{api}/api/detections/{second}", {"new_deer": True, "note": "white blaze"})
    assert made.status == 200 and made.body["review"]["action"] == "new_deer"
    new_id = made.body["review"]["created_deer_id"]
    assert made.body["deer"]["id"] == new_id
    assert _rows("SELECT sighting_count FROM deer WHERE id = :d", d=new_id) == [[1]]
    assert "white blaze" in _state(second)[4]
    # a later answer first: undo order
    noted = call("PATCH", f"{api}/api/detections/{second}", {"note": "checked twice"})
    assert noted.status == 200 and noted.body["review"]["action"] == "note"
    refused = call("POST", f"{api}/api/reviews/{made.body['review']['review_id']}/undo")
    assert refused.status == 409 and refused.body["details"][0]["rule"] == "undo_order"
    assert call("POST", f"{api}/api/reviews/{noted.body['review']['review_id']}/undo").status == 200
    assert call("POST", f"{api}/api/reviews/{made.body['review']['review_id']}/undo").status == 200
    assert _rows("SELECT count(*) FROM deer")[0][0] == deer_before
    assert not _rows("SELECT 1 FROM deer WHERE id = :d", d=new_id)

    # a merge moved the detection since: its answer cannot be undone until the merge is
    # two deer that may be merged (compatible sex, never in one photo, not in the third detection's photo)
    target, other_pick = _rows(
        "SELECT a.id, b.id FROM deer a JOIN deer b ON a.id <> b.id WHERE a.status <> 'merged' AND b.status <> 'merged'"
        " AND (a.sex = b.sex OR 'unknown' IN (a.sex, b.sex)) AND NOT EXISTS (SELECT 1 FROM detections x JOIN"
        " detections y ON x.image_id = y.image_id WHERE x.deer_id = a.id AND y.deer_id = b.id) AND NOT EXISTS"
        " (SELECT 1 FROM detections z WHERE z.deer_id = b.id AND z.image_id = (SELECT image_id FROM detections"
        " WHERE id = :third)) ORDER BY a.id, b.id LIMIT 1", third=third)[0]
    assigned = call("PATCH", f"{api}/api/detections/{third}", {"deer_id": target})
    merged = call("POST", f"{api}/api/deer/{target}/merge", {"into_deer_id": other_pick})
    assert merged.status == 200, merged.body
    other = other_pick
    blocked = call("POST", f"{api}/api/reviews/{assigned.body['review']['review_id']}/undo")
    assert blocked.status == 409 and blocked.body["details"][0]["rule"] == "changed_since"
    merge_id = _rows("SELECT id FROM deer_merges WHERE kept_deer_id = :o", o=other)[0][0]
    assert call("POST", f"{api}/api/deer/merges/{merge_id}/undo").status == 200
    assert call("POST", f"{api}/api/reviews/{assigned.body['review']['review_id']}/undo").status == 200
    assert call("POST", f"{api}/api/reviews/999999/undo").status == 404


@pytest.mark.parametrize(("body", "words"), [
    ({}, "give at least one of"),
    ({"note": ""}, "give at least one of"),
    ({"new_deer": False}, "new_deer can only be true"),
    ({"new_deer": True, "deer_id": 1}, "deer_id or new_deer, not both"),
])
def test_a_bad_answer_is_a_400(api: str, body: dict[str, Any], words: str) -> None:
    seed_reviewable(images=5)
    detection = _rows("SELECT min(id) FROM detections")[0][0]
    answer = call("PATCH", f"{api}/api/detections/{detection}", body)
    assert answer.status == 400 and words in answer.body["message"] + str(answer.body["details"]), answer.body
    assert _review(detection) == []


def test_crops_and_photos_are_thumbnails_the_browser_keeps(api: str) -> None:
    seed_reviewable(images=5)
    detection, key = _rows("SELECT d.id, i.s3_key FROM detections d JOIN images i ON i.id = d.image_id"
                           " ORDER BY d.id LIMIT 1")[0]
    jpeg = {"Accept": "image/jpeg"}  # Chalice answers a binary body only to a request that accepts it
    crop = call("GET", f"{api}/api/detections/{detection}/crop?size=96", headers=jpeg)
    assert crop.status == 200 and crop.headers["Content-Type"] == "image/jpeg"
    assert crop.headers["Cache-Control"] == "private, max-age=86400" and crop.headers["ETag"].startswith('"')
    picture = Image.open(io.BytesIO(crop.raw))
    assert picture.format == "JPEG" and max(picture.size) == 96
    cached = call("GET", f"{api}/api/detections/{detection}/crop?size=96",
                  headers={**jpeg, "If-None-Match": crop.headers["ETag"]})
    assert cached.status == 304 and cached.raw == b""
    bigger = call("GET", f"{api}/api/detections/{detection}/crop?size=160", headers=jpeg)
    assert bigger.headers["ETag"] != crop.headers["ETag"]
    photo = call("GET", f"{api}/api/detections/{detection}/photo", headers=jpeg)
    whole = Image.open(io.BytesIO(photo.raw))
    assert photo.status == 200 and max(whole.size) <= 1024 and whole.size[0] > max(picture.size)
    bad = call("GET", f"{api}/api/detections/{detection}/crop?size=100")
    assert bad.status == 400 and bad.body["details"][0]["field"] == "size"
    assert call("GET", f"{api}/api/detections/99999/crop").status == 404
    from deertrack.aws import client
    from deertrack.settings import get_settings

    client("s3").delete_object(Bucket=get_settings().images_bucket, Key=key)
    gone = call("GET", f"{api}/api/detections/{detection}/photo?size=480", headers=jpeg)
    assert gone.status == 404 and key in gone.body["message"]


def test_deer_are_found_by_name_or_id(api: str) -> None:
    seed_reviewable(images=20)
    by_name = call("GET", f"{api}/api/deer?q=eer-000").body
    assert by_name["total"] >= 2 and all("eer-000" in d["name"] for d in by_name["items"])
    some = by_name["items"][1]
    by_id = call("GET", f"{api}/api/deer?q={some['id']}").body
    assert some["id"] in {d["id"] for d in by_id["items"]}
    assert call("GET", f"{api}/api/deer?q=%25").body["total"] == 0  # % is a character, not a wildcard


def test_the_review_page_files(api: str) -> None:
    page = call("GET", f"{api}/review", token=None)
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["Content-Security-Policy"] and b"/review/review.js" in page.raw
    script = call("GET", f"{api}/review/review.js", token=None)
    assert script.status == 200 and script.headers["Content-Type"].startswith("text/javascript")
    assert call("GET", f"{api}/review/review.css", token=None).headers["Content-Type"].startswith("text/css")
    for missing in ("nothing.js", "index.py", ".hidden.js"):
        assert call("GET", f"{api}/review/{missing}", token=None).status == 404, missing


def test_the_page_says_where_to_sign_in(api: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import reset_caches

    assert call("GET", f"{api}/review/config.json", token=None).body == {"hosted_ui": None}
    monkeypatch.setenv("AUTH_HOSTED_UI_URL", "https://deer.auth.us-east-1.amazoncognito.com/")
    reset_caches()
    config = call("GET", f"{api}/review/config.json", token=None).body["hosted_ui"]
    assert config["url"] == "https://deer.auth.us-east-1.amazoncognito.com" and config["client_id"]
    page = call("GET", f"{api}/review", token=None)
    policy = page.headers["Content-Security-Policy"]
    assert "connect-src 'self' https://deer.auth.us-east-1.amazoncognito.com;" in policy


def test_a_detection_left_for_review_is_queued_and_a_person_gives_it_its_deer(api: str) -> None:
    seed_reviewable(images=40)
    detection, deer = _rows("SELECT id, deer_id FROM detections WHERE deer_id IS NOT NULL ORDER BY id LIMIT 1")[0]
    # what the crop gate leaves: no deer matched, the crop too poor to found one
    _rows("UPDATE detections SET deer_id = NULL, reid_status = 'needs_review', reid_note = 'crop too poor'"
          " WHERE id = :d", d=detection)
    left = {r[0] for r in _rows("SELECT id FROM detections WHERE reid_status = 'needs_review' AND is_valid")}
    queued = _queue(api, "&kind=needs_review")["items"]
    assert {i["detection_id"] for i in queued} == left and detection in left
    assert all(i["deer_id"] is None and i["deer_name"] is None for i in queued)
    whole = _queue(api)
    ranks = [KINDS.index(i["kind"]) for i in whole["items"]]
    assert ranks == sorted(ranks) and whole["by_kind"]["needs_review"] == len(left)
    answer = call("PATCH", f"{api}/api/detections/{detection}", {"deer_id": deer})
    assert answer.status == 200, answer.body
    assert _rows("SELECT deer_id, reid_status FROM detections WHERE id = :d", d=detection) == [[deer, "assigned"]]
    assert detection not in {i["detection_id"] for i in _queue(api, "&kind=needs_review")["items"]}


def test_merging_deer_that_a_left_for_review_detection_was_scored_against_logs_it_unmatched(api: str) -> None:
    seed_reviewable(images=40)
    pairs = _rows(
        "SELECT s1.detection_id, s1.deer_id, s2.deer_id FROM reid_similarity_scores s1"
        " JOIN reid_similarity_scores s2 ON s2.detection_id = s1.detection_id AND s2.deer_id > s1.deer_id"
        " JOIN detections d ON d.id = s1.detection_id JOIN deer a ON a.id = s1.deer_id JOIN deer b ON b.id = s2.deer_id"
        " WHERE d.reid_status = 'needs_review' AND (a.sex = b.sex OR 'unknown' IN (a.sex, b.sex))"
        " AND NOT EXISTS (SELECT 1 FROM detections x JOIN detections y ON x.image_id = y.image_id"
        "                 WHERE x.deer_id = a.id AND y.deer_id = b.id) ORDER BY 1, 2, 3 LIMIT 1")
    if not pairs:
        pytest.skip("the slice has no detection left for review scored against two mergeable deer")
    detection, kept, merged = pairs[0]
    answer = call("POST", f"{api}/api/deer/{merged}/merge", {"into_deer_id": kept})
    assert answer.status == 200, answer.body
    assert _rows("SELECT matched FROM reid_similarity_scores WHERE detection_id = :d AND deer_id = :k",
                 d=detection, k=kept) == [[False]]


def test_an_unsure_detector_class_does_not_forbid_a_reviewers_deer_but_a_sure_one_does(api: str) -> None:
    seed_reviewable(images=20)
    detection = _rows("SELECT id FROM detections WHERE deer_id IS NOT NULL ORDER BY id LIMIT 1")[0][0]
    buck = _rows("INSERT INTO deer (name, sex, sighting_count) VALUES ('Review-Buck', 'buck', 0) RETURNING id")[0][0]
    _rows("UPDATE detections SET classification = 'doe', confidence = 0.6, corrected_classification = NULL"
          " WHERE id = :d", d=detection)  # below REID_CLASS_MIN_CONFIDENCE: re-ID reads it as unknown
    answer = call("PATCH", f"{api}/api/detections/{detection}", {"deer_id": buck})
    assert answer.status == 200, answer.body
    _rows("UPDATE detections SET confidence = 0.95 WHERE id = :d", d=detection)
    other = _rows("INSERT INTO deer (name, sex, sighting_count) VALUES ('Review-Buck-2', 'buck', 0) RETURNING id")[0][0]
    refused = call("PATCH", f"{api}/api/detections/{detection}", {"deer_id": other})
    assert refused.status == 400 and refused.body["details"][0]["rule"] == "sex_match"
