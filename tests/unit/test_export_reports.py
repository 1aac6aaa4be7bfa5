"""Report pieces that need no database: periods, ratios, insights, highlights, PDF options, crops."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pypdf
from PIL import Image

from deertrack.reports.comparison import Change, largest_changes
from deertrack.reports.figures import ClassCounts, ratio_text
from deertrack.reports.insights import rut_rise, seasonal_insights
from deertrack.reports.periods import periods_between
from deertrack.reports.scope import ReportScope
from deertrack.reports.seasonal import CameraRow, IndividualRow, PeriodRow, SeasonalActivity
from gpu_batch.crops import crop, crop_box
from gpu_batch.reports import seasonal_activity as seasonal_pdf
from gpu_batch.reports.document import ReportOptions
from tests.export_data import pdf_text as text_of

GENERATED = datetime(2024, 2, 1, 9, 30, tzinfo=UTC)


def counts(buck: int = 0, doe: int = 0, fawn: int = 0, unknown: int = 0) -> ClassCounts:
    c = ClassCounts()
    for cls, n in (("buck", buck), ("doe", doe), ("fawn", fawn), ("unknown", unknown)):
        c.add(cls, n)
    return c


def season(daily: dict[date, ClassCounts], start: date = date(2023, 9, 1), end: date = date(2023, 12, 31),
           individuals: int = 3) -> SeasonalActivity:
    """A SeasonalActivity built from daily counts, as seasonal_activity() would (months)."""
    scope = ReportScope(start, end)
    periods = []
    for p in periods_between(start, end, "month"):
        c = ClassCounts()
        for day, dc in daily.items():
            if (day.year, day.month) == (p.start.year, p.start.month):
                for cls, n in dc.counts.items():
                    c.add(cls, n)
        days = sum(1 for o in range(start.toordinal(), end.toordinal() + 1)
                   if (date.fromordinal(o).year, date.fromordinal(o).month) == (p.start.year, p.start.month))
        periods.append(PeriodRow(p, c, individuals if c.total else 0, days))
    totals = ClassCounts()
    for dc in daily.values():
        for cls, n in dc.counts.items():
            totals.add(cls, n)
    hours = [0] * 24
    hours[6], hours[18] = totals.total // 2, totals.total - totals.total // 2
    first = datetime(2023, 9, 2, tzinfo=UTC)
    return SeasonalActivity(
        scope=scope, group_by="month", totals=totals, unique_individuals=individuals,
        assigned_detections=totals.total, periods=periods, daily=daily, hours=hours,
        cameras=[CameraRow(1, "CAM-N", "North ridge", totals, individuals, first, first),
                 CameraRow(2, "CAM-S", "South creek", ClassCounts(), 0, None, None)],
        individuals=[IndividualRow(1, "Big Ten", "buck", 12, 1, first, first)] if totals.total else [],
    )


def test_periods_cover_the_range_including_partial_buckets() -> None:
    weeks = periods_between(date(2023, 9, 1), date(2023, 9, 30), "week")
    assert weeks[0].start == date(2023, 8, 28) and weeks[0].label == "2023-W35"
    assert weeks[-1].start == date(2023, 9, 25)
    months = periods_between(date(2023, 11, 15), date(2024, 2, 1), "month")
    assert [p.label for p in months] == ["Nov 2023", "Dec 2023", "Jan 2024", "Feb 2024"]
    assert len(periods_between(date(2024, 2, 27), date(2024, 3, 1), "day")) == 4  # leap day


def test_ratio_text_says_why_when_it_cannot_be_computed() -> None:
    assert ratio_text(10, 25) == "1:2.5"
    assert ratio_text(0, 4) == "0:4 (no bucks)"
    assert ratio_text(3, 0) == "3:0 (no does)"
    assert ratio_text(0, 0) == "n/a (no bucks or does)"


def test_insights_are_written_from_the_numbers() -> None:
    daily = {date(2023, 9, d): counts(buck=1, doe=2) for d in range(1, 31)}
    daily.update({date(2023, 11, d): counts(buck=4, doe=3) for d in range(1, 31)})
    lines = seasonal_insights(season(daily))
    text = "\n".join(lines)
    assert "Peak activity: Nov 2023 with 210 detections (70% of 300)." in text
    assert "Rut season: buck detections rose from 0.68 per day" in text
    assert "Largest rise" in text and "Largest drop" in text
    assert "No detections at South creek (CAM-S): check those cameras." in text
    assert "2 of 4 periods have no detections." in text


def test_rut_rise_needs_both_windows() -> None:
    daily = {date(2023, 11, d): counts(buck=4) for d in range(1, 31)}
    assert rut_rise(season(daily, start=date(2023, 11, 1), end=date(2023, 11, 30))) is None
    few = {date(2023, 9, 3): counts(buck=1), date(2023, 11, 3): counts(buck=1)}
    assert rut_rise(season(few)).startswith("Not enough data for a rut-season comparison (n=2 buck detections")


def test_too_little_data_says_so_with_n() -> None:
    data = season({date(2023, 9, 3): counts(doe=3)})
    assert seasonal_insights(data) == ["Not enough data for insights (n=3 detections; at least 10 needed)."]
    text = pdf_text(data, ReportOptions("Tiny", generated_at=GENERATED))
    assert "Not enough data for a buck:doe ratio (n=3 buck and doe detections; at least 10 needed)." in text
    assert "Not enough data for activity by hour (n=3 detections; at least 10 needed)." in text


def test_empty_range_renders_a_report_that_says_so() -> None:
    text = pdf_text(season({}), ReportOptions("Empty", generated_at=GENERATED))
    assert "Detections: 0 (" in text
    assert "Not enough data for detections per period (n=0 detections; at least 1 needed)." in text


def test_largest_changes_rank_relative_size_and_skip_noise() -> None:
    changes = [
        Change("detections", "A", "B", 100, 150),  # +50%
        Change("buck detections", "A", "B", 10, 40),  # +300%
        Change("fawn detections", "A", "B", 0, 12),  # from none: 12x
        Change("doe detections", "A", "B", 1, 2),  # +100% but only 1: noise
        Change("unique individuals", "A", "B", 20, 10),  # -50%
        Change("detections per day", "A", "B", 1.0, 9.0),  # a rate: never a highlight
    ]
    top = largest_changes(changes)
    assert [c.metric for c in top] == ["fawn detections", "buck detections", "detections"]
    assert top[1].text() == "Buck detections: 10 in A to 40 in B (+300%)."
    assert top[0].text() == "Fawn detections: 0 in A to 12 in B (none in the baseline)."


def pdf_text(data: SeasonalActivity, options: ReportOptions) -> str:
    out = io.BytesIO()
    seasonal_pdf.render(data, options, out)
    return text_of(out.getvalue())


def many() -> SeasonalActivity:
    return season({date(2023, m, d): counts(buck=2, doe=3, fawn=1) for m in (9, 10, 11, 12) for d in range(1, 29)})


def test_every_page_has_title_range_and_generation_time() -> None:
    out = io.BytesIO()
    seasonal_pdf.render(many(), ReportOptions("Ridge cameras", group_by="month", generated_at=GENERATED), out)
    pages = pypdf.PdfReader(io.BytesIO(out.getvalue())).pages
    assert len(pages) >= 2
    for page in pages:
        text = page.extract_text()
        assert "Ridge cameras" in text
        assert "Range: 2023-09-01 to 2023-12-31 (by month)" in text
        assert "Generated 2024-02-01 09:30 UTC" in text


def test_include_flags_are_honoured() -> None:
    full = pdf_text(many(), ReportOptions("R", generated_at=GENERATED))
    assert "Insights" in full and "Detections by classification" in full and "Most-seen individuals" in full
    no_charts = pdf_text(many(), ReportOptions("R", include_charts=False, generated_at=GENERATED))
    assert "Detections by classification" not in no_charts and "Detections per hour" not in no_charts
    assert "Most-seen individuals" in no_charts
    no_tables = pdf_text(many(), ReportOptions("R", include_tables=False, generated_at=GENERATED))
    assert "Most-seen individuals" not in no_tables and "Buck:doe" in no_tables
    assert "Detections by classification" in no_tables
    no_insights = pdf_text(many(), ReportOptions("R", include_insights=False, generated_at=GENERATED))
    assert "Insights" not in no_insights and "Peak activity" not in no_insights
    assert "Detections: 672 (" in no_insights  # the summary is always there


def test_crop_keeps_aspect_and_clips_to_the_image() -> None:
    image = Image.new("RGB", (640, 480), (10, 20, 30))
    assert crop(image, (100, 100, 200, 100), 300).size == (300, 150)
    assert crop(image, (600, 400, 100, 100), 128).size == (64, 128)  # clipped to 40x80, then scaled
    assert crop_box((640, 480), (600, 400, 100, 100)) == (600, 400, 640, 480)
    assert crop_box((640, 480), (700, 500, 10, 10)) == (639, 479, 640, 480)  # outside: one pixel, never an error
