"""`deertrack pump`: run the local event pump alone, against the emulator named by AWS_ENDPOINT_URL."""

from __future__ import annotations

import argparse
import json
import signal
import threading

from deertrack.settings import get_settings
from infra.cli import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "pump",
        help="call the Chalice SQS / schedule handlers from template.yaml, as Lambda would (runs until Ctrl-C)",
        description="Long-poll the queues that feed handlers in template.yaml and fire the scheduled handlers. "
        "`deertrack up` runs this already; use it alone with LocalStack or an emulator started elsewhere.",
    )
    parser.add_argument("--once", action="store_true",
                        help="handle the messages visible now, print what happened and exit")
    parser.add_argument("--schedules", choices=("auto", "clock", "eventbridge"), default="auto",
                        help="who fires the schedules: eventbridge (LocalStack fires the rules into their target "
                        "queues), clock (the pump, as moto never fires rules); auto: eventbridge on LocalStack")
    parser.add_argument("--wait-seconds", type=int, default=5, choices=range(0, 21), metavar="0-20",
                        help="SQS long-poll wait (default 5)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from infra.event_sources import EventPump

    if not get_settings().aws_endpoint_url:
        raise CommandError("AWS_ENDPOINT_URL is not set: point it at the emulator (e.g. the one `deertrack up` "
                           "prints, or LocalStack at http://localhost:4566)")
    from deertrack.health import emulator_identity

    endpoint = get_settings().aws_endpoint_url
    schedules = args.schedules
    if schedules == "auto":
        schedules = "eventbridge" if emulator_identity(endpoint)["name"] == "localstack" else "clock"
    pump = EventPump(wait_seconds=args.wait_seconds, schedules=schedules)
    if args.once:
        report = pump.run_once()
        print(json.dumps({"received": report.received, "deleted": report.deleted, "failed": report.failed,
                          "fired": report.fired, "errors": report.errors, "skipped": pump.skipped}))
        return 1 if report.errors else 0
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    pump.start()
    try:
        stop.wait()
    finally:
        pump.stop()
    return 0
