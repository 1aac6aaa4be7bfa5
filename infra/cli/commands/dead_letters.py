"""`deertrack dead-letters [QUEUE]`: mark what dead messages were about; `deertrack redrive QUEUE`: send them back.

QUEUE is a work queue by its short name (reid, exports, export-requests, image-events); its
dead-letter queue comes from its redrive policy (template.yaml).
"""

from __future__ import annotations

import argparse
import json

from infra.cli import CommandError

QUEUES = ("reid", "exports", "export-requests", "image-events")


def _queue_name(short: str) -> str:
    from deertrack.dead_letters import work_queues

    return work_queues()[short]


def register(subparsers: argparse._SubParsersAction) -> None:
    sweep = subparsers.add_parser(
        "dead-letters", help="mark what the dead-letter queues' messages were about (they stay there)",
        description="Read the dead letters of every work queue (or of QUEUE) without consuming them and mark "
        "what each was about, with the reason: a re-ID batch's detections failed, a backfill run or merge job "
        "failed, an export job failed, an S3 export request's result failed, a MegaDetector import's outcome "
        "failed. The schedule does this every 5 minutes; the messages stay in the dead-letter queue until "
        "`deertrack redrive QUEUE`.")
    sweep.add_argument("queue", nargs="?", choices=QUEUES, help="only this work queue's dead letters")
    sweep.add_argument("--json", action="store_true", help="print the report as JSON")
    sweep.set_defaults(func=run_sweep)
    redrive = subparsers.add_parser(
        "redrive", help="move a queue's dead-letter messages back to it, after the cause is fixed",
        description="Move every message of QUEUE's dead-letter queue back to QUEUE. Re-ID batches marked failed "
        "by the dead-letter sweep are pending again, and backfill runs it failed are running again; redriven "
        "S3 notifications rewrite their request results and import outcomes when they succeed.")
    redrive.add_argument("queue", choices=QUEUES, help="the work queue whose dead letters go back")
    redrive.set_defaults(func=run_redrive)


def run_sweep(args: argparse.Namespace) -> int:
    from deertrack import db
    from deertrack.dead_letters import sweep, sweep_all

    try:
        if args.queue:
            report = sweep(_queue_name(args.queue))
            total, reports = report, [report]
        else:
            total, reports = sweep_all()
    except db.DatabaseUnavailable as exc:
        raise CommandError(f"{exc}\nIs PostgreSQL running? Set DATABASE_URL to reach it.") from None
    if args.json:
        print(json.dumps({**total.as_dict(), "queues": [r.as_dict() for r in reports]}))
        return 0
    for report in reports:
        print(f"{report.messages} message(s) in the {report.queue} dead-letter queue: "
              f"{report.detections_failed} detection(s) marked failed, runs failed: "
              f"{', '.join(report.runs_failed) or '-'}, jobs failed: {', '.join(report.jobs_failed) or '-'}, "
              f"export requests failed: {', '.join(report.requests_failed) or '-'}, imports failed: "
              f"{', '.join(report.imports_failed) or '-'}, unreadable: {report.unreadable}")
    return 0


def run_redrive(args: argparse.Namespace) -> int:
    from deertrack.dead_letters import redrive

    try:
        moved = redrive(_queue_name(args.queue))
    except LookupError as exc:
        raise CommandError(str(exc), code=2) from None
    print(f"moved {moved} message(s) from the {args.queue} dead-letter queue back to {args.queue}")
    return 0
