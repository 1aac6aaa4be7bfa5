"""Camtrap DP 1.0.2 export: the selected detections as a Camera Trap Data Package, in one ZIP.

The package holds `datapackage.json`, `deployments.csv` (one deployment per camera),
`media.csv` (one row per image) and `observations.csv` (one media-level observation per
detection), and with `include_media` the images themselves under `media/` (stored, not deflated).

How deertrack maps onto Camtrap DP:
- deployment = camera (`locations`): deploymentID and locationID are the camera code; start/end are
  the camera's deployment dates, widened to cover every image it took.
- observation = detection: `classificationMethod` machine with the detector's confidence as
  `classificationProbability`, or human when a reviewer corrected the class; sex and life stage from
  the class (buck: male adult, doe: female adult, fawn: juvenile); bbox as fractions of the image;
  `individualID` is the re-identified deer's id. A detection marked invalid (not a deer) is a
  `blank` observation.
- Every observation is of white-tailed deer (`SCIENTIFIC_NAME`): deertrack only detects deer.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from deertrack import bbox as boxes
from deertrack import db
from deertrack.camtrap_dp import (
    BBOX_FIELDS,
    LIFE_STAGE,
    MEDIA_TYPES,
    PROFILE_URL,
    SCHEMA_URL,
    SEX,
    TABLES,
    VERSION,
    fraction,
)
from deertrack.exports.schemas import CamtrapDpExportRequest
from deertrack.jobs import Job
from deertrack.settings import get_settings
from gpu_batch.archives.images import fetch
from gpu_batch.archives.render import load_rows, zip_filename
from gpu_batch.archives.rows import DetectionRow
from gpu_batch.archives.writer import ArchiveWriter, CsvSpool, utc_timestamp
from gpu_batch.job_run import JobRun
from gpu_batch.rendered import Rendered

SCIENTIFIC_NAME = "Odocoileus virginianus"
VERNACULAR_NAME = "white-tailed deer"
DETECTOR = "deertrack detector"
REVIEWER = "deertrack reviewer"


@dataclass(frozen=True)
class Deployment:
    location_id: int
    code: str
    name: str
    latitude: float
    longitude: float
    camera_model: str | None
    habitat: str | None
    start: datetime
    end: datetime

    def row(self) -> dict[str, Any]:
        return {"deploymentID": self.code, "locationID": self.code, "locationName": self.name,
                "latitude": self.latitude, "longitude": self.longitude, "deploymentStart": utc_timestamp(self.start),
                "deploymentEnd": utc_timestamp(self.end), "cameraModel": self.camera_model or "",
                "habitat": self.habitat or ""}


def deployments(con: Any, location_ids: list[int]) -> list[Deployment]:
    rows = con.run(
        "SELECT l.id, l.code, l.name, l.latitude, l.longitude, l.camera_model, l.habitat, "
        "LEAST(l.deployment_start, min(i.captured_at)), GREATEST(l.deployment_end, max(i.captured_at)) "
        "FROM locations l JOIN images i ON i.location_id = l.id WHERE l.id = ANY(CAST(:ids AS INTEGER[])) "
        "GROUP BY l.id ORDER BY l.code",
        ids=location_ids,
    )
    return [Deployment(*r) for r in rows]


def media_path(row: DetectionRow) -> str:
    return f"media/{row.image_id}_{posixpath.basename(row.image_s3_key)}"


def media_row(row: DetectionRow, bucket: str, included: bool, comment: str = "") -> dict[str, Any]:
    name = posixpath.basename(row.image_s3_key)
    extension = posixpath.splitext(name)[1].lower()
    return {
        "mediaID": str(row.image_id), "deploymentID": row.location_code, "captureMethod": "activityDetection",
        "timestamp": utc_timestamp(row.captured_at),
        "filePath": media_path(row) if included else f"s3://{bucket}/{row.image_s3_key}",
        "filePublic": "false", "fileName": name, "fileMediatype": MEDIA_TYPES.get(extension, "image/jpeg"),
        "mediaComments": comment,
    }


def bbox_fractions(row: DetectionRow) -> dict[str, str]:
    """The box as fractions of the image (clipped to it); empty when the image size is unknown."""
    width, height = row.image_width, row.image_height
    fractions = boxes.to_fractions(row.bbox, (width, height)) if width and height else None
    if fractions is None:
        return {}
    x, y, w, h = fractions
    # a box thinner than the 5 places fraction() writes is still a box
    return dict(zip(BBOX_FIELDS, (fraction(x), fraction(y), fraction(max(w, 1e-5)), fraction(max(h, 1e-5))),
                    strict=True))


def observation_row(row: DetectionRow) -> dict[str, Any]:
    when = utc_timestamp(row.captured_at)
    out: dict[str, Any] = {
        "observationID": str(row.detection_id), "deploymentID": row.location_code, "mediaID": str(row.image_id),
        "eventID": row.burst_group or "", "eventStart": when, "eventEnd": when, "observationLevel": "media",
    }
    if not row.is_valid:
        out.update(observationType="blank", observationComments="marked not a deer (is_valid false) in deertrack")
        return out
    out.update(
        observationType="animal", scientificName=SCIENTIFIC_NAME, count=1,
        lifeStage=LIFE_STAGE.get(row.classification, ""), sex=SEX.get(row.classification, ""),
        individualID=str(row.deer_id) if row.deer_id is not None else "",
        observationTags=f"deertrack:classification:{row.classification}", **bbox_fractions(row),
    )
    if row.corrected:
        out.update(classificationMethod="human", classifiedBy=REVIEWER,
                   observationComments=f"detector said {row.detector_classification}")
    else:
        out.update(classificationMethod="machine", classifiedBy=DETECTOR,
                   classificationTimestamp=utc_timestamp(row.detected_at),
                   classificationProbability=f"{min(max(row.confidence, 0.0), 1.0):.4f}")
    return out


def spatial(deps: list[Deployment]) -> dict[str, Any]:
    lons = [d.longitude for d in deps]
    lats = [d.latitude for d in deps]
    west, east, south, north = min(lons), max(lons), min(lats), max(lats)
    if west == east or south == north:
        return {"type": "Point", "coordinates": [west, south]}
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


def datapackage(job: Job, deps: list[Deployment], created: datetime) -> dict[str, Any]:
    resources = [
        {"name": table, "path": f"{table}.csv", "profile": "tabular-data-resource", "format": "csv",
         "mediatype": "text/csv", "encoding": "utf-8", "schema": SCHEMA_URL.format(version=VERSION, table=table)}
        for table in TABLES
    ]
    return {
        "resources": resources,
        "profile": PROFILE_URL,
        "name": f"deertrack-export-{job.job_id[:8]}",
        "id": job.job_id,
        "created": utc_timestamp(created),
        "title": f"deertrack camera trap export {job.job_id[:8]}",
        "contributors": [{"title": "deertrack", "role": "publisher"}],
        "description": "Detections of white-tailed deer by deertrack trail cameras, with re-identified "
                       "individuals (individualID is the deertrack deer id).",
        "version": "1.0",
        "sources": [{"title": "deertrack", "version": "0.1.0"}],
        "project": {
            "id": get_settings().stage,
            "title": "deertrack trail-camera deer monitoring",
            "samplingDesign": "targeted",
            "captureMethod": ["activityDetection"],
            "individualAnimals": True,
            "observationLevel": ["media"],
        },
        "spatial": spatial(deps),
        "temporal": {"start": min(d.start for d in deps).astimezone(UTC).date().isoformat(),
                     "end": max(d.end for d in deps).astimezone(UTC).date().isoformat()},
        "taxonomic": [{"scientificName": SCIENTIFIC_NAME, "taxonRank": "species",
                       "vernacularNames": {"eng": VERNACULAR_NAME}}],
    }


def write_package(out: IO[bytes], job: Job, rows: list[DetectionRow], deps: list[Deployment],
                  fetched: Iterable[Any] | None, run: JobRun | None = None,
                  created: datetime | None = None) -> dict[str, Any]:
    created = created or datetime.now(UTC)
    bucket = get_settings().images_bucket
    archive = ArchiveWriter(out)
    tables = {name: CsvSpool(fields) for name, fields in TABLES.items()}
    for dep in deps:
        tables["deployments"].add(dep.row())
    media_done: set[int] = set()
    missing = 0
    if fetched is None:
        for row in rows:
            if row.image_id not in media_done:
                media_done.add(row.image_id)
                tables["media"].add(media_row(row, bucket, included=False))
    else:
        done = 0
        for item in fetched:
            first = item.group.rows[0]
            if item.data is None:
                missing += 1
                tables["media"].add(media_row(first, bucket, included=False,
                                              comment=f"not in this package: {item.problem}"))
            else:
                archive.add_stored(media_path(first), item.data, first.captured_at)
                tables["media"].add(media_row(first, bucket, included=True))
            media_done.add(first.image_id)
            done += len(item.group.rows)
            if run is not None:
                run.progress(done)
    for row in rows:
        tables["observations"].add(observation_row(row))
    for name, table in tables.items():
        table.into(archive, f"{name}.csv", created)
    archive.add_json("datapackage.json", datapackage(job, deps, created), created)
    archive.close()
    return {"observations": len(rows), "media": len(media_done), "deployments": len(deps),
            "media_missing": missing}


def render_camtrap_dp(request: dict[str, Any], job: Job, run: JobRun, out: IO[bytes]) -> Rendered:
    req, rows = load_rows(request, CamtrapDpExportRequest, run)
    with db.connection() as con:
        deps = deployments(con, sorted({r.location_id for r in rows}))
    fetched = fetch(get_settings().images_bucket, rows, None, keep_image=True) if req.include_media else None
    summary = write_package(out, job, rows, deps, fetched, run)
    run.progress(len(rows), force=True)
    run.checkpoint("packaged")
    return Rendered(zip_filename(job, "camtrap-dp"), "application/zip", summary)
