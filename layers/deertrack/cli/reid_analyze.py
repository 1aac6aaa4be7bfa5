"""`deertrack reid analyze [--out DIR]`: threshold analysis of the score log, as report.md + PNG plots.

Added to the `reid` group by deertrack.cli.commands.reid (this module is outside cli/commands, so the
top-level parser does not look for a `register` here). The same analysis is served as JSON by
GET /api/reid/analysis.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from deertrack import db
from deertrack.cli import CommandError, unit_interval


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="folder for report.md, analysis.json and the plots "
                             "(default reports/threshold-analysis-<UTC time>)")
    parser.add_argument("--threshold", type=unit_interval, metavar="T",
                        help="the threshold to compare with (default REID_THRESHOLD)")


def run(args: argparse.Namespace) -> int:
    from deertrack.analysis.report import default_folder, write_report
    from deertrack.analysis.threshold import analyze

    folder = args.out or default_folder()
    try:
        with db.connection() as con:
            analysis = analyze(con, current_threshold=args.threshold)
    except db.DatabaseUnavailable as exc:
        raise CommandError(f"{exc}\nIs PostgreSQL running? Set DATABASE_URL to reach it.") from exc
    if analysis.pairs == 0:
        raise CommandError("the score log is empty: run the re-ID worker or `deertrack backfill` first")
    report = write_report(analysis, folder)
    rec = analysis.recommendation
    print(f"{analysis.pairs:,} scores of {analysis.detections:,} detections against {analysis.deer} deer; "
          f"true identities known for {analysis.detections_with_truth:,} detections")
    current = analysis.row(analysis.current_threshold)
    if current is not None:
        extra = (f", precision {current.precision:.3f}, recall {current.recall:.3f}"
                 if current.precision is not None and current.recall is not None else "")
        print(f"current threshold {analysis.current_threshold:.2f}: {current.assignment_rate:.1%} assigned, "
              f"{current.new_deer:,} new deer{extra}")
    print(f"recommended threshold: {'–' if rec.threshold is None else f'{rec.threshold:.2f}'} ({rec.basis})")
    print(f"  {rec.reason}")
    print(f"report: {report}")
    return 0
