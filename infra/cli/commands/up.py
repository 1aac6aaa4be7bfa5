"""`deertrack up`: the whole local stack in the foreground until Ctrl-C (see infra/stack.py)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from infra.cli import CommandError

#: The embedded emulators `deertrack up` can start (infra/emulator.py EMULATORS; not imported: moto is heavy).
EMULATOR_CHOICES = ("localstack", "moto")
EMULATOR_VARIABLE = "DEERTRACK_EMULATOR"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "up",
        help="run everything on this machine (emulator, Redis, PostgreSQL, API, event pump, workers) until Ctrl-C",
        description="Bring the whole service up on one machine and stay in the foreground; Ctrl-C or SIGTERM "
        "stops everything it started.",
    )
    parser.add_argument("--demo", action="store_true", help="load the demo data set in the background")
    parser.add_argument("--emulator", choices=EMULATOR_CHOICES, default=None,
                        help="the embedded AWS emulator when AWS_ENDPOINT_URL is unset (default: "
                        f"${EMULATOR_VARIABLE}, else localstack, which falls back to moto with the reason when it "
                        "cannot be installed or started; named here or in the variable, it must start)")
    parser.add_argument("--emulator-port", type=int, default=None, metavar="PORT",
                        help="port of the embedded emulator (default 4566 for LocalStack, 5001 for moto; "
                        "0 or a taken port picks a free one)")
    parser.add_argument("--isolated", action="store_true",
                        help="start throwaway Redis and PostgreSQL even when configured ones are reachable")
    parser.add_argument("--state-dir", type=Path, default=None, metavar="DIR",
                        help="where throwaway servers keep their files (default: .local/ in the checkout)")
    parser.add_argument("--no-workers", action="store_true", help="do not start the batch workers")
    parser.add_argument("--api-processes", type=int, default=None, metavar="N",
                        help="processes serving the API on its port (default: one per CPU, 2 to 8)")
    parser.set_defaults(func=run)


def chosen_emulator(flag: str | None) -> tuple[str | None, str | None]:
    """(emulator, how it was asked for) from --emulator, else $DEERTRACK_EMULATOR; (None, None) when neither."""
    if flag:
        return flag, f"--emulator {flag}"
    value = os.environ.get(EMULATOR_VARIABLE, "").strip().lower()
    if not value:
        return None, None
    if value not in EMULATOR_CHOICES:
        raise CommandError(f"{EMULATOR_VARIABLE} must be one of {', '.join(EMULATOR_CHOICES)}, got "
                           f"{os.environ[EMULATOR_VARIABLE]!r}", code=2)
    return value, f"{EMULATOR_VARIABLE}={value}"


def run(args: argparse.Namespace) -> int:
    from infra.stack import DEFAULT_STATE_DIR, LocalStack, StackError, StackOptions

    if args.emulator_port is not None and not 0 <= args.emulator_port <= 65535:
        raise CommandError(f"--emulator-port must be 0-65535, got {args.emulator_port}", code=2)
    if args.api_processes is not None and not 1 <= args.api_processes <= 64:
        raise CommandError(f"--api-processes must be 1-64, got {args.api_processes}", code=2)
    emulator, asked_by = chosen_emulator(args.emulator)
    options = StackOptions(
        demo=args.demo,
        emulator=emulator,
        emulator_asked_by=asked_by,
        emulator_port=args.emulator_port,
        isolated=args.isolated,
        state_dir=(args.state_dir or DEFAULT_STATE_DIR).resolve(),
        workers=not args.no_workers,
        api_processes=args.api_processes,
    )
    try:
        return LocalStack(options).run()
    except StackError as exc:
        raise CommandError(f"cannot bring the stack up: {exc}") from exc
