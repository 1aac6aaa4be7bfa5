"""MegaDetector batch output imported through S3 (notification → image-events queue → handle_image_event
with a Lambda-shaped SQS event) and through the CLI."""

from __future__ import annotations

import json

import pytest

from deertrack import db
from deertrack.queues import receive
from deertrack.settings import get_settings
from deertrack.storage import get_bytes, put_bytes
from infra.api_server import load_app_module
from infra.cli import main
from infra.event_sources import LambdaContext
from tests.reid_helpers import HEIGHT, WIDTH, add_location, at, deer_photo, put_image, run_reid_queue
from tests.s3_events_helpers import s3_notification_event

pytestmark = pytest.mark.integration


def _normalized(box: tuple[int, int, int, int]) -> list[float]:
    x, y, w, h = box
    return [x / WIDTH, y / HEIGHT, w / WIDTH, h / HEIGHT]


def _results(boxes: dict[str, tuple[int, int, int, int]]) -> dict:
    images = [
        {"file": name, "max_detection_conf": 0.95, "detections": [
            {"category": "1", "conf": 0.95, "bbox": _normalized(box), "classifications": [["0", 0.9]]},
            {"category": "1", "conf": 0.1, "bbox": [0.0, 0.0, 0.2, 0.2]},  # below 0.2: left out
            {"category": "2", "conf": 0.9, "bbox": [0.5, 0.5, 0.1, 0.3]},  # a person: left out
        ]}
        for name, box in boxes.items()
    ]
    images.append({"file": "CAM-01/empty.jpg", "detections": []})
    images.append({"file": "CAM-01/broken.jpg", "failure": "Failure image access"})
    images.append({"file": "CAM-01/gone.jpg",
                   "detections": [{"category": "1", "conf": 0.9, "bbox": [0.1, 0.1, 0.5, 0.5]}]})
    return {"images": images, "detection_categories": {"1": "animal", "2": "person", "3": "vehicle"},
            "classification_categories": {"0": "doe"}, "info": {"format_version": "1.3", "detector": "md_v5a"}}


def _photos(prefix: str) -> dict[str, tuple[int, int, int, int]]:
    boxes = {}
    for i in range(2):
        data, box = deer_photo(i, seed=i, exif_time=at(3600 * i))
        put_image(f"{prefix}CAM-01/IMG_{i}.JPG", data)
        boxes[f"CAM-01/IMG_{i}.JPG"] = box
    return boxes


def _context() -> LambdaContext:
    return LambdaContext(function_name="ImageEventsFunction", memory_limit_in_mb=512, aws_request_id="test",
                         invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:ImageEventsFunction",
                         timeout_seconds=120)


def test_results_file_put_under_detections_is_imported(stack) -> None:
    add_location("CAM-01")
    settings = get_settings()
    boxes = _photos("images/site/")
    key = "detections/site/md results.json"
    put_bytes(settings.images_bucket, key, json.dumps(_results(boxes)).encode(), "application/json")

    event = s3_notification_event(settings.image_events_queue_name)
    app = load_app_module()
    response = app.handle_image_event(event, _context())
    assert response == {"batchItemFailures": []}

    with db.connection() as con:
        rows = db.rows_as_dicts(con, "SELECT i.s3_key, i.captured_at, i.width, i.height, d.bbox_x, d.bbox_y,"
                                     " d.bbox_width, d.bbox_height, d.confidence, d.classification"
                                     " FROM detections d JOIN images i ON i.id = d.image_id ORDER BY d.id")
    assert [r["s3_key"] for r in rows] == ["images/site/CAM-01/IMG_0.JPG", "images/site/CAM-01/IMG_1.JPG"]
    assert [r["captured_at"] for r in rows] == [at(0), at(3600)]  # from EXIF DateTimeOriginal
    for row, box in zip(rows, boxes.values(), strict=True):
        got = (row["bbox_x"], row["bbox_y"], row["bbox_width"], row["bbox_height"])
        assert all(abs(a - b) <= 1 for a, b in zip(got, box, strict=True))
        assert row["classification"] == "doe" and (row["width"], row["height"]) == (WIDTH, HEIGHT)

    outcome = json.loads(get_bytes(settings.images_bucket, "import-results/" + key))
    assert outcome["status"] == "imported_with_errors"
    assert outcome["detections"] == 2 and outcome["queued_for_reid"] == 2
    assert outcome["status_url"] == f"/api/ingest/{outcome['batch_id']}"  # the import is a batch to follow
    with db.connection() as con:
        from deertrack.ingest.batches import batch_view

        followed = batch_view(con, outcome["batch_id"])
    assert followed is not None and followed["detections"] == 2 and followed["reid"]["pending"] == 2
    assert outcome["skipped_without_animals"] == 1 and outcome["dropped_below_confidence"] == 2
    assert {(e["field"], e["rule"]) for e in outcome["errors"]} == {
        ("images[3].file", "megadetector_failure"), ("images[4].file", "exists")}

    reid = receive(settings.reid_queue_name, wait_seconds=0, max_messages=10)
    assert len(reid) == 1 and len(json.loads(reid[0].body)["detection_ids"]) == 2

    # the same notification delivered again stores nothing twice
    put_bytes(settings.images_bucket, key, json.dumps(_results(boxes)).encode(), "application/json")
    app.handle_image_event(s3_notification_event(settings.image_events_queue_name), _context())
    with db.connection() as con:
        assert con.run("SELECT count(*) FROM detections")[0][0] == 2


def test_a_file_that_is_not_megadetector_output_is_recorded_not_retried(stack) -> None:
    settings = get_settings()
    key = "detections/junk.json"
    put_bytes(settings.images_bucket, key, b'{"hello": 1}', "application/json")
    response = load_app_module().handle_image_event(s3_notification_event(settings.image_events_queue_name), _context())
    assert response == {"batchItemFailures": []}
    outcome = json.loads(get_bytes(settings.images_bucket, "import-results/" + key))
    assert outcome["status"] == "failed" and "images" in outcome["error"]


def test_cli_import_then_reid(stack, tmp_path, capsys) -> None:
    add_location("CAM-01")
    boxes = _photos("cards/")
    results = tmp_path / "results.json"
    results.write_text(json.dumps(_results(boxes)))
    code = main(["ingest", "megadetector", str(results), "--images", "cards", "--min-confidence", "0.05"])
    out, err = capsys.readouterr()
    assert code == 1, (out, err)  # two entries refused
    assert "images[3].file: [megadetector_failure]" in err and "images[4].file: [exists]" in err
    with db.connection() as con:
        assert con.run("SELECT count(*) FROM detections")[0][0] == 4  # conf 0.1 kept with --min-confidence 0.05
    run_reid_queue()
    with db.connection() as con:
        statuses = {r[0] for r in con.run("SELECT reid_status FROM detections")}
    assert statuses <= {"assigned", "new_deer", "needs_review", "skipped"}  # needs_review: the crop gate
    assert main(["ingest", "megadetector", str(tmp_path / "nope.json"), "--images", "x"]) == 1
    assert main(["ingest", "megadetector", str(results), "--images", "cards", "--location", "NOPE"]) == 2
