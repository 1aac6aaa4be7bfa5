"""`deertrack up`: the whole local stack in the foreground until Ctrl-C (see infra/stack.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from deertrack.cli import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "up",
        help="run everything on this machine (emulator, Redis, PostgreSQL, API, event pump, workers) until Ctrl-C",
        description="Bring the whole service up on one machine and stay in the foreground; Ctrl-C or SIGTERM "
        "stops everything it started.",
    )
    parser.add_argument("--demo", action="store_true", help="load the demo data set in the background")
    parser.add_argument("--emulator-port", type=int, default=5001, metavar="PORT",
                        help="port of the embedded moto server when AWS_ENDPOINT_URL is unset "
                        "(default 5001; 0 or a taken port picks a free one)")
    parser.add_argument("--isolated", action="store_true",
                        help="start throwaway Redis and PostgreSQL even when configured ones are reachable")
    parser.add_argument("--state-dir", type=Path, default=None, metavar="DIR",
                        help="where throwaway servers keep their files (default: .local/ in the checkout)")
    parser.add_argument("--no-workers", action="store_true", help="do not start the batch workers")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from infra.stack import DEFAULT_STATE_DIR, LocalStack, StackError, StackOptions

    if not 0 <= args.emulator_port <= 65535:
        raise CommandError(f"--emulator-port must be 0-65535, got {args.emulator_port}", code=2)
    options = StackOptions(
        demo=args.demo,
        emulator_port=args.emulator_port,
        isolated=args.isolated,
        state_dir=(args.state_dir or DEFAULT_STATE_DIR).resolve(),
        workers=not args.no_workers,
    )
    try:
        return LocalStack(options).run()
    except StackError as exc:
        raise CommandError(f"cannot bring the stack up: {exc}") from exc
