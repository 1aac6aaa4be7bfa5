"""An ingest's batch over HTTP: POST /api/detections answers with the batch's Location, and
GET /api/ingest/{batch_id} follows its detections through re-identification."""

from __future__ import annotations

import re

import pytest

from tests.export_api_client import call
from tests.reid_helpers import add_location, at, put_photo, record, run_reid_queue

pytestmark = pytest.mark.integration


def test_a_batch_is_followed_from_its_location_until_reid_is_done(api, embedder) -> None:
    add_location("B1")
    boxes = [put_photo(f"b/{n}.jpg", n % 2, seed=n) for n in range(3)]
    records = [record(f"b/{n}.jpg", at(600 * n), "B1", box) for n, box in enumerate(boxes)]
    records.append(record("b/missing.jpg", at(5000), "B1", boxes[0]))
    posted = call("POST", f"{api}/api/detections", {"images": records})
    assert posted.status == 207, posted.body
    batch = posted.body["batch_id"]
    location = posted.headers["Location"]
    assert location == posted.body["status_url"] == f"/api/ingest/{batch}"
    assert int(posted.headers["Retry-After"]) > 0

    before = call("GET", f"{api}{location}")
    assert before.status == 200, before.body
    assert before.body["detections"] == 3 and before.body["images_accepted"] == 3 and before.body["refused"] == 1
    assert before.body["reid"]["pending"] == 3 and before.body["done"] is False
    assert "Retry-After" in before.headers
    assert [i["detection_id"] for i in before.body["items"]] == [d["detection_id"] for d in posted.body["detections"]]

    run_reid_queue(embedder)
    after = call("GET", f"{api}{location}")
    assert after.status == 200 and after.body["done"] is True, after.body
    assert after.body["reid"]["pending"] == 0
    assert sum(after.body["reid"].values()) == 3
    assert all(i["reid_status"] != "pending" for i in after.body["items"])
    assert any(i["deer_id"] is not None for i in after.body["items"])
    assert "Retry-After" not in after.headers

    again = call("POST", f"{api}/api/detections", {"images": records[:1]})  # a duplicate is in its own batch
    assert again.status == 202 and again.body["batch_id"] != batch
    repeat = call("GET", f"{api}{again.headers['Location']}").body
    assert repeat["detections"] == 1 and repeat["items"][0]["detection_id"] == before.body["items"][0]["detection_id"]


@pytest.mark.parametrize("batch_id", ["0" * 32, "no-such-batch", "%E2%98%83", "a" * 64])
def test_an_unknown_batch_is_a_404(api, batch_id: str) -> None:
    answer = call("GET", f"{api}/api/ingest/{batch_id}")
    assert answer.status == 404, answer.body
    assert answer.body["error"] == "not_found"


def test_the_view_counts_every_status_the_schema_allows(stack) -> None:
    from deertrack import db
    from deertrack.ingest.batches import REID_STATUSES

    with db.connection() as con:
        check = con.run("SELECT pg_get_constraintdef(oid) FROM pg_constraint"
                        " WHERE conname = 'detections_reid_status_check'")[0][0]
    assert sorted(REID_STATUSES) == sorted(re.findall(r"'(\w+)'", check)), check
