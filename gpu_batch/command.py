"""`deertrack-batch`, the batch image's command: run a worker until stopped, or apply the migrations.

    deertrack-batch worker NAME [ARGS…]   # gpu_batch/Dockerfile's ENTRYPOINT is `deertrack-batch worker`
    deertrack-batch migrate [--no-create] # the ECS migrate task (template.yaml MigrateTaskDefinition)

Workers are registered by name in WORKERS (name -> module). Each module provides
`main(argv: list[str] | None) -> int`, which parses its own ARGS and runs until SIGTERM / SIGINT.
A name is offered only once its module exists, so `deertrack up` starts exactly the workers there are.
The dev tooling's `deertrack worker` and `deertrack migrate` (infra/cli) are these same commands.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence

from deertrack import db, migrations
from deertrack.settings import SettingsError, get_settings

__all__ = ["WORKERS", "CommandError", "available", "build_parser", "main", "migrate_database",
           "register_migrate", "register_worker"]

#: worker name -> module with main(argv). Add a line here for a new worker.
WORKERS: dict[str, str] = {
    "reid": "gpu_batch.reid.worker",
    "exports": "gpu_batch.export_worker",
}


class CommandError(RuntimeError):
    """A failure a person can act on: printed without a traceback, exit code `code`."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def available() -> list[str]:
    names = []
    for name, module in WORKERS.items():
        try:
            if importlib.util.find_spec(module) is not None:
                names.append(name)
        except ModuleNotFoundError:
            continue
    return names


def register_worker(subparsers: argparse._SubParsersAction) -> None:
    names = available()
    parser = subparsers.add_parser(
        "worker", help="run a batch worker (long-polls its SQS queue) until Ctrl-C / SIGTERM",
        description="Workers: " + ", ".join(f"{n} ({WORKERS[n]})" for n in names)
        + ". Options after NAME go to the worker, e.g. `deertrack worker reid --once`.",
    )
    parser.add_argument("name", choices=names, metavar="NAME", help=" | ".join(names))
    parser.add_argument("worker_args", nargs=argparse.REMAINDER, help="options for that worker (see NAME --help)")
    parser.set_defaults(func=run_worker)


def run_worker(args: argparse.Namespace) -> int:
    try:
        module = importlib.import_module(WORKERS[args.name])
    except ImportError as exc:
        raise CommandError(f"worker {args.name!r} cannot be loaded: {exc}") from exc
    return int(module.main(list(args.worker_args)) or 0)


def register_migrate(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("migrate", help="apply the numbered SQL migrations in layers/deertrack/migrations")
    parser.add_argument("--no-create", action="store_true", help="do not try to create the role/database")
    parser.set_defaults(func=run_migrate)


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


def run_migrate(args: argparse.Namespace) -> int:
    applied = migrate_database(create=not args.no_create)
    if applied:
        for name in applied:
            print(f"applied {name}")
    else:
        print("database is up to date")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deertrack-batch", description="deer tracking batch image")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    register_migrate(subparsers)
    register_worker(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (SettingsError, CommandError) as exc:
        print(f"deertrack-batch: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, SettingsError) else exc.code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
