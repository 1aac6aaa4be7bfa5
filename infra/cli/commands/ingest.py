"""`deertrack ingest megadetector RESULTS.json --images PREFIX`: import MegaDetector batch output.

The photos must already be in the images bucket under PREFIX (+ each entry's `file`). Kept animal
detections are stored and queued for re-identification (one message per batch). Every refused
entry is printed as one error line naming it; the exit code is 0 when all went in, 1 when some were
refused, 2 when nothing could be imported.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from deertrack.classifications import CLASSIFICATIONS
from deertrack.ingest.megadetector import DEFAULT_MIN_CONFIDENCE, ImportOptions, ResultsFileInvalid
from infra.cli import CommandError, unit_interval


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("ingest", help="import detections from a detector's output")
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
    md = kinds.add_parser(
        "megadetector", help="a MegaDetector batch-output JSON file (format 1.x)",
        description="Import the animal detections of a MegaDetector results file. The photos must be in the images "
                    "bucket at PREFIX/<file>. Boxes are converted from normalized to pixels with each photo's size; "
                    "capture times come from the entry's datetime or the photo's EXIF. The same file imported twice "
                    "stores nothing twice.",
    )
    md.add_argument("results", metavar="RESULTS.json", help="local path or s3://bucket/key of the results file")
    md.add_argument("--images", required=True, metavar="PREFIX", help="key prefix of the photos in the images bucket")
    md.add_argument("--location", metavar="CODE",
                    help="location code of every photo (default: the first folder of the key that is a location code)")
    md.add_argument("--min-confidence", type=unit_interval, default=DEFAULT_MIN_CONFIDENCE, metavar="C",
                    help=f"keep animal detections with conf >= C (default {DEFAULT_MIN_CONFIDENCE})")
    md.add_argument("--classification", choices=CLASSIFICATIONS,
                    help="classification of detections the file does not classify (default unknown)")
    md.add_argument("--json", action="store_true", help="print the outcome as JSON")
    md.set_defaults(func=run_megadetector)


def _read(source: str) -> bytes:
    if source.startswith("s3://"):
        from deertrack.storage import ObjectMissing, get_bytes

        bucket, _, key = source[5:].partition("/")
        try:
            return get_bytes(bucket, key)
        except ObjectMissing:
            raise CommandError(f"{source}: no such object") from None
    path = Path(source)
    if not path.is_file():
        raise CommandError(f"{source}: no such file")
    return path.read_bytes()


def run_megadetector(args: argparse.Namespace) -> int:
    from deertrack.db import DatabaseUnavailable
    from deertrack.ingest.megadetector import import_results, load_results

    options = ImportOptions(images_prefix=args.images, location=args.location, min_confidence=args.min_confidence,
                            classification=args.classification)
    try:
        doc = load_results(_read(args.results))
        report = import_results(doc, options)
    except ResultsFileInvalid as exc:
        raise CommandError(f"{args.results}: {exc}", code=2) from None
    except DatabaseUnavailable as exc:
        raise CommandError(f"{exc}\nIs PostgreSQL running? Set DATABASE_URL to reach it.") from None
    outcome = report.as_dict()
    if args.json:
        print(json.dumps(outcome, indent=2))
    else:
        print(f"{outcome['entries']} entries: {outcome['images_imported']} photos and {outcome['detections']} "
              f"detections stored ({outcome['duplicates']} already there), {outcome['queued_for_reid']} queued for "
              f"re-identification (batch {outcome['batch_id']}); {outcome['skipped_without_animals']} photos "
              f"without an animal >= {args.min_confidence}, {outcome['dropped_below_confidence']} animal detections "
              f"below it, {outcome['dropped_not_animal']} person/vehicle detections left out")
    for problem in report.problems:
        print(f"error: {problem.field}: [{problem.rule}] {problem.message}", file=sys.stderr)
    if not outcome["images_imported"] and report.problems:
        return 2
    return 1 if report.problems else 0
