"""`deertrack reid analyze [--out DIR]`: threshold analysis of the score log, as report.md + PNG plots.

Added to the `reid` group by infra.cli.commands.reid (this module is outside cli/commands, so the
top-level parser does not look for a `register` here). The same analysis is served as JSON by
GET /api/reid/analysis.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from deertrack import db
from infra.cli import CommandError, unit_interval


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="folder for report.md, analysis.json and the plots "
                             "(default reports/threshold-analysis-<UTC time>)")
    parser.add_argument("--threshold", type=unit_interval, metavar="T",
                        help="the threshold to compare with (default REID_THRESHOLD)")


def run(args: argparse.Namespace) -> int:
    from deertrack.analysis.threshold import analyze
    from infra.analysis.report import default_folder, write_report

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
    print_calibration()
    print(f"report: {report}")
    return 0


def print_calibration() -> None:
    """The model card's calibration: where the thresholds come from, and P(same individual) by score."""
    from deertrack.reid.model_card import card_for
    from deertrack.settings import get_settings

    settings = get_settings()
    card = card_for(settings.reid_model_uri or None)
    if card is None:
        print("model calibration: the model in use has no card (built-in embedder or an s3:// model)")
        return
    t = card["thresholds"]
    data = card["data"]["calibration"]
    print(f"model calibration ({card['name']}, on {data['individuals']} calibration individuals, seeds "
          f"{', '.join(map(str, data.get('seeds') or [])) or '-'}, never the demo's):")
    print(f"  re-ID threshold {t['reid_threshold']:.2f}, merge suggestion {t['merge_suggest_threshold']:.3f}, "
          f"auto-merge {t['merge_auto_threshold']:.3f} ({'on' if t['auto_merge'] else 'off'}); in use: "
          f"{settings.reid_threshold:.2f}, {settings.reid_merge_suggest_threshold:.3f}, "
          f"{settings.reid_merge_auto_threshold:.3f} ({'on' if settings.reid_auto_merge else 'off'})")
    gate = settings.crop_gate
    print(f"  crop gate (a crop that matches no deer founds none when covered more than / nearer the edge than): "
          f"card {float(t.get('crop_max_overlap', 1.0)):.0%} / {float(t.get('crop_edge_margin', 0.0)):.0%}; "
          f"in use {gate.max_overlap:.0%} / {gate.edge_margin:.0%}{' (off)' if gate.off else ''}")
    knots = card["calibration"].get("score_to_probability") or []
    if knots:
        print("  P(same individual | cosine of two sightings), isotonic:")
        step = max(1, len(knots) // 8)
        print("   " + "  ".join(f"{score:.2f}→{p:.2f}" for score, p in knots[::step]))
