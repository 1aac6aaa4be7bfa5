"""PostgreSQL access with pg8000: connections from DATABASE_URL, transactions, role/database creation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

import pg8000.native

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

    @classmethod
    def parse(cls, url: str) -> DatabaseAddress:
        parts = urlparse(url)
        return cls(
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password) if parts.password else None,
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            database=(parts.path or "/").lstrip("/") or "postgres",
        )

    def url(self) -> str:
        auth = self.user if self.password is None else f"{self.user}:{self.password}"
        return f"postgresql://{auth}@{self.host}:{self.port}/{self.database}"

    def with_database(self, database: str) -> DatabaseAddress:
        return DatabaseAddress(self.user, self.password, self.host, self.port, database)


#: Socket timeout of a connection (seconds) unless the caller asks for another; None waits forever.
DEFAULT_TIMEOUT_S = 10.0


def connect(url: str | None = None, timeout: float | None = DEFAULT_TIMEOUT_S) -> pg8000.native.Connection:
    """Open a native pg8000 connection (autocommit unless a transaction is begun)."""
    address = DatabaseAddress.parse(url or get_settings().database_url)
    try:
        return pg8000.native.Connection(
            user=address.user,
            password=address.password,
            host=address.host,
            port=address.port,
            database=address.database,
            timeout=timeout,
            application_name="deertrack",
        )
    except (OSError, pg8000.native.InterfaceError, pg8000.native.DatabaseError) as exc:
        raise DatabaseUnavailable(
            f"cannot connect to PostgreSQL at {address.host}:{address.port}/{address.database} "
            f"as {address.user}: {exc}"
        ) from exc


@contextmanager
def connection(url: str | None = None,
               timeout: float | None = DEFAULT_TIMEOUT_S) -> Iterator[pg8000.native.Connection]:
    """A connection closed however the work ends (errors on closing a broken one are ignored)."""
    con = connect(url, timeout=timeout)
    try:
        yield con
    finally:
        with suppress(Exception):  # e.g. the socket is unusable after a hard stop mid-COPY
            con.close()


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


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


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
            admin.run(f"CREATE ROLE {quote_ident(target.user)} LOGIN{password}")
            created.append(f"role {target.user}")
        if not admin.run("SELECT 1 FROM pg_database WHERE datname = :d", d=target.database):
            admin.run(
                f"CREATE DATABASE {quote_ident(target.database)} OWNER {quote_ident(target.user)}"
            )
            created.append(f"database {target.database}")
    return created


def drop_database(database: str, admin_url: str) -> None:
    with connection(admin_url) as admin:
        admin.run(f"DROP DATABASE IF EXISTS {quote_ident(database)} WITH (FORCE)")
