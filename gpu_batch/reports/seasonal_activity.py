"""The seasonal activity report: what the cameras saw over a season, period by period."""

from __future__ import annotations

from typing import IO

from reportlab.platypus import Flowable

from deertrack.classifications import CLASSIFICATIONS
from deertrack.reports.figures import ratio_text
from deertrack.reports.insights import MIN_DETECTIONS, not_enough
from deertrack.reports.seasonal import SeasonalActivity
from gpu_batch.reports import charts
from gpu_batch.reports.document import CONTENT_WIDTH, ReportOptions, build_pdf, bullets, gap, note, para, section
from gpu_batch.reports.tables import table


def summary_lines(data: SeasonalActivity) -> list[str]:
    t = data.totals
    by_class = ", ".join(f"{cls} {t[cls]:,}" for cls in CLASSIFICATIONS)
    active = sum(1 for c in data.cameras if c.counts.total)
    return [
        f"Detections: {t.total:,} ({by_class}).",
        f"Unique individuals: {data.unique_individuals:,} (from {data.assigned_detections:,} re-identified "
        f"detections).",
        f"Buck:doe ratio: {ratio_text(t.bucks, t.does)}.",
        f"Cameras with detections: {active} of {len(data.cameras)}. Grouped by {data.group_by} (UTC days); "
        "hours of day are solar time at each camera (UTC + longitude/15); valid detections only, a reviewer's "
        "correction replacing the detector's class.",
    ]


def story(data: SeasonalActivity, options: ReportOptions) -> list[Flowable]:
    total = data.totals.total
    labels = [p.period.label for p in data.periods]
    w = CONTENT_WIDTH
    out: list[Flowable] = section("Summary", [para(line) for line in summary_lines(data)])

    if options.include_insights:
        out += section("Insights", bullets(data.insights))

    body: list[Flowable] = []
    if total == 0:
        body.append(note(not_enough("detections per period", total, 1)))
    else:
        if options.include_charts:
            series = {cls: [p.counts[cls] for p in data.periods] for cls in CLASSIFICATIONS}
            body.append(charts.stacked_by_class("Detections by classification", labels, series))
        if options.include_tables:
            rows = [
                [p.period.label, *(p.counts[c] for c in CLASSIFICATIONS), p.total, p.unique_individuals,
                 ratio_text(p.counts.bucks, p.counts.does) if p.counts.bucks + p.counts.does else "-"]
                for p in data.periods
            ]
            rows.append(["Total", *(data.totals[c] for c in CLASSIFICATIONS), total, data.unique_individuals,
                         ratio_text(data.totals.bucks, data.totals.does)])
            body.append(table(["Period", "Buck", "Doe", "Fawn", "Unknown", "Total", "Individuals", "Buck:doe"],
                              rows, [w * 0.16] + [w * 0.1] * 5 + [w * 0.12, w * 0.22]))
    out += section(f"Detections per {data.group_by}", body)

    if data.assigned_detections == 0:
        body = [note(not_enough("unique individuals", 0, 1, "re-identified detections"))]
    elif options.include_charts:
        body = [charts.line("Distinct deer seen", labels, [p.unique_individuals for p in data.periods])]
    else:
        body = [para(", ".join(f"{p.period.label}: {p.unique_individuals}" for p in data.periods))]
    out += section(f"Unique individuals per {data.group_by}", body)

    sexed = data.totals.bucks + data.totals.does
    if sexed < MIN_DETECTIONS:
        body = [note(not_enough("a buck:doe ratio", sexed, MIN_DETECTIONS, "buck and doe detections"))]
    else:
        body = [para(f"Overall {ratio_text(data.totals.bucks, data.totals.does)} "
                     f"({data.totals.bucks:,} bucks, {data.totals.does:,} does).")]
        if options.include_charts:
            per_doe = [round(p.counts.bucks / p.counts.does, 2) if p.counts.does else 0.0 for p in data.periods]
            body.append(charts.single_bars("Bucks per doe", labels, per_doe, charts.CLASS_COLOURS["buck"]))
    out += section("Buck:doe ratio", body)

    if total < MIN_DETECTIONS:
        body = [note(not_enough("activity by hour", total, MIN_DETECTIONS))]
    else:
        body = []
        if options.include_charts:
            body.append(charts.hours_chart("Detections per hour", data.hours))
        if options.include_tables:
            body.append(table(["Hour", *(f"{h:02d}" for h in range(12))], [["count", *data.hours[:12]]]))
            body.append(gap(1))
            body.append(table(["Hour", *(f"{h:02d}" for h in range(12, 24))], [["count", *data.hours[12:]]]))
        if not body:
            peak = max(range(24), key=lambda h: data.hours[h])
            body.append(para(f"Peak hour {peak:02d}:00 with {data.hours[peak]:,} detections."))
    out += section("Activity by hour of day (solar time at the camera)", body)

    if options.include_tables:
        if not data.cameras:
            body = [note("No cameras in scope.")]
        else:
            rows = [[c.code, c.name[:28], c.counts["buck"], c.counts["doe"], c.counts["fawn"], c.counts["unknown"],
                     c.counts.total, c.unique_individuals, c.first, c.last] for c in data.cameras]
            body = [table(["Code", "Name", "Buck", "Doe", "Fawn", "Unk.", "Total", "Indiv.", "First", "Last"],
                          rows, [w * 0.09, w * 0.21] + [w * 0.07] * 5 + [w * 0.07, w * 0.14, w * 0.14],
                          numeric_from=2)]
        out += section("Cameras", body)
        if not data.individuals:
            body = [note(not_enough("most-seen individuals", 0, 1, "re-identified detections"))]
        else:
            rows = [[i.name, i.sex, i.sightings, i.cameras, i.first, i.last] for i in data.individuals]
            body = [table(["Deer", "Sex", "Sightings", "Cameras", "First seen", "Last seen"], rows,
                          [w * 0.2, w * 0.12, w * 0.13, w * 0.13, w * 0.21, w * 0.21], numeric_from=2)]
        out += section("Most-seen individuals", body)
    return out


def render(data: SeasonalActivity, options: ReportOptions, out: IO[bytes]) -> None:
    build_pdf(out, options, f"{data.scope.describe()} (by {data.group_by})", story(data, options),
              subject="Seasonal activity")
