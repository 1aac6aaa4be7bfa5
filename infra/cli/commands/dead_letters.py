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
    from deertrack.settings import get_settings

    settings = get_settings()
    return {"reid": settings.reid_queue_name, "exports": settings.exports_queue_name,
            "export-requests": settings.export_requests_queue_name,
            "image-events": settings.image_events_queue_name}[short]


def register(subparsers: argparse._SubParsersAction) -> None:
    sweep = subparsers.add_parser(
        "dead-letters", help="mark what the reid dead-letter queue's messages were about (they stay there)",
        description="Read the reid queue's dead letters without consuming them and mark what each was about: "
        "its detections failed with the reason, its backfill run or merge job failed. The schedule does this "
        "every 5 minutes; the messages stay in the dead-letter queue until `deertrack redrive reid`.")
    sweep.add_argument("--json", action="store_true", help="print the report as JSON")
    sweep.set_defaults(func=run_sweep)
    redrive = subparsers.add_parser(
        "redrive", help="move a queue's dead-letter messages back to it, after the cause is fixed",
        description="Move every message of QUEUE's dead-letter queue back to QUEUE. Re-ID batches marked failed "
        "by the dead-letter sweep are pending again.")
    redrive.add_argument("queue", choices=QUEUES, help="the work queue whose dead letters go back")
    redrive.set_defaults(func=run_redrive)


def run_sweep(args: argparse.Namespace) -> int:
    from deertrack import db
    from deertrack.dead_letters import sweep

    try:
        report = sweep(_queue_name("reid"))
    except db.DatabaseUnavailable as exc:
        raise CommandError(f"{exc}\nIs PostgreSQL running? Set DATABASE_URL to reach it.") from None
    if args.json:
        print(json.dumps(report.as_dict()))
    else:
        print(f"{report.messages} message(s) in the reid dead-letter queue: {report.detections_failed} detection(s) "
              f"marked failed, runs failed: {', '.join(report.runs_failed) or '-'}, jobs failed: "
              f"{', '.join(report.jobs_failed) or '-'}, unreadable: {report.unreadable}")
    return 0


def run_redrive(args: argparse.Namespace) -> int:
    from deertrack.dead_letters import redrive

    try:
        moved = redrive(_queue_name(args.queue))
    except LookupError as exc:
        raise CommandError(str(exc), code=2) from None
    print(f"moved {moved} message(s) from the {args.queue} dead-letter queue back to {args.queue}")
    return 0
