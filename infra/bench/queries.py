"""`deertrack bench queries`: the read routes' database work with kept prepared statements, against pg8000's
unnamed statements as the baseline, in the same run, on the data the configured database holds.

Each read is what its route runs (deertrack.reid.catalog and review_queue): a deer page
(`GET /api/deer?limit=20`), one deer's view, one detection with its candidates, and a review-queue page
computed afresh (the kept answers of deertrack/snapshot_cache.py are bypassed: that is the cost of a new
page). Two connections to the same database, one preparing statements (what every process uses) and one
sending them unnamed (parse, describe, bind, execute: pg8000's `run`), take turns, one call each per round,
so that noise hits both alike. It prints p50/p99 of each and the ratio baseline ÷ prepared.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import pg8000.native

from deertrack import db
from deertrack.reid import catalog, review_queue
from infra.bench.load import percentile
from infra.cli import CommandError

Read = Callable[[pg8000.native.Connection], Any]


def reads(con: pg8000.native.Connection) -> dict[str, Read]:
    """The reads, with ids from the data: the first deer of the list and its latest valid detection."""
    deer = con.run("SELECT id FROM deer WHERE status <> 'merged' AND sighting_count > 0 ORDER BY id LIMIT 1")
    if not deer:
        raise CommandError("the database holds no deer with sightings: seed data first (`make run`, or "
                           "`deertrack seed --demo` and re-ID)")
    deer_id = int(deer[0][0])
    detection_id = int(con.run("SELECT max(id) FROM detections WHERE deer_id = :id AND is_valid", id=deer_id)[0][0])
    page = catalog.DeerQuery(limit=20)
    queue = review_queue.QueueQuery(limit=20)
    return {
        "deer page (GET /api/deer?limit=20)": lambda c: catalog.deer_list(c, page),
        f"one deer (GET /api/deer/{deer_id})": lambda c: catalog.deer_view(c, deer_id),
        f"one detection (GET /api/detections/{detection_id})": lambda c: catalog.detection_view(c, detection_id),
        "review queue page, computed (GET /api/review/queue?limit=20)": lambda c: review_queue.computed_page(c, queue),
    }


def _timed(read: Read, con: pg8000.native.Connection) -> float:
    started = time.perf_counter()
    read(con)
    return (time.perf_counter() - started) * 1000


def run(args: argparse.Namespace) -> int:
    with db.connection() as prepared, db.connection(prepare_statements=False) as unnamed:
        chosen = reads(prepared)
        results: dict[str, dict[str, list[float]]] = {}
        for name, read in chosen.items():
            for con in (prepared, unnamed):  # warm-up: the statements are prepared, the caches filled
                for _ in range(args.warmup):
                    read(con)
            ours, theirs = [], []
            for _ in range(args.rounds):
                ours.append(_timed(read, prepared))
                theirs.append(_timed(read, unnamed))
            results[name] = {"prepared": ours, "unnamed": theirs}
    width = max(len(name) for name in results)
    print(f"bench queries: {args.rounds} rounds per read, interleaved, after {args.warmup} warm-up calls each; "
          "baseline: pg8000's unnamed statements")
    print(f"{'read':<{width}} {'prepared p50':>12} {'p99':>7} {'unnamed p50':>12} {'p99':>7} "
          f"{'unnamed ÷ prepared':>19}")
    figures: dict[str, Any] = {}
    for name, samples in results.items():
        ours, theirs = samples["prepared"], samples["unnamed"]
        ratio = statistics.median(theirs) / statistics.median(ours)
        print(f"{name:<{width}} {percentile(ours, 50):>9.2f} ms {percentile(ours, 99):>7.2f} "
              f"{percentile(theirs, 50):>9.2f} ms {percentile(theirs, 99):>7.2f} {ratio:>18.2f}×")
        figures[name] = {"prepared_p50_ms": round(percentile(ours, 50), 3),
                         "unnamed_p50_ms": round(percentile(theirs, 50), 3), "ratio": round(ratio, 3)}
    if args.json:
        print(json.dumps(figures))
    return 0


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=200, metavar="N", help="timed calls of each read, per side (200)")
    parser.add_argument("--warmup", type=int, default=10, metavar="N", help="untimed calls first, per side (10)")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON object (last line)")
