"""What `deertrack up` decides when Redis or PostgreSQL is unreachable, without touching real servers.

The probes and binary look-ups are replaced (monkeypatch) so each branch can be reached on any machine:
explicitly configured and down, default and down with nothing installed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import infra.services as services
from deertrack.settings import Settings
from infra.stack import LocalStack, StackError, StackOptions


@pytest.fixture
def nothing_reachable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "redis_problem", lambda url: "cannot connect: Connection refused")
    monkeypatch.setattr(services, "postgres_problem", lambda url: "nothing listens on 127.0.0.1:5432")


def stack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> LocalStack:
    for name in ("REDIS_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return LocalStack(StackOptions(state_dir=tmp_path))


def test_default_redis_down_and_not_installed_names_the_package(
        nothing_reachable: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(services, "find_binary", lambda name: None)
    with pytest.raises(StackError, match="sudo apt-get install redis-server"):
        stack(monkeypatch, tmp_path)._redis(Settings())


def test_default_postgres_down_and_not_installed_names_the_package(
        nothing_reachable: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(services, "postgres_binaries", lambda: None)
    with pytest.raises(StackError, match="sudo apt-get install postgresql"):
        stack(monkeypatch, tmp_path)._postgres(Settings())


def test_explicit_urls_are_never_replaced_by_throwaway_servers(
        nothing_reachable: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    started: list[str] = []
    monkeypatch.setattr(services, "ThrowawayRedis", lambda *a: started.append("redis"))
    monkeypatch.setattr(services, "ThrowawayPostgres", lambda *a: started.append("postgres"))
    local = stack(monkeypatch, tmp_path, REDIS_URL="redis://127.0.0.1:6390/0",
                  DATABASE_URL="postgresql://deertrack@127.0.0.1:5433/deer_tracking")
    settings = Settings()
    with pytest.raises(StackError, match="Redis is not reachable at REDIS_URL=redis://127.0.0.1:6390/0"):
        local._redis(settings)
    with pytest.raises(StackError, match="PostgreSQL is not reachable at DATABASE_URL="):
        local._postgres(settings)
    assert started == []


def test_reachable_configured_services_are_used_as_they_are(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(services, "redis_problem", lambda url: None)
    monkeypatch.setattr(services, "postgres_problem", lambda url: None)
    local = stack(monkeypatch, tmp_path)
    settings = Settings()
    local._redis(settings)
    local._postgres(settings)
    assert local.state.endpoints["Redis"].origin == "configured"
    assert local.state.endpoints["PostgreSQL"].url == settings.database_url
