"""`deertrack migrate`: create the role/database when possible, then apply pending migrations."""

from __future__ import annotations

import argparse

from deertrack import db, migrations
from deertrack.settings import get_settings
from infra.cli import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("migrate", help="apply the numbered SQL migrations in layers/deertrack/migrations")
    parser.add_argument("--no-create", action="store_true", help="do not try to create the role/database")
    parser.set_defaults(func=run)


def migrate_database(create: bool = True) -> list[str]:
    settings = get_settings()
    if create:
        try:
            for what in db.ensure_role_and_database(settings.database_url, settings.database_admin_url):
                print(f"created {what}")
        except db.DatabaseUnavailable:
            pass  # no superuser access: the target must already exist; connecting below says if not
    try:
        with db.connection() as con:
            return migrations.apply(con)
    except db.DatabaseUnavailable as exc:
        raise CommandError(f"{exc}\nIs PostgreSQL running? Set DATABASE_URL to reach it.") from exc
    except migrations.MigrationError as exc:
        raise CommandError(str(exc)) from exc


def run(args: argparse.Namespace) -> int:
    applied = migrate_database(create=not args.no_create)
    if applied:
        for name in applied:
            print(f"applied {name}")
    else:
        print("database is up to date")
    return 0
