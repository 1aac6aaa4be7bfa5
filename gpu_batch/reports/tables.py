"""Tables in the reports' house style: a header row, zebra rows, numbers right-aligned, repeated
header rows when a table runs over a page."""

from __future__ import annotations

from collections.abc import Sequence

from reportlab.lib import colors
from reportlab.platypus import Table, TableStyle

from gpu_batch.reports.document import CONTENT_WIDTH

HEADER_BG = colors.HexColor("#1f3d2b")
ZEBRA = colors.HexColor("#f1f4ef")


def cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M") if hasattr(value, "hour") else value.isoformat()
    return str(value)


def table(header: Sequence[str], rows: Sequence[Sequence[object]], widths: Sequence[float] | None = None,
          numeric_from: int = 1) -> Table:
    data = [list(header)] + [[cell(v) for v in row] for row in rows]
    if widths is None:
        widths = [CONTENT_WIDTH / len(header)] * len(header)
    t = Table(data, colWidths=list(widths), repeatRows=1, hAlign="LEFT")
    style = [
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_BG),
        ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
        ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
        ("FONTSIZE", (0, 0), (-1, -1), 7.5),
        ("LEADING", (0, 0), (-1, -1), 9),
        ("ALIGN", (numeric_from, 0), (-1, -1), "RIGHT"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
        ("LINEBELOW", (0, 0), (-1, 0), 0.5, HEADER_BG),
    ]
    for i in range(2, len(data), 2):
        style.append(("BACKGROUND", (0, i), (-1, i), ZEBRA))
    t.setStyle(TableStyle(style))
    return t
