"""The foundation over real connections: schema, migrations, resources from template.yaml, health."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from urllib.parse import unquote_plus

import pytest

from deertrack import db, migrations
from deertrack.aws import client
from deertrack.settings import get_settings
from infra.template import declarations

pytestmark = pytest.mark.integration


def test_migrate_twice_is_a_no_op(stack) -> None:
    with db.connection() as con:
        assert migrations.apply(con) == []
        assert con.run("SELECT count(*) FROM schema_migrations")[0][0] == len(migrations.discover())


def test_round_of_numeric_score_works_in_plain_sql(stack) -> None:
    with db.connection() as con:
        con.run("INSERT INTO locations (code, name, latitude, longitude) VALUES ('C1', 'Ridge', 44.1, -73.2)")
        con.run("INSERT INTO images (s3_key, location_id, captured_at) VALUES ('a.jpg', 1, now())")
        con.run(
            "INSERT INTO detections (image_id, bbox_x, bbox_y, bbox_width, bbox_height, confidence, classification)"
            " VALUES (1, 0, 0, 10, 10, 0.9, 'doe')"
        )
        con.run("INSERT INTO deer (name, sex) VALUES ('D-1', 'doe')")
        con.run(
            "INSERT INTO reid_similarity_scores (detection_id, deer_id, similarity_score, threshold_used, matched,"
            " sex_match, detection_classification, deer_sex) VALUES (1, 1, 0.87654, 0.8, true, true, 'doe', 'doe')"
        )
        rows = con.run(
            "SELECT ROUND(similarity_score, 1) AS score, COUNT(*) FROM reid_similarity_scores "
            "GROUP BY score ORDER BY score DESC"
        )
        assert [(str(r[0]), r[1]) for r in rows] == [("0.9", 1)]


def test_score_log_has_its_seven_indexes_and_unique_pair(stack) -> None:
    with db.connection() as con:
        names = {r[0] for r in con.run("SELECT indexname FROM pg_indexes WHERE tablename = 'reid_similarity_scores'")}
        types = dict(con.run(
            "SELECT column_name, data_type || coalesce('(' || numeric_precision || ',' || numeric_scale || ')', '')"
            " FROM information_schema.columns WHERE table_name = 'reid_similarity_scores'"
        ))
    explicit = {n for n in names if n.startswith("idx_reid_scores_")}
    assert len(explicit) == 7
    assert "reid_similarity_scores_detection_deer_key" in names
    assert types["similarity_score"] == "numeric(5,4)"
    assert types["threshold_used"] == "numeric(5,4)"


def test_check_constraints_reject_bad_rows(stack) -> None:
    with db.connection() as con:
        with pytest.raises(Exception, match="check"):
            con.run("INSERT INTO deer (name, sex) VALUES ('X', 'moose')")
        with pytest.raises(Exception, match="check"):
            con.run("INSERT INTO locations (code, name, latitude, longitude) VALUES ('C', 'n', 95, 0)")


def test_edited_migration_is_refused(stack, tmp_path) -> None:
    for m in migrations.discover():
        (tmp_path / m.filename).write_text(m.sql + "\n-- edited\n")
    with db.connection() as con, pytest.raises(migrations.MigrationError, match="edited"):
        migrations.apply(con, tmp_path)


def test_resources_come_from_template(stack) -> None:
    decl = declarations("test")
    sqs = client("sqs")
    names = {url.rsplit("/", 1)[1] for url in sqs.list_queues()["QueueUrls"]}
    assert names == {q.name for q in decl.queues.values()}
    exports = sqs.get_queue_url(QueueName=get_settings().exports_queue_name)["QueueUrl"]
    redrive = json.loads(sqs.get_queue_attributes(QueueUrl=exports, AttributeNames=["RedrivePolicy"])[
        "Attributes"]["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith("deertrack-test-exports-dlq")
    buckets = {b["Name"] for b in client("s3").list_buckets()["Buckets"]}
    assert buckets == {b.name for b in decl.buckets.values()}


def test_requests_bucket_notification_reaches_its_queue(stack) -> None:
    settings = get_settings()
    client("s3").put_object(Bucket=settings.requests_bucket, Key="export-requests/a.json", Body=b"{}")
    url = client("sqs").get_queue_url(QueueName=settings.export_requests_queue_name)["QueueUrl"]
    messages = client("sqs").receive_message(QueueUrl=url, WaitTimeSeconds=2, MaxNumberOfMessages=10)
    bodies = [json.loads(m["Body"]) for m in messages.get("Messages", [])]
    records = [r for b in bodies for r in b.get("Records", [])]
    # S3 URL-encodes keys in notifications; consumers decode them exactly once.
    assert [unquote_plus(r["s3"]["object"]["key"]) for r in records] == ["export-requests/a.json"]


def test_health_ok_over_http(api, stack) -> None:
    with urllib.request.urlopen(f"{api}/api/health", timeout=10) as response:
        body = json.load(response)
    assert response.status == 200
    assert body["status"] == "ok", body
    # which AWS answers: the emulator of this run, LocalStack with its version, moto without one
    expected_version = stack.emulator.version if stack.emulator.name == "localstack" else None
    assert body["aws"] == {"name": stack.emulator.name, "version": expected_version, "endpoint": stack.emulator_url}


def test_health_names_what_is_down(api, monkeypatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    from tests.conftest import reset_caches

    reset_caches()
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{api}/api/health", timeout=15)
    assert info.value.code == 503
    body = json.load(info.value)
    assert body["down"] == ["redis"]
