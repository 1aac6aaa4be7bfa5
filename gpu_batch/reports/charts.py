"""Charts drawn with reportlab.graphics (no plotting stack): bars by period and class, a line of
unique individuals, activity by hour of day, grouped bars for comparisons."""

from __future__ import annotations

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.shapes import Drawing, Group, String
from reportlab.lib import colors

from gpu_batch.reports.document import CONTENT_WIDTH

CLASS_COLOURS = {
    "buck": colors.HexColor("#8c510a"),
    "doe": colors.HexColor("#d8b365"),
    "fawn": colors.HexColor("#5ab4ac"),
    "unknown": colors.HexColor("#bdbdbd"),
}
PALETTE = [colors.HexColor(c) for c in ("#1b7837", "#762a83", "#e08214", "#2166ac", "#b2182b")]
MAX_LABELS = 16


def _label_categories(drawing: Drawing, chart: object, labels: list[str]) -> None:
    """Category labels under the chart: the axis's own when few; else every k-th, drawn here (the
    axis would make a label object for every one of, say, 366 days)."""
    axis = chart.categoryAxis  # type: ignore[attr-defined]
    axis.categoryNames = labels
    axis.labels.fontSize = 6.5
    if len(labels) <= 6:
        axis.labels.boxAnchor = "n"
        return
    if len(labels) <= MAX_LABELS:
        axis.labels.angle, axis.labels.boxAnchor = 45, "ne"
        return
    axis.visibleLabels = 0
    step = -(-len(labels) // MAX_LABELS)
    slot = chart.width / len(labels)  # type: ignore[attr-defined]
    for i in range(0, len(labels), step):
        x, y = chart.x + (i + 0.5) * slot + 2, chart.y - 9  # type: ignore[attr-defined]
        text = String(0, 0, labels[i], fontName="Helvetica", fontSize=6.5, textAnchor="end")
        drawing.add(Group(text, transform=(0.7071, 0.7071, -0.7071, 0.7071, x, y)))


def _frame(title: str, height: float = 190) -> Drawing:
    drawing = Drawing(CONTENT_WIDTH, height)
    drawing.add(String(0, height - 12, title, fontName="Helvetica-Bold", fontSize=9))
    return drawing


def _bars(drawing: Drawing, data: list[list[float]], labels: list[str], *, stacked: bool = False,
          legend: list[tuple[object, str]] | None = None) -> VerticalBarChart:
    chart = VerticalBarChart()
    chart.x, chart.y = 36, 42
    chart.width = CONTENT_WIDTH - (130 if legend else 50)
    chart.height = drawing.height - 70
    chart.data = data
    _label_categories(drawing, chart, labels)
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.valueMin = 0
    peak = max((sum(col) for col in zip(*data, strict=False)) if stacked else (max(s) for s in data), default=0)
    if peak <= 0:
        chart.valueAxis.valueMax = 1
    chart.valueAxis.forceZero = True
    chart.barSpacing = 0.5
    chart.groupSpacing = 2 if len(labels) > 40 else 5
    chart.bars.strokeWidth = 0
    chart.bars.strokeColor = None  # a zero width still draws a hairline: 366 of them turn the chart black
    if stacked:
        chart.categoryAxis.style = "stacked"
    drawing.add(chart)
    if legend:
        key = Legend()
        key.x, key.y = CONTENT_WIDTH - 85, drawing.height - 30
        key.fontSize = 7
        key.columnMaximum = 6
        key.alignment = "right"
        key.colorNamePairs = legend
        drawing.add(key)
    return chart


def stacked_by_class(title: str, labels: list[str], series: dict[str, list[int]]) -> Drawing:
    drawing = _frame(title)
    names = list(series)
    chart = _bars(drawing, [series[n] for n in names], labels, stacked=True,
                  legend=[(CLASS_COLOURS[n], n) for n in names])
    for i, name in enumerate(names):
        chart.bars[i].fillColor = CLASS_COLOURS[name]
    return drawing


def single_bars(title: str, labels: list[str], values: list[float], colour: object = None) -> Drawing:
    drawing = _frame(title, height=160)
    chart = _bars(drawing, [values], labels)
    chart.bars[0].fillColor = colour or PALETTE[0]
    return drawing


def grouped_bars(title: str, categories: list[str], series: dict[str, list[float]]) -> Drawing:
    drawing = _frame(title)
    names = list(series)
    chart = _bars(drawing, [series[n] for n in names], categories,
                  legend=[(PALETTE[i % len(PALETTE)], n[:18]) for i, n in enumerate(names)])
    for i in range(len(names)):
        chart.bars[i].fillColor = PALETTE[i % len(PALETTE)]
    return drawing


def line(title: str, labels: list[str], values: list[float]) -> Drawing:
    drawing = _frame(title, height=150)
    chart = HorizontalLineChart()
    chart.x, chart.y = 36, 42
    chart.width, chart.height = CONTENT_WIDTH - 50, drawing.height - 70
    chart.data = [values]
    _label_categories(drawing, chart, labels)
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.valueMin = 0
    if max(values, default=0) <= 0:
        chart.valueAxis.valueMax = 1
    chart.lines[0].strokeColor = PALETTE[1]
    chart.lines[0].strokeWidth = 1.5
    drawing.add(chart)
    return drawing


def hours_chart(title: str, hours: list[int]) -> Drawing:
    return single_bars(title, [f"{h:02d}" for h in range(24)], hours, PALETTE[3])
