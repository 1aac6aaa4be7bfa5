"""Numbered SQL migrations: applied in order, each in its own transaction, recorded, never edited."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pg8000.native

from deertrack.logs import logger

__all__ = ["Migration", "MigrationError", "apply", "discover", "migrations_dir"]

MIGRATION_NAME = re.compile(r"^(\d{3,})_[a-z0-9_]+\.sql$")


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    filename: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def migrations_dir() -> Path:
    """The SQL files ship inside this package (package data), beside the code that applies them."""
    return Path(str(resources.files("deertrack.migrations")))


def discover(directory: Path | None = None) -> list[Migration]:
    directory = directory or migrations_dir()
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = MIGRATION_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNN_lowercase_words.sql")
        found.append(Migration(int(match.group(1)), path.name, path.read_text()))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a number in {directory}")
    return found


def _ensure_table(con: pg8000.native.Connection) -> None:
    con.run(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
               version    INTEGER PRIMARY KEY,
               filename   TEXT NOT NULL,
               checksum   TEXT NOT NULL,
               applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"""
    )


def apply(con: pg8000.native.Connection, directory: Path | None = None) -> list[str]:
    """Apply the pending migrations; return the filenames applied (empty when up to date).

    Refuses (MigrationError) when an applied file has been edited since, or is missing.
    """
    migrations = discover(directory)
    _ensure_table(con)
    applied = {v: (f, c) for v, f, c in con.run("SELECT version, filename, checksum FROM schema_migrations")}
    by_version = {m.version: m for m in migrations}
    for version, (filename, checksum) in sorted(applied.items()):
        current = by_version.get(version)
        if current is None:
            raise MigrationError(f"{filename} was applied but is no longer in {directory or migrations_dir()}")
        if current.checksum != checksum:
            raise MigrationError(
                f"{current.filename} was edited after it was applied; add a new numbered migration instead"
            )
    done: list[str] = []
    for migration in migrations:
        if migration.version in applied:
            continue
        con.run("BEGIN")
        try:
            # Serialize concurrent migrators; the second one finds the row and skips.
            con.run("LOCK TABLE schema_migrations IN EXCLUSIVE MODE")
            if con.run("SELECT 1 FROM schema_migrations WHERE version = :v", v=migration.version):
                con.run("ROLLBACK")
                continue
            con.execute_simple(migration.sql)
            con.run(
                "INSERT INTO schema_migrations (version, filename, checksum) VALUES (:v, :f, :c)",
                v=migration.version,
                f=migration.filename,
                c=migration.checksum,
            )
            con.run("COMMIT")
        except Exception as exc:
            con.run("ROLLBACK")
            raise MigrationError(f"{migration.filename} failed and was rolled back: {exc}") from exc
        logger.info("migration applied", extra={"migration": migration.filename})
        done.append(migration.filename)
    return done
