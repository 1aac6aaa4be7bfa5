"""A camera card's MegaDetector results end to end: photos and results.json put in the images bucket →
S3 notification → the event pump hands it to app.handle_image_event → detections stored, one reid
message → the re-ID worker loop → deer, their sightings and the score log, read back over HTTP."""

from __future__ import annotations

import json

import pytest

from deertrack.settings import get_settings
from deertrack.storage import put_bytes
from gpu_batch.queue_loop import StopSignal
from gpu_batch.reid.worker import ReidWorker
from infra.event_sources import EventPump
from tests.conftest import reset_caches
from tests.reid_helpers import HEIGHT, STEADY_THRESHOLD, WIDTH, add_location, at, deer_photo, http, put_image

pytestmark = pytest.mark.e2e


def test_megadetector_card_to_deer_over_http(api, monkeypatch) -> None:
    monkeypatch.setenv("REID_MODEL_URI", "builtin")  # steady scores on deer_photo (reid_helpers)
    monkeypatch.setenv("REID_THRESHOLD", str(STEADY_THRESHOLD))
    reset_caches()
    add_location("CAM-07")
    entries = []
    # individual 0 at 05:00 (a burst of two photos 3 s apart) and 06:00; individual 3 at 07:00
    for i, (individual, seconds) in enumerate([(0, 0), (0, 3), (0, 3600), (3, 7200)]):
        data, (x, y, w, h) = deer_photo(individual, seed=i, exif_time=at(seconds))
        put_image(f"images/card1/IMG_{i:04d}.JPG", data)
        entries.append({"file": f"IMG_{i:04d}.JPG", "detections": [
            {"category": "1", "conf": 0.9, "bbox": [x / WIDTH, y / HEIGHT, w / WIDTH, h / HEIGHT]}]})
    results = {"images": entries, "detection_categories": {"1": "animal"}, "info": {"format_version": "1.4"},
               "deertrack": {"location": "CAM-07"}}
    put_bytes(get_settings().images_bucket, "detections/card1/results.json", json.dumps(results).encode(),
              "application/json")

    pump = EventPump(wait_seconds=0)
    report = pump.run_once()
    assert "ImageEventsFunction" not in " ".join(pump.skipped)
    assert report is not None

    ReidWorker().run(StopSignal(), wait_seconds=0, once=True)

    status, page = http("GET", f"{api}/api/deer")
    assert status == 200 and page["total"] == 2, page
    first, second = page["items"]
    assert (first["sighting_count"], second["sighting_count"]) == (3, 1)
    status, deer = http("GET", f"{api}/api/deer/{first['id']}")
    assert [c["code"] for c in deer["cameras"]] == ["CAM-07"]
    assert deer["timeline"]["entries"][0] == {"period": "2024-06-01", "detections": 3, "bursts": 2,
                                              "locations": ["CAM-07"]}
    last = deer["recent_detections"][0]["detection_id"]
    status, detection = http("GET", f"{api}/api/detections/{last}")
    assert detection["deer"]["id"] == first["id"] and detection["candidates"][0]["matched"] is True
    status, scores = http("GET", f"{api}/api/reid/scores?detection_id={last}")
    assert scores["count"] == 1


def test_an_ingested_batch_is_followed_over_http_until_reid_is_done(api, monkeypatch) -> None:
    """POST /api/detections (photos uploaded with the request) → one reid message → the re-ID worker loop →
    the POST's Location says the batch is done and where each detection went."""
    import base64

    monkeypatch.setenv("REID_MODEL_URI", "builtin")
    monkeypatch.setenv("REID_THRESHOLD", str(STEADY_THRESHOLD))
    reset_caches()
    add_location("CAM-08")
    records = []
    for i, (individual, seconds) in enumerate([(1, 0), (1, 3600), (2, 7200)]):
        data, (x, y, w, h) = deer_photo(individual, seed=10 + i)
        records.append({"image_base64": base64.b64encode(data).decode(), "filename": f"IMG_{i}.JPG",
                        "captured_at": at(seconds).isoformat(), "location_code": "CAM-08",
                        "boxes": [{"x": x, "y": y, "width": w, "height": h, "confidence": 0.9,
                                   "classification": "doe"}]})
    from tests.export_api_client import call

    posted = call("POST", f"{api}/api/detections", {"images": records})
    assert posted.status == 202, posted.body
    location = posted.headers["Location"]
    status, waiting = http("GET", f"{api}{location}")
    assert status == 200 and waiting["reid"]["pending"] == 3 and waiting["done"] is False

    ReidWorker().run(StopSignal(), wait_seconds=0, once=True)

    status, done = http("GET", f"{api}{location}")
    assert status == 200 and done["done"] is True, done
    assert done["reid"]["pending"] == 0 and done["detections"] == 3
    deer = [item["deer_id"] for item in done["items"]]
    assert deer[0] == deer[1] != deer[2] and None not in deer  # the same doe twice, then another
