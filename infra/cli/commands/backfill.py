"""`deertrack backfill`: re-score stored embeddings against the current deer gallery, with a progress bar.

Ctrl-C stops it cleanly (a shard is written whole or not at all); run the same command again to
resume. Without --since / --limit the whole score log is replaced in one transaction (--atomic,
the fast path: TRUNCATE + COPY); --chunked replaces it shard by shard instead, committing as it goes.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from types import FrameType

import pg8000.native
from pydantic import ValidationError

from deertrack import db
from deertrack.backfill import enqueue
from deertrack.backfill.scope import BackfillScope
from deertrack.reid.gallery import count_scorable
from deertrack.reid.scoring import DimensionMismatch
from deertrack.settings import get_settings
from gpu_batch.backfill import runner
from gpu_batch.backfill.progress import ProgressBar, ServerProgress, clock
from infra.cli import CommandError


def _since(text: str) -> datetime | date:
    try:
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD) or ISO timestamp") from None


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "backfill", help="re-score stored detection embeddings against the current deer gallery",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--since", type=_since, metavar="DATE",
                        help="only detections whose image was captured on or after DATE (UTC)")
    parser.add_argument("--limit", type=int, metavar="N", help="at most N detections (lowest ids first)")
    parser.add_argument("--threshold", type=float, metavar="T",
                        help="threshold_used and the matched decision (default REID_THRESHOLD)")
    parser.add_argument("--dry-run", action="store_true", help="compute and report; write nothing")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--atomic", action="store_true",
                      help="replace the whole log in one transaction (default without --since/--limit)")
    mode.add_argument("--chunked", action="store_true",
                      help="replace shard by shard, committing each (default with --since/--limit)")
    parser.add_argument("--shard-size", type=int, metavar="N", help="detections per shard (default 500)")
    parser.add_argument("--restart", action="store_true",
                        help="abandon an unfinished run of the same scope and start over")
    parser.set_defaults(func=run)


class _Stop:
    """First Ctrl-C: finish the current shard and stop. Second: stop at once (the open shard rolls back)."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self) -> bool:
        return self.requested

    def handler(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        sys.stderr.write("\nstopping after the current shard (Ctrl-C again to stop now)…\n")


@contextmanager
def _sigint(stop: _Stop) -> Iterator[None]:
    previous = signal.getsignal(signal.SIGINT)
    try:
        signal.signal(signal.SIGINT, stop.handler)
    except ValueError:  # not the main thread (tests): no handler, Ctrl-C is a plain KeyboardInterrupt
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _scope(args: argparse.Namespace) -> BackfillScope:
    try:
        return BackfillScope(since=args.since, limit=args.limit, threshold=args.threshold)
    except ValidationError as exc:
        problems = "; ".join(f"--{'-'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise CommandError(problems, code=2) from None


def run(args: argparse.Namespace) -> int:
    scope = _scope(args)
    if args.atomic and not scope.whole_log:
        raise CommandError("--atomic replaces the whole score log; it cannot be combined with --since or --limit",
                           code=2)
    atomic = bool(args.atomic or (scope.whole_log and not args.chunked))
    shard_size = args.shard_size or get_settings().backfill_shard_size
    if shard_size < 1:
        raise CommandError("--shard-size must be at least 1", code=2)
    print(f"backfill: {scope.describe()}", file=sys.stderr)
    try:
        with db.connection(timeout=enqueue.SOCKET_TIMEOUT_S) as con:
            if args.dry_run:
                return _dry_run(con, scope, atomic, shard_size)
            return _run(con, scope, atomic, shard_size, restart=args.restart)
    except db.DatabaseUnavailable as exc:
        raise CommandError(f"{exc}\nIs PostgreSQL running? Set DATABASE_URL to reach it.") from exc
    except DimensionMismatch as exc:
        raise CommandError(str(exc)) from exc
    except enqueue.BackfillRefused as exc:
        raise CommandError(str(exc), code=2) from exc
    except pg8000.native.DatabaseError as exc:
        detail = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
        if detail.get("C") == "42P01":
            raise CommandError(f"{detail.get('M')}: run `deertrack migrate` first") from exc
        raise


def _bar(deer_count: int) -> ProgressBar:
    return ProgressBar(unit="detections", rows_per_item=deer_count)


def _dry_run(con: pg8000.native.Connection, scope: BackfillScope, atomic: bool, shard_size: int) -> int:
    bar = _bar(count_scorable(con))
    outcome = runner.dry_run(con, scope, atomic=atomic, shard_size=shard_size, on_progress=bar.update)
    bar.finish()
    print(f"dry run: would replace the score rows of {outcome.detections:,} detections with {outcome.rows:,} rows "
          f"({outcome.run.total_shards} shard(s), {'one transaction' if atomic else 'a transaction per shard'}) "
          f"at threshold {outcome.run.threshold:.4f}")
    print(f"  {outcome.matched_detections:,} detections would be matched to a deer; "
          f"{outcome.changed_detections:,} would be matched differently from their current assignment")
    print("  nothing was written")
    return 0


def _run(con: pg8000.native.Connection, scope: BackfillScope, atomic: bool, shard_size: int, *,
         restart: bool) -> int:
    state, resumed = runner.prepare_run(con, scope, trigger="cli", atomic=atomic, shard_size=shard_size,
                                        resume=not restart)
    if state.total_detections == 0:
        print("nothing to backfill: no detection in scope has a stored embedding "
              "(`deertrack reid embed --all` computes them)")
        return 0
    how = "atomic: one transaction" if state.atomic else f"{state.total_shards} shards, committed one by one"
    if resumed:
        print(f"resuming run {state.run_id}: {state.done_shards}/{state.total_shards} shards, "
              f"{state.done_detections:,}/{state.total_detections:,} detections already done", file=sys.stderr)
    else:
        print(f"run {state.run_id}: {state.total_detections:,} detections ({how})", file=sys.stderr)
    deer = count_scorable(con)
    bar = _bar(deer)
    total = state.total_detections
    bar.update(state.done_detections, total, force=True)
    pid = int(con.run("SELECT pg_backend_pid()")[0][0])
    watcher = ServerProgress(state.run_id, pid, deer, lambda done: bar.update(min(done, total), total))
    stop = _Stop()
    try:
        with _sigint(stop), watcher:
            outcome = runner.execute_run(con, state, should_stop=stop)
        bar.update(outcome.run.done_detections, total, force=True)
    except KeyboardInterrupt:
        bar.finish()
        print(f"stopped at once; the open shard was rolled back. Run the same command again to resume "
              f"run {state.run_id}.", file=sys.stderr)
        return 130
    bar.finish()
    run = outcome.run
    if outcome.stopped:
        rolled_back = " (the atomic run was rolled back: nothing changed)" if run.atomic else ""
        print(f"stopped: {run.done_detections:,}/{run.total_detections:,} detections done{rolled_back}. "
              f"Run the same command again to resume run {run.run_id}.", file=sys.stderr)
        return 130
    rate = outcome.rows / outcome.seconds if outcome.seconds else 0.0
    print(f"backfill {run.run_id} {run.status}: {outcome.detections:,} detections re-scored, "
          f"{outcome.rows:,} score rows written in {clock(outcome.seconds)} ({rate:,.0f} rows/s) "
          f"at threshold {run.threshold:.4f}")
    print(f"  {outcome.matched_detections:,} matched a deer; {outcome.changed_detections:,} matched a different deer "
          "than the one they are assigned to (review them; a backfill changes no assignment)")
    return 0
