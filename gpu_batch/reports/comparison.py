"""The comparison report: 2-5 periods side by side, the differences from the first period and the
three largest changes."""

from __future__ import annotations

from typing import IO

from reportlab.platypus import Flowable

from deertrack.classifications import CLASSIFICATIONS
from deertrack.reports.comparison import Comparison, ratio
from deertrack.reports.figures import pct_change, ratio_text, signed
from gpu_batch.reports import charts
from gpu_batch.reports.document import CONTENT_WIDTH, ReportOptions, build_pdf, bullets, heading, note, para
from gpu_batch.reports.tables import table


def _delta(before: float, after: float) -> str:
    d = after - before
    amount = signed(d, 0 if float(d).is_integer() else 2)
    change = pct_change(before, after)
    return amount if change is None else f"{amount} ({change:+.0f}%)"


def story(data: Comparison, options: ReportOptions) -> list[Flowable]:
    periods = data.periods
    base = periods[0]
    out: list[Flowable] = [heading("Periods")]
    for p in periods:
        out.append(para(
            f"{p.spec.label}: {p.spec.start_date} to {p.spec.end_date} ({p.days} days): {p.total:,} detections, "
            f"{p.unique_individuals} individuals, buck:doe {ratio_text(p.counts.bucks, p.counts.does)}."
        ))
    out.append(para(f"Differences are measured against the first period, {base.spec.label}."))
    for line in data.notes:
        out.append(note(line))

    if options.include_insights:
        out.append(heading("Largest changes"))
        if data.highlights:
            out += bullets([c.text() for c in data.highlights])
        else:
            out.append(note("No change of 3 or more detections between the periods."))

    labels = [p.spec.label for p in periods]
    if options.include_charts:
        out.append(heading("Side by side"))
        out.append(charts.grouped_bars(
            "Detections by classification", list(CLASSIFICATIONS),
            {p.spec.label: [p.counts[c] for c in CLASSIFICATIONS] for p in periods},
        ))
        out.append(charts.single_bars("Detections per day", labels, [round(p.per_day, 2) for p in periods]))

    if options.include_tables:
        w = CONTENT_WIDTH
        out.append(heading("Figures"))
        header = ["Metric", *labels]
        rows: list[list[object]] = [
            ["Days", *(p.days for p in periods)],
            ["Detections", *(p.total for p in periods)],
            ["Detections per day", *(round(p.per_day, 2) for p in periods)],
            *[[f"{c.capitalize()} detections", *(p.counts[c] for p in periods)] for c in CLASSIFICATIONS],
            ["Unique individuals", *(p.unique_individuals for p in periods)],
            ["Bucks per doe", *(round(r, 2) if (r := ratio(p)) is not None else None for p in periods)],
            ["Peak hour (solar)", *(f"{p.peak_hour:02d}:00" if p.peak_hour is not None else None for p in periods)],
        ]
        first = w * 0.28
        out.append(table(header, rows, [first] + [(w - first) / len(periods)] * len(periods)))
        out.append(heading(f"Differences from {base.spec.label}"))
        diff_rows = []
        base_metrics = base.metrics()
        metrics = list(base_metrics)
        for metric in metrics:
            diff_rows.append([metric, *(_delta(base_metrics[metric], p.metrics()[metric]) for p in periods[1:])])
        out.append(table(["Metric", *labels[1:]], diff_rows,
                         [first] + [(w - first) / (len(periods) - 1)] * (len(periods) - 1)))
    return out


def render(data: Comparison, options: ReportOptions, out: IO[bytes]) -> None:
    first = min(p.spec.start_date for p in data.periods)
    last = max(p.spec.end_date for p in data.periods)
    spans = f"{len(data.periods)} periods, {first} to {last}"
    build_pdf(out, options, spans, story(data, options), subject="Comparison")
