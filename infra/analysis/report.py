"""The Markdown report of a threshold analysis, with its plots, written into one folder."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from deertrack.analysis.threshold import ScoreSummary, ThresholdAnalysis, ThresholdRow
from infra.analysis import plots


def default_folder(base: Path = Path("reports")) -> Path:
    return base / f"threshold-analysis-{datetime.now(UTC):%Y%m%d-%H%M%S}"


def _f(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _summary_line(name: str, s: ScoreSummary) -> str:
    return f"| {name} | {s.pairs:,} | {_f(s.mean)} | {_f(s.p05)} | {_f(s.p50)} | {_f(s.p95)} |"


def _table(rows: list[ThresholdRow], truth: bool) -> list[str]:
    head = "| threshold | assigned | assignment rate | new deer |"
    rule = "|---:|---:|---:|---:|"
    if truth:
        head += " precision | recall (known) | new-individual acc. | geometric mean |"
        rule += "---:|---:|---:|---:|"
    lines = [head, rule]
    for r in rows:
        line = f"| {r.threshold:.2f} | {r.assigned:,} | {r.assignment_rate:.1%} | {r.new_deer:,} |"
        if truth:
            line += (f" {_f(r.precision)} | {_f(r.recall)} | {_f(r.new_accuracy)} | {_f(r.geometric_mean)} |")
        lines.append(line)
    return lines


def markdown(analysis: ThresholdAnalysis, images: dict[str, Path]) -> str:
    a = analysis
    truth = a.detections_with_truth > 0
    rec = a.recommendation
    shown = sorted({round(0.05 * i, 2) for i in range(10, 20)} | {a.current_threshold}
                   | ({rec.threshold} if rec.threshold is not None else set()))
    rows = [r for t in shown if (r := a.row(t)) is not None]
    lines = [
        "# Re-ID threshold analysis",
        "",
        f"Generated {a.generated_at:%Y-%m-%d %H:%M} UTC from the score log: {a.pairs:,} scores of {a.detections:,} "
        f"valid detections ({a.tracks:,} burst tracks) against {a.deer} deer. Current threshold "
        f"(REID_THRESHOLD): **{a.current_threshold:.2f}**.",
        "",
        "## Recommendation",
        "",
        f"**{_f(rec.threshold, 2)}** — {rec.reason}.",
        "",
        "## Score distributions",
        "",
        "| pairs | count | mean | 5% | median | 95% |",
        "|---|---:|---:|---:|---:|---:|",
        _summary_line("matched (the deer chosen for the detection)", a.matched_pairs),
        _summary_line("unmatched (every other deer)", a.unmatched_pairs),
        _summary_line("best eligible score per detection", a.best_scores),
        "",
        f"![histogram]({images['histogram'].name})",
        "",
        f"![cdf]({images['cdf'].name})",
        "",
        "## Candidate thresholds",
        "",
        *_table(rows, truth),
        "",
        f"![metrics]({images['metrics'].name})",
        "",
        "The full sweep is in the JSON of `GET /api/reid/analysis`.",
        "",
        "## How to read it",
        "",
        "- A detection is *assigned* at a threshold when its best score against a deer of a compatible sex "
        "reaches it; otherwise it starts a new deer. *New deer* counts burst tracks with no assigned detection.",
    ]
    if truth:
        lines += [
            f"- True identities are known for {a.detections_with_truth:,} detections of "
            f"{a.individuals_with_truth} individuals (detection_truth); a deer stands for the individual most of "
            "its detections are.",
            "- *Precision*: assignments to a deer of the right individual / assignments. *Recall* (accuracy on "
            "known individuals): right assignments / detections of individuals that have a deer.",
            "- *New-individual accuracy* (leave-individual-out): the share of detections that would correctly "
            "start a new deer if their individual were not yet in the gallery, i.e. whose best score against "
            "*other* individuals' deer stays below the threshold.",
            "- The recommendation maximises the geometric mean of the two accuracies (the open-set measure).",
        ]
    else:
        lines.append("- No true identities are known (no detection_truth rows): precision and recall cannot be "
                     "measured; review detections or load the demo data's truth to get them.")
    lines += [
        "- Scores of a backfilled log are against the *current* profiles, which include the detection itself "
        "when it is assigned: matched scores read somewhat higher than the scores the re-ID worker saw.",
        "",
    ]
    return "\n".join(lines)


def write_report(analysis: ThresholdAnalysis, folder: Path) -> Path:
    images = plots.write_all(analysis, folder)
    report = folder / "report.md"
    report.write_text(markdown(analysis, images))
    (folder / "analysis.json").write_text(analysis.model_dump_json(indent=2))
    return report
