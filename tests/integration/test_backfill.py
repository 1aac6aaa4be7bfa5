"""Backfill against real PostgreSQL, Redis and the AWS emulator over HTTP: the nightly schedule
through the event pump, shards on the reid queue, the shard consumer; stop and resume; dry runs;
the API job."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from deertrack import db
from deertrack.backfill import enqueue, runs
from deertrack.backfill.scope import BackfillScope
from deertrack.messages import parse_message
from deertrack.queues import drain, send
from deertrack.settings import DEFAULT_BACKFILL_SCHEDULE, DEFAULT_REID_THRESHOLD, get_settings
from gpu_batch.backfill import rescore, runner
from gpu_batch.backfill.job import process_backfill_message
from gpu_batch.reid.worker import process_one_message
from infra.bench import synthetic
from infra.cli import main as cli_main
from tests.conftest import reset_caches
from tests.export_api_client import call

pytestmark = pytest.mark.integration

DETECTIONS, DEER = 60, 7
ROW = ("SELECT detection_id, deer_id, similarity_score, threshold_used, matched, sex_match, detection_classification,"
       " deer_sex FROM reid_similarity_scores ORDER BY detection_id, deer_id")


@pytest.fixture
def con(stack: Any) -> Any:
    with db.connection(stack.database_url, timeout=enqueue.SOCKET_TIMEOUT_S) as connection:
        synthetic.load(connection, detections=DETECTIONS, deer=DEER, dim=16, seed=3)
        yield connection


def rows(con: Any) -> list[tuple]:
    return [tuple(r) for r in con.run(ROW)]


def rows_per_detection(con: Any) -> dict[int, int]:
    return dict(con.run("SELECT detection_id, count(*) FROM reid_similarity_scores GROUP BY 1"))


def backfill(con: Any, scope: BackfillScope, *, atomic: bool = False, shard_size: int = 25,
             resume: bool = True) -> runner.RunOutcome:
    run, _ = runner.prepare_run(con, scope, trigger="cli", atomic=atomic, shard_size=shard_size, resume=resume)
    return runner.execute_run(con, run)


def deliver_reid_queue() -> list[Any]:
    """What the re-ID worker loop does with reid.backfill messages: hand each to the shard consumer."""
    queue = get_settings().reid_queue_name
    return [process_backfill_message(received, parse_message(received.body)) for received in drain(queue)]


def test_schedule_handler_shards_worker_rescore_every_detection(con: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from infra.api_server import load_app_module
    from infra.event_sources import EventPump
    from infra.template import declarations

    monkeypatch.setenv("BACKFILL_SHARD_SIZE", "25")
    reset_caches()
    backfill(con, BackfillScope(threshold=0.5))  # an old log, written with another threshold
    assert set(rows_per_detection(con).values()) == {DEER}
    before = con.run("SELECT max(calculated_at) FROM reid_similarity_scores")[0][0]

    pump = EventPump(declarations("test"), load_app_module())
    (route,) = [r for r in pump.schedule_routes if r.decl.handler == "app.backfill_nightly"]
    assert route.schedule.expression == DEFAULT_BACKFILL_SCHEDULE == get_settings().backfill_schedule
    assert pump.fire(route, datetime.now(UTC))

    # The re-ID worker loop takes the shards (and the merge job that runs with the nightly backfill)
    # off the reid queue beside its reid.batch messages.
    outcomes = [process_one_message(received) for received in drain(get_settings().reid_queue_name)]
    assert [o.status for o in outcomes] == ["done"] * 4
    (run_id,) = con.run("SELECT id FROM backfill_runs WHERE trigger = 'schedule'")[0]
    shards = con.run("SELECT detections, rows_written FROM backfill_shards WHERE run_id = :r ORDER BY shard", r=run_id)
    assert shards == [[25, 25 * DEER], [25, 25 * DEER], [10, 10 * DEER]]  # 60 detections in shards of 25
    state = runs.get_run(con, run_id)
    assert state is not None and state.trigger == "schedule" and state.status == "completed"
    assert state.done_detections == DETECTIONS and state.rows_written == DETECTIONS * DEER
    # Every detection re-scored: all its rows, all new, all with the current threshold.
    assert rows_per_detection(con) == {i: DEER for i in range(1, DETECTIONS + 1)}
    assert con.run("SELECT count(*) FROM reid_similarity_scores WHERE calculated_at <= :t OR threshold_used <> :th",
                   t=before, th=str(DEFAULT_REID_THRESHOLD)) == [[0]]
    # At most one matched deer per detection, and only a sex-compatible one.
    assert con.run("SELECT count(*) FROM reid_similarity_scores WHERE matched AND NOT sex_match") == [[0]]
    assert con.run("SELECT max(n) FROM (SELECT count(*) FILTER (WHERE matched) AS n FROM reid_similarity_scores"
                   " GROUP BY detection_id) c")[0][0] == 1


def test_a_redelivered_shard_is_skipped(con: Any) -> None:
    state = enqueue.enqueue_run(con, BackfillScope(), trigger="schedule", shard_size=40)
    received = list(drain(get_settings().reid_queue_name))
    assert len(received) == 2
    for message in received:
        process_backfill_message(message, parse_message(message.body))
    written = rows(con)
    send(get_settings().reid_queue_name, parse_message(received[0].body))
    (again,) = deliver_reid_queue()
    assert again is not None and again.skipped
    assert rows(con) == written
    assert runs.get_run(con, state.run_id).status == "completed"  # type: ignore[union-attr]


def test_interrupted_and_resumed_ends_with_the_rows_of_an_uninterrupted_run(con: Any) -> None:
    scope = BackfillScope(threshold=0.75)
    backfill(con, BackfillScope(threshold=0.5), atomic=True)  # a full log to replace

    run, resumed = runner.prepare_run(con, scope, trigger="cli", shard_size=10)
    assert not resumed and run.total_shards == 6
    checks = iter([False, False, True])  # stop before the third shard (what Ctrl-C does)
    stopped = runner.execute_run(con, run, should_stop=lambda: next(checks, True))
    assert stopped.stopped and stopped.run.done_shards == 2 and stopped.run.status == "running"
    # Never half a detection: each has all its rows, the first 20 new, the others still the old ones.
    assert set(rows_per_detection(con).values()) == {DEER}
    thresholds = dict(con.run("SELECT detection_id, max(threshold_used) FROM reid_similarity_scores GROUP BY 1"))
    assert {float(thresholds[i]) for i in range(1, 21)} == {0.75}
    assert {float(thresholds[i]) for i in range(21, 61)} == {0.5}

    again, resumed = runner.prepare_run(con, scope, trigger="cli", shard_size=10)
    assert resumed and again.run_id == run.run_id and again.done_shards == 2
    finished = runner.execute_run(con, again)
    assert len(finished.results) == 4 and finished.run.status == "completed"
    resumed_rows = rows(con)

    backfill(con, BackfillScope(threshold=0.5), atomic=True)  # back to the old log, then in one go
    uninterrupted = backfill(con, scope, shard_size=10, resume=False)
    assert uninterrupted.run.run_id != run.run_id and not uninterrupted.stopped
    assert rows(con) == resumed_rows
    assert len(resumed_rows) == DETECTIONS * DEER


def test_an_atomic_run_stopped_mid_copy_changes_nothing(con: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    backfill(con, BackfillScope(), atomic=True)
    before = rows(con)
    monkeypatch.setattr(rescore, "CHUNK_DETECTIONS", 10)
    run, _ = runner.prepare_run(con, BackfillScope(threshold=0.6), trigger="cli", atomic=True)
    calls = iter(range(100))
    outcome = runner.execute_run(con, run, should_stop=lambda: next(calls) >= 3)  # after two COPY chunks
    assert outcome.stopped and outcome.run.status == "running"
    assert rows(con) == before
    finished = runner.execute_run(con, runner.prepare_run(con, BackfillScope(threshold=0.6), trigger="cli",
                                                          atomic=True)[0])
    assert finished.run.status == "completed" and finished.rows == DETECTIONS * DEER
    assert con.run("SELECT DISTINCT CAST(threshold_used AS TEXT) FROM reid_similarity_scores") == [["0.6000"]]


def test_dry_run_writes_nothing(con: Any, capsys: pytest.CaptureFixture[str]) -> None:
    backfill(con, BackfillScope(), atomic=True)
    before = (rows(con), con.run("SELECT count(*), max(updated_at) FROM backfill_runs"),
              con.run("SELECT max(calculated_at) FROM reid_similarity_scores"))
    assert cli_main(["backfill", "--dry-run", "--threshold", "0.5"]) == 0
    assert cli_main(["backfill", "--dry-run", "--limit", "30"]) == 0
    out = capsys.readouterr().out
    assert "would replace the score rows of 60 detections with 420 rows" in out
    assert "would replace the score rows of 30 detections with 210 rows" in out
    assert out.count("nothing was written") == 2
    after = (rows(con), con.run("SELECT count(*), max(updated_at) FROM backfill_runs"),
             con.run("SELECT max(calculated_at) FROM reid_similarity_scores"))
    assert after == before


def test_cli_backfill_since_and_limit(con: Any, capsys: pytest.CaptureFixture[str]) -> None:
    cutoff = con.run("SELECT captured_at FROM images ORDER BY captured_at OFFSET 40 LIMIT 1")[0][0]
    assert cli_main(["backfill", "--since", cutoff.isoformat(), "--limit", "5", "--threshold", "0.7"]) == 0
    assert "5 detections re-scored, 35 score rows" in capsys.readouterr().out
    selected = con.run("SELECT DISTINCT s.detection_id FROM reid_similarity_scores s")
    assert len(selected) == 5
    assert con.run("SELECT count(*) FROM reid_similarity_scores s JOIN detections d ON d.id = s.detection_id"
                   " JOIN images i ON i.id = d.image_id WHERE i.captured_at < :c", c=cutoff) == [[0]]
    assert cli_main(["backfill", "--atomic", "--limit", "5"]) == 2


def _http(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    answer = call(method, url, body)
    return answer.status, answer.body


def test_api_backfill_job_reports_progress_until_completed(con: Any, api: str) -> None:
    status, accepted = _http("POST", f"{api}/api/reid/backfill", {"limit": 30, "threshold": 0.7})
    assert status == 202, accepted
    assert accepted["status"] == "queued" and accepted["total_detections"] == 30
    job_url = f"{api}{accepted['status_url']}"
    assert _http("GET", job_url)[1]["progress"] == {"processed": 0, "total": 30, "percent": 0.0}

    assert len(deliver_reid_queue()) == accepted["shards"]
    status, job = _http("GET", job_url)
    assert status == 200 and job["status"] == "completed"
    assert job["progress"] == {"processed": 30, "total": 30, "percent": 100.0}
    assert job["request"] == {"since": None, "limit": 30, "threshold": 0.7}
    assert con.run("SELECT count(DISTINCT detection_id), min(threshold_used) FROM reid_similarity_scores")[0][0] == 30

    status, problem = _http("POST", f"{api}/api/reid/backfill", {"limit": 0, "since": "yesterday", "colour": "red"})
    assert status == 400
    assert {d["field"] for d in problem["details"]} == {"limit", "since", "colour"}
    assert _http("GET", f"{api}/api/reid/backfill/{'0' * 32}")[0] == 404

    status, analysis = _http("GET", f"{api}/api/reid/analysis?threshold=0.7")
    assert status == 200 and analysis["pairs"] == 30 * DEER and analysis["current_threshold"] == 0.7
    assert analysis["recommendation"]["basis"] == "open_set"
    assert _http("GET", f"{api}/api/reid/analysis?threshold=2")[0] == 400


def test_bench_table_is_identical_to_the_score_log(con: Any) -> None:
    from infra.bench.backfill import TARGET, create_identical_empty, describe_table

    create_identical_empty(con)
    assert describe_table(con, TARGET) == describe_table(con, "reid_similarity_scores")
    assert describe_table(con, TARGET) == {"columns": 10, "indexes": 9, "foreign_keys": 2, "checks": 4, "unique": 1}

