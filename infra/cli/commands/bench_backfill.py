"""`deertrack bench backfill`: the backfill beside a raw COPY of the same rows into an identical
empty table, in a throwaway database (infra.bench.backfill). Prints both times and the ratio."""

from __future__ import annotations

import argparse

from deertrack import db
from infra.cli import CommandError
from infra.cli.commands.bench import add_benchmark

#: What issue 6 asks of the backfill: at most this many times the raw COPY.
RATIO_LIMIT = 1.3


def _configure(parser: argparse.ArgumentParser) -> None:
    from infra.bench import synthetic
    from infra.bench.backfill import MODES

    parser.add_argument("--detections", type=int, default=synthetic.DEMO_DETECTIONS,
                        help=f"detections (default {synthetic.DEMO_DETECTIONS:,}, the demo data's)")
    parser.add_argument("--deer", type=int, default=synthetic.DEMO_DEER,
                        help=f"deer in the gallery (default {synthetic.DEMO_DEER})")
    parser.add_argument("--dim", type=int, default=synthetic.DEFAULT_DIM, help="embedding size (default 256)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each side (default 5; medians)")
    parser.add_argument("--mode", action="append", choices=MODES, dest="modes",
                        help="backfill mode(s) to time (default both: atomic, chunked)")
    parser.add_argument("--bulk-build", action="store_true",
                        help="also time COPY into a bare table followed by building its indexes and FKs")
    parser.add_argument("--keep-database", action="store_true", help="leave the scratch database for inspection")


def run(args: argparse.Namespace) -> int:
    from infra.bench.backfill import MODES, report_lines, run_bench

    if args.detections < 1 or args.deer < 1 or args.repeats < 1 or args.dim < 1:
        raise CommandError("--detections, --deer, --dim and --repeats must be at least 1", code=2)
    try:
        result = run_bench(detections=args.detections, deer=args.deer, dim=args.dim, repeats=args.repeats,
                           modes=tuple(args.modes or MODES), keep_database=args.keep_database,
                           bulk_build=args.bulk_build,
                           say=lambda line: print(line, flush=True))
    except db.DatabaseUnavailable as exc:
        raise CommandError(f"{exc}\nThe benchmark creates a scratch database: it needs DATABASE_ADMIN_URL "
                           "(a superuser) or a role allowed to CREATE DATABASE.") from exc
    print()
    for line in report_lines(result, RATIO_LIMIT):
        print(line)
    return 0


add_benchmark("backfill", "backfill of demo-sized data vs a raw COPY of the same rows (ratio)", run, _configure)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Nothing at the top level: `deertrack bench backfill` is added by add_benchmark."""
