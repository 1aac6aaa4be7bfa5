"""`deertrack seed --demo` against real PostgreSQL and the emulator over HTTP: idempotent rows and pictures."""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime

import pytest
from PIL import Image

from deertrack import db
from deertrack.aws import client
from deertrack.settings import get_settings
from infra.cli import main
from infra.demo import generate_dataset
from infra.demo.seed import SeedError, seed_demo, stored_keys, write_database

pytestmark = pytest.mark.integration

TABLES = ("locations", "images", "deer", "detections", "detection_truth")


def _counts() -> dict[str, int]:
    with db.connection() as con:
        return {t: con.run(f"SELECT count(*) FROM {t}")[0][0] for t in TABLES}


def test_full_database_seed_twice_writes_once(stack) -> None:
    demo = generate_dataset()
    first = seed_demo(images=False)
    assert first.inserted
    counts = _counts()
    # no deer: the detections wait, pending, for the re-ID worker to find them
    assert counts == {"locations": 6, "images": len(demo.images), "deer": 0, "detections": 4546,
                      "detection_truth": 4546}
    second = seed_demo(images=False)
    assert not second.inserted
    assert _counts() == counts

    with db.connection() as con:
        low, high = con.run("SELECT min(captured_at), max(captured_at) FROM images")[0]
        assert low >= datetime(2023, 9, 1, tzinfo=UTC) and high < datetime(2024, 2, 1, tzinfo=UTC)
        assert low.date().isoformat() == "2023-09-01" and high.date().isoformat() == "2024-01-31"
        # as a detector delivers them: pending, no deer, no burst, no embedding; the truth is kept apart
        assert con.run("SELECT count(*) FROM detections WHERE reid_status = 'pending' AND deer_id IS NULL"
                       " AND burst_group IS NULL AND embedding IS NULL")[0][0] == 4546
        keys = dict(con.run("SELECT split_part(individual_key, '-', 2), count(DISTINCT individual_key)"
                            " FROM detection_truth WHERE source = 'demo' GROUP BY 1"))
        assert keys == {"buck": 14, "doe": 24, "fawn": 15}
        # every box lies inside its image
        outside = con.run("SELECT count(*) FROM detections d JOIN images i ON i.id = d.image_id"
                          " WHERE d.bbox_x + d.bbox_width > i.width OR d.bbox_y + d.bbox_height > i.height")
        assert outside[0][0] == 0
        # an image's key, box and true individual match the generator's truth
        truth = demo.truth()[123]
        row = con.run("SELECT d.classification, t.individual_key FROM detections d JOIN images i ON i.id = d.image_id"
                      " JOIN detection_truth t ON t.detection_id = d.id"
                      " WHERE i.s3_key = :k AND d.bbox_x = :x AND d.bbox_y = :y",
                      k=truth.s3_key, x=truth.bbox[0], y=truth.bbox[1])
        assert row == [[truth.classification, truth.individual_key]]
    assert stored_keys(get_settings().images_bucket) == set()  # --no-images: nothing in the bucket


def test_pictures_are_uploaded_once_and_again_into_an_empty_bucket(stack) -> None:
    bucket = get_settings().images_bucket
    first = seed_demo(image_limit=12)
    assert first.inserted and (first.images_uploaded, first.images_present) == (12, 0)
    demo = generate_dataset()
    expected = {im.s3_key for im in demo.images[:12]}
    assert stored_keys(bucket) == expected
    body = client("s3").get_object(Bucket=bucket, Key=demo.images[0].s3_key)["Body"].read()
    picture = Image.open(io.BytesIO(body))
    assert picture.format == "JPEG" and picture.size == (demo.images[0].width, demo.images[0].height)

    again = seed_demo(image_limit=12)
    assert not again.inserted and (again.images_uploaded, again.images_present) == (0, 12)
    assert _counts()["detections"] == 4546

    # a fresh emulator beside a seeded database: the pictures come back, the rows are not written twice
    s3 = client("s3")
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in expected]})
    refill = seed_demo(image_limit=12)
    assert not refill.inserted and refill.images_uploaded == 12
    assert stored_keys(bucket) == expected
    assert _counts()["detections"] == 4546


def test_cli_seed_prints_a_summary(stack, capsys) -> None:
    assert main(["seed", "--demo", "--image-limit", "2"]) == 0
    out = capsys.readouterr().out
    assert "6 locations, 53 deer" in out and "4,546 detections (inserted)" in out
    assert "2 uploaded" in out and "took" in out
    assert main(["seed", "--demo", "--no-images"]) == 0
    assert "already present" in capsys.readouterr().out
    assert main(["seed"]) == 2
    assert "--demo" in capsys.readouterr().err


def test_missing_bucket_is_named(stack, monkeypatch) -> None:
    monkeypatch.setenv("IMAGES_BUCKET", "deertrack-test-no-such-bucket")
    from tests.conftest import reset_caches

    reset_caches()
    with pytest.raises(SeedError, match="deertrack-test-no-such-bucket"):
        seed_demo(image_limit=1)


def test_two_seeders_at_once_insert_once(stack) -> None:
    """The advisory lock: the second seeder waits, then finds the demo set present."""
    demo = generate_dataset()
    results: list[bool] = []
    errors: list[BaseException] = []

    def seed() -> None:
        try:
            with db.connection() as con:
                results.append(write_database(con, demo))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=seed) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sorted(results) == [False, True]
    assert _counts()["detections"] == 4546
