"""`deertrack bench load` runs briefly against a started API (the test stack's, over HTTP) and reports
every level and kind with no errors; against nothing it fails with the reason."""

from __future__ import annotations

import json

import pytest

from deertrack.auth import Role
from deertrack.redis_client import get_redis
from deertrack.redis_client import key as redis_key
from infra.cli import main
from infra.emulator import free_port
from tests.auth_tokens import token

pytestmark = pytest.mark.integration


def test_bench_load_reports_each_level_and_kind_without_errors(api: str, capsys) -> None:
    code = main(["bench", "load", "--url", api, "--token", token(Role.VIEWER, "bench-user"), "--requests", "40",
                 "--concurrency", "1,4", "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    figures = json.loads(out.strip().splitlines()[-1])
    assert figures["mix"] == {"status": 60, "pdf": 10, "deer": 30}
    assert [level["concurrency"] for level in figures["levels"]] == [1, 4]
    for level in figures["levels"]:
        assert level["requests"] == 40 and level["errors"] == 0 and level["error_kinds"] == {}
        assert level["requests_per_s"] > 0
        assert {kind: figure["ok"] for kind, figure in level["kinds"].items()} == {"status": 24, "pdf": 4,
                                                                                 "deer": 12}
        for figure in level["kinds"].values():
            assert 0 < figure["p50_ms"] <= figure["p99_ms"]
    for line in ("GET /api/exports/pdf/{job_id}", "POST /api/exports/pdf", "GET /api/deer?limit=20",
                 "errors: 0 (none)", "cancelled 28 of the 28 jobs"):
        assert line in out
    assert list(get_redis().scan_iter(redis_key("export_job:*"))) == []  # its jobs were cancelled and forgotten


def test_bench_load_without_a_stack_says_so_and_fails(stack, capsys) -> None:
    code = main(["bench", "load", "--url", f"http://127.0.0.1:{free_port()}", "--token", "x", "--requests", "5"])
    assert code == 1
    assert "no API answers at http://127.0.0.1:" in capsys.readouterr().err


def test_bench_load_times_each_read_route_alone(api: str, capsys) -> None:
    from tests.export_api_client import seed

    seeded = seed()
    code = main(["bench", "load", "--url", api, "--token", token(Role.VIEWER, "bench-user"), "--requests", "10",
                 "--concurrency", "1", "--reads", "5", "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    reads = json.loads(out.strip().splitlines()[-1])["reads"]
    assert list(reads) == ["GET /api/exports/pdf/{job_id}", "GET /api/deer?limit=20", "GET /api/deer/{deer_id}",
                           "GET /api/detections/{detection_id}", "GET /api/review/queue?limit=20",
                           "GET /api/review/queue?limit=20&offset={page} (a new page each time)"]
    for figure in reads.values():
        assert figure["ok"] == 5 and 0 < figure["p50_ms"] <= figure["p99_ms"]
    assert "read routes: errors: 0 (none)" in out
    assert seeded.deer_ids
