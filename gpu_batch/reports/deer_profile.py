"""The deer profile report: one individual's sightings over time, its cameras, first and last seen,
and its best photo (the crop of its most confident detection)."""

from __future__ import annotations

import io
from typing import IO

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Image

from deertrack.classifications import CLASSIFICATIONS
from deertrack.reports.deer_profile import DeerProfile
from deertrack.reports.insights import MIN_DETECTIONS, not_enough
from gpu_batch.reports import charts
from gpu_batch.reports.document import CONTENT_WIDTH, ReportOptions, build_pdf, bullets, heading, note, para
from gpu_batch.reports.tables import cell, table

PHOTO_SIZE = 300  # pixels of the longer side of the embedded crop
PHOTO_WIDTH = 60 * mm


def insights(data: DeerProfile) -> list[str]:
    if data.sightings == 0:
        return [not_enough("insights", 0, 1, "sightings")]
    out = []
    if data.cameras:
        top = data.cameras[0]
        out.append(f"Seen most at {top.name} ({top.code}): {top.sightings:,} of {data.sightings:,} sightings.")
    busiest = max(data.periods, key=lambda pn: pn[1])
    out.append(f"Busiest {data.group_by}: {busiest[0].label} with {busiest[1]:,} sightings.")
    if data.sightings >= MIN_DETECTIONS:
        hour = max(range(24), key=lambda h: data.hours[h])
        out.append(f"Most often seen at {hour:02d}:00-{hour:02d}:59 solar time ({data.hours[hour]:,} sightings).")
    if data.total_ever > data.sightings:
        out.append(f"{data.total_ever - data.sightings:,} further sightings fall outside this range or filter.")
    return out


def story(data: DeerProfile, options: ReportOptions, photo_jpeg: bytes | None, photo_problem: str | None
          ) -> list[Flowable]:
    deer = data.deer
    out: list[Flowable] = [heading(f"{deer['name']} (deer {deer['id']})")]
    out.append(para(
        f"Sex: {deer['sex']}. Status: {deer['status']}. Sightings: {data.sightings:,} in range "
        f"({data.total_ever:,} in all). Cameras: {len(data.cameras)}."
    ))
    out.append(para(f"First seen: {cell(data.first_ever)}; last seen: {cell(data.last_ever)} (all time, UTC)."))
    out.append(para(f"In this range: first {cell(data.first_in_range)}, last {cell(data.last_in_range)}."))
    if deer.get("notes"):
        out.append(para(f"Notes: {deer['notes']}"))

    out.append(heading("Best photo"))
    if data.best_photo is None:
        out.append(note(not_enough("a photo", 0, 1, "sightings")))
    elif photo_jpeg is None:
        why = f" ({photo_problem})" if photo_problem else ""
        out.append(note(f"Detection {data.best_photo.detection_id}: photo unavailable{why}."))
    else:
        bp = data.best_photo
        image = Image(io.BytesIO(photo_jpeg))
        scale = PHOTO_WIDTH / max(image.imageWidth, image.imageHeight)
        image.drawWidth, image.drawHeight = image.imageWidth * scale, image.imageHeight * scale
        out.append(image)
        out.append(para(f"Detection {bp.detection_id} at {bp.camera}, {cell(bp.captured_at)} UTC, "
                        f"confidence {bp.confidence:.2f}."))

    if options.include_insights:
        out += [heading("Insights"), *bullets(insights(data))]

    out.append(heading(f"Sightings per {data.group_by}"))
    labels = [p.label for p, _ in data.periods]
    counts = [n for _, n in data.periods]
    if data.sightings == 0:
        out.append(note(not_enough("sightings over time", 0, 1, "sightings")))
    else:
        if options.include_charts:
            out.append(charts.single_bars("Sightings", labels, counts))
        if options.include_tables:
            rows = [[label, n] for label, n in zip(labels, counts, strict=True) if n]
            out.append(table(["Period", "Sightings"], rows, [CONTENT_WIDTH * 0.3, CONTENT_WIDTH * 0.2]))
        out.append(para("As " + ", ".join(f"{c} {data.counts[c]:,}" for c in CLASSIFICATIONS if data.counts[c])
                        + " (effective classification of its detections)."))

    if options.include_tables:
        out.append(heading("Cameras"))
        if not data.cameras:
            out.append(note(not_enough("a camera table", 0, 1, "sightings")))
        else:
            w = CONTENT_WIDTH
            rows = [[c.code, c.name[:34], c.sightings, c.first, c.last] for c in data.cameras]
            out.append(table(["Code", "Name", "Sightings", "First", "Last"], rows,
                             [w * 0.12, w * 0.34, w * 0.14, w * 0.2, w * 0.2], numeric_from=2))

    if options.include_charts:
        out.append(heading("Activity by hour of day (solar time at the camera)"))
        if data.sightings < MIN_DETECTIONS:
            out.append(note(not_enough("activity by hour", data.sightings, MIN_DETECTIONS, "sightings")))
        else:
            out.append(charts.hours_chart("Sightings per hour", data.hours))
    return out


def render(data: DeerProfile, options: ReportOptions, out: IO[bytes], photo_jpeg: bytes | None = None,
           photo_problem: str | None = None) -> None:
    build_pdf(out, options, f"{data.scope.describe()} (by {data.group_by})",
              story(data, options, photo_jpeg, photo_problem), subject=f"Deer profile {data.deer['name']}")
