"""`deertrack bench api` runs end to end (few requests) and cleans up after itself."""

from __future__ import annotations

import re

import pytest

from deertrack import db
from deertrack.redis_client import get_redis
from deertrack.settings import get_settings
from infra.cli import main

pytestmark = pytest.mark.integration


def test_bench_api_prints_figures_and_ratios_and_leaves_nothing(stack, capsys) -> None:
    before = get_settings().model_dump()
    assert main(["bench", "api", "--emulator", "moto", "--requests", "20", "--warmup", "2", "--json"]) == 0
    out = capsys.readouterr().out
    for line in ("redis PING (baseline)", "POST /api/exports/pdf", "GET /api/exports/pdf/{job_id}", "×redis"):
        assert line in out
    assert get_settings().model_dump() == before  # the test's own environment is back
    prefix = re.search(r"Redis prefix (bench:\w+:)", out).group(1)  # other benchmarks may run meanwhile
    assert list(get_redis().scan_iter(match=prefix + "*", count=1000)) == []
    database = re.search(r"database (deertrack_bench_\w+),", out).group(1)
    with db.connection(stack.database_url) as con:
        assert con.run("SELECT count(*) FROM pg_database WHERE datname = :d", d=database)[0][0] == 0
    with db.connection(stack.database_url) as con:
        assert con.run("SELECT count(*) FROM locations")[0][0] == 0  # its rows went to its own database
