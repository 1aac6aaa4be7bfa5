"""Shared fixtures. Integration tests get real Redis and PostgreSQL and the AWS emulator over HTTP,
isolated per test run: their own database (deertrack_test_<run>), their own Redis key prefix and
their own embedded emulator, all removed at the end.

The emulator is moto unless `--emulator localstack` (or DEERTRACK_TEST_EMULATOR=localstack) asks for an
embedded LocalStack; CI runs tests/e2e a second time that way. LocalStack's virtualenv is shared by
every run (DEERTRACK_LOCALSTACK_VENV, by default the checkout's .local/localstack/venv); its files
live in the run's temporary folder.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from gpu_batch.reid.embedder import Embedder
    from infra.emulator import Emulator

RUN_ID = uuid.uuid4().hex[:10]
TEST_DATABASE = f"deertrack_test_{RUN_ID}"
REDIS_PREFIX = f"test:{RUN_ID}:"
ADMIN_URL = os.environ.get("DATABASE_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BASE_DB_URL = os.environ.get("TEST_DATABASE_BASE_URL", "postgresql://deertrack@127.0.0.1:5432/")

# Unit tests must not reach a developer's real resources by accident.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ["REDIS_KEY_PREFIX"] = REDIS_PREFIX
os.environ["STAGE"] = "test"
os.environ["LOG_LEVEL"] = os.environ.get("TEST_LOG_LEVEL", "WARNING")
# The embedded emulator logs every HTTP request at INFO; keep test output readable.
logging.getLogger("werkzeug").setLevel(logging.WARNING)
# One LocalStack install for every test (and every `deertrack up` a test starts).
os.environ.setdefault("DEERTRACK_LOCALSTACK_VENV",
                      os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".local", "localstack",
                                   "venv"))
EMULATOR_VARIABLE = "DEERTRACK_TEST_EMULATOR"

# After the environment above (the logger reads LOG_LEVEL on import); tests import it from here.
from deertrack.caches import reset_caches  # noqa: E402


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--emulator", choices=("moto", "localstack"), default=None,
                     help=f"the AWS emulator of integration and e2e tests (default: ${EMULATOR_VARIABLE}, else moto)")


def emulator_choice(config: pytest.Config) -> str:
    choice = config.getoption("--emulator") or os.environ.get(EMULATOR_VARIABLE, "").strip() or "moto"
    if choice not in ("moto", "localstack"):
        raise pytest.UsageError(f"{EMULATOR_VARIABLE} must be moto or localstack, got {choice!r}")
    return choice


def pytest_report_header(config: pytest.Config) -> str:
    return f"AWS emulator: {emulator_choice(config)}"


@dataclass
class Stack:
    emulator: Emulator
    database_url: str
    redis_prefix: str

    @property
    def emulator_url(self) -> str:
        return self.emulator.url


def start_emulator(name: str, tmp_path_factory: pytest.TempPathFactory) -> Emulator:
    from infra.emulator import EmbeddedEmulator

    if name == "moto":
        return EmbeddedEmulator().start()
    from infra.localstack import EmbeddedLocalStack, LocalStackUnavailable

    try:
        return EmbeddedLocalStack(tmp_path_factory.mktemp("localstack-state")).start()
    except LocalStackUnavailable as exc:
        pytest.fail(f"--emulator localstack: {exc}")


@pytest.fixture(scope="session")
def _services(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Iterator[Stack]:
    from deertrack import db, migrations
    from infra.user_pool import UserPool
    from tests.auth_tokens import use_pool

    database_url = BASE_DB_URL.rstrip("/") + "/" + TEST_DATABASE
    try:
        db.ensure_role_and_database(database_url, ADMIN_URL)
    except db.DatabaseUnavailable as exc:
        pytest.fail(f"integration tests need PostgreSQL: {exc}")
    emulator = start_emulator(emulator_choice(pytestconfig), tmp_path_factory)
    # Sign-in: a key pair of this run, its JWKS on loopback; every API server of the run trusts it.
    user_pool = UserPool(tmp_path_factory.mktemp("user-pool"))
    os.environ["AUTH_JWKS_URL"] = user_pool.serve()
    use_pool(user_pool)
    os.environ["DATABASE_URL"] = database_url
    os.environ["AWS_ENDPOINT_URL"] = emulator.url
    reset_caches()
    with db.connection(database_url) as con:
        migrations.apply(con)
    try:
        yield Stack(emulator, database_url, REDIS_PREFIX)
    finally:
        emulator.stop()
        user_pool.stop()
        use_pool(None)
        _clear_redis()
        db.drop_database(TEST_DATABASE, ADMIN_URL)


def _clear_redis() -> None:
    from deertrack.redis_client import get_redis

    client = get_redis()
    keys = list(client.scan_iter(match=REDIS_PREFIX + "*", count=1000))
    if keys:
        client.delete(*keys)


def _clear_database(database_url: str) -> None:
    import pg8000.native

    from deertrack import db

    with db.connection(database_url) as con:
        tables = [
            r[0]
            for r in con.run(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'"
            )
        ]
        if tables:
            con.run("TRUNCATE " + ", ".join(pg8000.native.identifier(t) for t in tables) + " RESTART IDENTITY CASCADE")


def clean_slate(services: Stack) -> None:
    """Empty tables, no keys under the prefix, a reset emulator with fresh AWS resources."""
    from infra.resources import create_resources
    from infra.template import declarations

    services.emulator.reset()
    reset_caches()
    _clear_database(services.database_url)
    _clear_redis()
    create_resources(declarations("test"))


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    """The built-in re-ID embedder, loaded once per test module."""
    from gpu_batch.reid.embedder import builtin_embedder

    return builtin_embedder()


@pytest.fixture
def stack(_services: Stack) -> Iterator[Stack]:
    """A clean slate for one test (see clean_slate)."""
    clean_slate(_services)
    yield _services
    reset_caches()


@pytest.fixture
def api(stack: Stack) -> Iterator[str]:
    """The Chalice app served over HTTP on a free loopback port; yields its base URL."""
    from infra.api_server import ApiServer

    server = ApiServer(port=0).start()
    try:
        yield server.url
    finally:
        server.stop()
