"""Fixtures of the chaos tests: a Redis and a PostgreSQL server of the test's own, which it may kill and
restart. They are the dev stack's throwaway servers (infra/services.py), so a restart keeps the port and,
for PostgreSQL, the data directory, as `deertrack up` does."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.services import ThrowawayPostgres, ThrowawayRedis, find_binary, postgres_binaries
from tests.conftest import Stack, reset_caches

#: The role and database of the throwaway PostgreSQL (the defaults of DATABASE_URL).
DATABASE = "postgresql://deertrack@127.0.0.1:5432/deer_tracking"


@pytest.fixture
def throwaway_redis(stack: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[ThrowawayRedis]:
    """The job store's Redis is a server of this test's own (REDIS_URL points at it)."""
    if find_binary("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = ThrowawayRedis(tmp_path).start()
    monkeypatch.setenv("REDIS_URL", server.url)
    reset_caches()
    try:
        yield server
    finally:
        server.stop()
        reset_caches()


@pytest.fixture
def throwaway_postgres(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[ThrowawayPostgres]:
    """A PostgreSQL cluster of this test's own, migrated (DATABASE_URL points at it)."""
    from deertrack import db, migrations

    if postgres_binaries() is None:
        pytest.skip("the PostgreSQL server binaries (initdb, postgres) are not installed")
    # Not under pytest's tmp_path: as root the server runs as 'postgres', which must reach its folder.
    state_dir = Path(tempfile.mkdtemp(prefix="deertrack-chaos-pg-", dir="/tmp"))
    state_dir.chmod(0o755)
    server = ThrowawayPostgres(state_dir)
    try:
        server.start()
        url = server.database_url(DATABASE)
        db.ensure_role_and_database(url, server.admin_url)
        with db.connection(url) as con:
            migrations.apply(con)
        monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.setenv("DATABASE_ADMIN_URL", server.admin_url)
        reset_caches()
        yield server
    finally:
        reset_caches()
        server.stop()
        shutil.rmtree(state_dir, ignore_errors=True)
