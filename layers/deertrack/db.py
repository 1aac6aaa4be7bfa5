"""PostgreSQL access with pg8000: connections from DATABASE_URL, transactions, role/database creation.

Two ways to get a connection:

* `connection()`: a new one, closed when the work ends (CLI commands, workers, migrations, tests);
* `reused()`: the process keeps its connections between requests, as a warm Lambda container keeps
  one between invocations. Opening a connection costs milliseconds (tens with a TLS handshake); the
  lookups of a read route cost well under one. A kept connection is checked before it is handed
  out and replaced when it broke while idle; one that breaks in use is dropped, never given back.

TLS is decided by the URL's `sslmode` as libpq does (`disable`, `allow`/`prefer`: try and fall back,
`require`: encrypted, `verify-ca`/`verify-full`: encrypted and verified against `sslrootcert`, or the
system's CAs). Without one: off for a loopback host (the local stack), `prefer` elsewhere; in AWS
the DATABASE_URL secret says `sslmode=require` (RDS).
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import pg8000.native

from deertrack.db_connection import Connection
from deertrack.settings import get_settings


class DatabaseUnavailable(RuntimeError):
    """PostgreSQL could not be reached or refused the connection."""


@dataclass(frozen=True)
class DatabaseAddress:
    user: str
    password: str | None
    host: str
    port: int
    database: str
    sslmode: str | None = None  # None: off on loopback, "prefer" elsewhere (ssl_context)
    sslrootcert: str | None = None

    @classmethod
    def parse(cls, url: str) -> DatabaseAddress:
        parts = urlparse(url)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        sslmode = query.get("sslmode")
        if sslmode is not None and sslmode not in SSL_MODES:
            raise ValueError(f"DATABASE_URL: sslmode must be one of {', '.join(SSL_MODES)}, not {sslmode!r}")
        return cls(
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password) if parts.password else None,
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            database=(parts.path or "/").lstrip("/") or "postgres",
            sslmode=sslmode,
            sslrootcert=query.get("sslrootcert"),
        )

    def url(self) -> str:
        auth = self.user if self.password is None else f"{self.user}:{self.password}"
        options = "&".join(f"{k}={v}" for k, v in (("sslmode", self.sslmode), ("sslrootcert", self.sslrootcert)) if v)
        return f"postgresql://{auth}@{self.host}:{self.port}/{self.database}" + (f"?{options}" if options else "")

    def with_database(self, database: str) -> DatabaseAddress:
        return DatabaseAddress(self.user, self.password, self.host, self.port, database, self.sslmode,
                               self.sslrootcert)

    @property
    def loopback(self) -> bool:
        return self.host in LOOPBACK_HOSTS or self.host.startswith("127.")

    def ssl_context(self) -> ssl.SSLContext | bool | None:
        """pg8000's ssl_context: False (no TLS), None (try TLS, fall back), or a context (TLS required)."""
        mode = self.sslmode or ("disable" if self.loopback else "prefer")
        if mode == "disable":
            return False
        if mode in ("allow", "prefer"):
            return None
        context = ssl.create_default_context(cafile=self.sslrootcert)
        if mode == "require":
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif mode == "verify-ca":
            context.check_hostname = False
        return context


SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
LOOPBACK_HOSTS = ("localhost", "::1")


#: Socket timeout of a connection (seconds) unless the caller asks for another; None waits forever.
DEFAULT_TIMEOUT_S = 10.0


def connect(url: str | None = None, timeout: float | None = DEFAULT_TIMEOUT_S, *,
            prepare_statements: bool = True) -> pg8000.native.Connection:
    """Open a native pg8000 connection (autocommit unless a transaction is begun; deertrack.db_connection:
    queries with parameters run as kept prepared statements unless `prepare_statements` is False)."""
    address = DatabaseAddress.parse(url or get_settings().database_url)
    try:
        return Connection(
            user=address.user,
            password=address.password,
            host=address.host,
            port=address.port,
            database=address.database,
            timeout=timeout,
            application_name="deertrack",
            ssl_context=address.ssl_context(),
            prepare_statements=prepare_statements,
        )
    except (OSError, pg8000.native.InterfaceError, pg8000.native.DatabaseError) as exc:
        raise DatabaseUnavailable(
            f"cannot connect to PostgreSQL at {address.host}:{address.port}/{address.database} "
            f"as {address.user}: {exc}"
        ) from exc


@contextmanager
def connection(url: str | None = None, timeout: float | None = DEFAULT_TIMEOUT_S, *,
               prepare_statements: bool = True) -> Iterator[pg8000.native.Connection]:
    """A connection closed however the work ends (errors on closing a broken one are ignored)."""
    con = connect(url, timeout=timeout, prepare_statements=prepare_statements)
    try:
        yield con
    finally:
        with suppress(Exception):  # e.g. the socket is unusable after a hard stop mid-COPY
            con.close()


