"""The report document: page frame, the header and footer on every page, the paragraph styles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import BaseDocTemplate, Flowable, Frame, KeepTogether, PageTemplate, Paragraph, Spacer

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 16 * mm
HEADER = 20 * mm
FOOTER = 12 * mm
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN

_base = getSampleStyleSheet()
STYLES = {
    "h1": ParagraphStyle("h1", parent=_base["Heading2"], fontSize=13, spaceBefore=8, spaceAfter=4,
                         textColor=colors.HexColor("#1f3d2b")),
    "body": ParagraphStyle("body", parent=_base["BodyText"], fontSize=9, leading=12, alignment=TA_LEFT),
    "note": ParagraphStyle("note", parent=_base["BodyText"], fontSize=9, leading=12,
                           textColor=colors.HexColor("#7a4b00")),
    "bullet": ParagraphStyle("bullet", parent=_base["BodyText"], fontSize=9, leading=12, leftIndent=10,
                             bulletIndent=0),
}


@dataclass(frozen=True)
class ReportOptions:
    title: str
    include_charts: bool = True
    include_tables: bool = True
    include_insights: bool = True
    group_by: str = "month"
    generated_at: datetime | None = None

    def generated(self) -> datetime:
        return self.generated_at or datetime.now(UTC)


def heading(text: str) -> Paragraph:
    return Paragraph(escape(text), STYLES["h1"])


def section(title: str, body: list[Flowable]) -> list[Flowable]:
    return [heading(title), *body]


def keep_headings(story: list[Flowable]) -> list[Flowable]:
    """Keep every heading on the same page as the first thing under it."""
    out: list[Flowable] = []
    i = 0
    while i < len(story):
        item = story[i]
        is_heading = isinstance(item, Paragraph) and item.style.name == "h1"
        if is_heading and i + 1 < len(story):
            out.append(KeepTogether([item, story[i + 1]]))
            i += 2
        else:
            out.append(item)
            i += 1
    return out


def para(text: str) -> Paragraph:
    return Paragraph(escape(text), STYLES["body"])


def note(text: str) -> Paragraph:
    return Paragraph(escape(text), STYLES["note"])


def bullets(lines: list[str]) -> list[Flowable]:
    return [Paragraph(escape(line), STYLES["bullet"], bulletText="•") for line in lines]


def gap(height: float = 4) -> Spacer:
    return Spacer(1, height * mm)


def build_pdf(out: IO[bytes], options: ReportOptions, range_text: str, story: list[Flowable],
              subject: str = "") -> None:
    """Lay out `story` on A4 pages, each with the title, the range and the generation time."""
    generated = options.generated().astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")

    def decorate(canvas: Canvas, doc: BaseDocTemplate) -> None:
        canvas.saveState()
        top = PAGE_HEIGHT - MARGIN
        canvas.setFillColor(colors.HexColor("#1f3d2b"))
        canvas.setFont("Helvetica-Bold", 12)
        canvas.drawString(MARGIN, top - 4 * mm, options.title[:110])
        canvas.setFont("Helvetica", 8)
        canvas.setFillColor(colors.HexColor("#444444"))
        canvas.drawString(MARGIN, top - 9 * mm, f"Range: {range_text}")
        canvas.drawRightString(PAGE_WIDTH - MARGIN, top - 9 * mm, f"Generated {generated}")
        canvas.setStrokeColor(colors.HexColor("#1f3d2b"))
        canvas.line(MARGIN, top - 11 * mm, PAGE_WIDTH - MARGIN, top - 11 * mm)
        canvas.drawString(MARGIN, MARGIN - 2 * mm, "deertrack")
        canvas.drawRightString(PAGE_WIDTH - MARGIN, MARGIN - 2 * mm, f"Page {doc.page}")
        canvas.restoreState()

    doc = BaseDocTemplate(
        out, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN + HEADER,
        bottomMargin=MARGIN + FOOTER, title=options.title, author="deertrack", subject=subject,
        creator="deertrack export worker",
    )
    frame = Frame(MARGIN, MARGIN + FOOTER / 2, CONTENT_WIDTH, PAGE_HEIGHT - 2 * MARGIN - HEADER - FOOTER / 2,
                  id="body")
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=decorate)])
    doc.build(keep_headings(story))