#: Connections a process keeps per database URL, idle, for `reused()`.
MAX_IDLE = 4
_idle: dict[str, list[pg8000.native.Connection]] = {}
_idle_lock = threading.Lock()
#: Errors after which a connection is dropped, not kept.
BROKEN = (pg8000.native.InterfaceError, OSError)
#: SQLSTATEs the server sends as it ends a connection or refuses one: class 08 (connection exception),
#: 57P01 admin_shutdown (a fast shutdown, pg_terminate_backend), 57P02 crash_shutdown, 57P03
#: cannot_connect_now (starting up, shutting down, in recovery).
LOST_SQLSTATES = ("57P01", "57P02", "57P03")


def _raised_in_pg8000(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if "pg8000" in tb.tb_frame.f_code.co_filename:
            return True
        tb = tb.tb_next
    return False


def connection_lost(exc: BaseException) -> bool:
    """Whether `exc` means the connection to PostgreSQL is gone (the socket, or the server ending it),
    as opposed to an SQL error on a connection that still works."""
    if isinstance(exc, pg8000.native.InterfaceError | DatabaseUnavailable):
        return True
    if isinstance(exc, OSError):  # pg8000 lets socket errors through as they are: only its own count
        return _raised_in_pg8000(exc)
    if isinstance(exc, pg8000.native.DatabaseError):
        fields = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
        code = str(fields.get("C", ""))
        return code.startswith("08") or code in LOST_SQLSTATES
    return False


def _take(url: str) -> pg8000.native.Connection | None:
    with _idle_lock:
        idle = _idle.get(url)
        return idle.pop() if idle else None


def _keep(url: str, con: pg8000.native.Connection) -> None:
    if getattr(con, "_transaction_status", b"I") != b"I":  # left inside a transaction: never hand that on
        _close_quietly(con)
        return
    with _idle_lock:
        idle = _idle.setdefault(url, [])
        if len(idle) < MAX_IDLE:
            idle.append(con)
            return
    _close_quietly(con)


def _close_quietly(con: pg8000.native.Connection) -> None:
    with suppress(Exception):  # already broken; nothing more to do
        con.close()


@contextmanager
def reused(url: str | None = None) -> Iterator[pg8000.native.Connection]:
    """A connection the process keeps between uses (autocommit). Raises DatabaseUnavailable when none can
    be had, or when it breaks while in use (it is then dropped)."""
    url = url or get_settings().database_url
    con = _take(url)
    if con is not None:
        try:
            con.run("SELECT 1")
        except BROKEN + (pg8000.native.DatabaseError,):
            _close_quietly(con)
            con = None
    if con is None:
        con = connect(url)
    try:
        yield con
    except Exception as exc:
        if isinstance(exc, DatabaseUnavailable) or not connection_lost(exc):
            _keep(url, con)  # an SQL error leaves an autocommit connection usable
            raise
        _close_quietly(con)
        raise DatabaseUnavailable(f"PostgreSQL connection lost: {exc}") from exc
    except BaseException:
        _keep(url, con)
        raise
    _keep(url, con)


def drop_reused() -> None:
    """Close every kept connection (tests that switch databases; a process about to fork)."""
    with _idle_lock:
        connections = [c for idle in _idle.values() for c in idle]
        _idle.clear()
    for con in connections:
        _close_quietly(con)


@contextmanager
def transaction(con: pg8000.native.Connection) -> Iterator[pg8000.native.Connection]:
    """BEGIN … COMMIT, ROLLBACK on any exception."""
    con.run("BEGIN")
    try:
        yield con
    except BaseException:
        con.run("ROLLBACK")
        raise
    con.run("COMMIT")


def rows_as_dicts(con: pg8000.native.Connection, sql: str, **params: Any) -> list[dict[str, Any]]:
    rows = con.run(sql, **params)
    names = [c["name"] for c in con.columns or []]
    return [dict(zip(names, row, strict=True)) for row in rows]


def ensure_role_and_database(database_url: str, admin_url: str) -> list[str]:
    """Create the application role and database if missing. Returns what was created.

    Needs a superuser connection (DATABASE_ADMIN_URL); when that is not possible the caller
    gets DatabaseUnavailable and the migration goes on with the target as it is.
    """
    target = DatabaseAddress.parse(database_url)
    created: list[str] = []
    with connection(admin_url) as admin:
        if not admin.run("SELECT 1 FROM pg_roles WHERE rolname = :r", r=target.user):
            password = (
                f" PASSWORD {pg8000.native.literal(target.password)}" if target.password else ""
            )
            admin.run(f"CREATE ROLE {pg8000.native.identifier(target.user)} LOGIN{password}")
            created.append(f"role {target.user}")
        if not admin.run("SELECT 1 FROM pg_database WHERE datname = :d", d=target.database):
            database, owner = pg8000.native.identifier(target.database), pg8000.native.identifier(target.user)
            admin.run(f"CREATE DATABASE {database} OWNER {owner}")
            created.append(f"database {target.database}")
    return created


def drop_database(database: str, admin_url: str) -> None:
    with connection(admin_url) as admin:
        admin.run(f"DROP DATABASE IF EXISTS {pg8000.native.identifier(database)} WITH (FORCE)")
