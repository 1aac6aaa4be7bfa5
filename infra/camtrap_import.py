"""Load a Camtrap DP package (a directory or a .zip) into locations, images and detections.

- deployment → location: `code` is the deploymentID, with its name, coordinates, habitat, camera
  model and deployment dates.
- media → image: its key is `imports/<package>/<mediaID>/<fileName>`; a file the package holds
  locally (a relative `filePath`, or `media/<fileName>`) is uploaded to the images bucket there.
  Its size is read from that file; a media file the package only links to (a URL) gets the size
  most common among the package's own files (reported), since its bounding boxes are fractions.
- media-level `animal` observation → detection: class from sex and life stage (male → buck,
  female → doe, juvenile → fawn, otherwise unknown), bbox from the fractions (the whole frame when
  none), confidence from `classificationProbability` (1.0 when a person classified it). An
  `individualID` is recorded as an identity known to be true (`detection_truth`, source `import`),
  for re-ID to be measured against; detections are not assigned to deer by the import.
  Event-level and non-animal observations are counted and skipped.

Idempotent: everything happens in one transaction, images are keyed by package and mediaID, and an
image that already exists keeps the detections it was imported with. Running it again adds nothing
(and uploads only files missing from the bucket).
"""

from __future__ import annotations

import csv
import json
import re
import tempfile
import zipfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

import pg8000.native

from deertrack import bbox as boxes
from deertrack import db
from deertrack.camtrap_dp import BBOX_FIELDS, SUPPORTED_VERSIONS, TABLES, classification
from deertrack.logs import logger

DEFAULT_FRAME = (1920, 1080)


class PackageInvalid(ValueError):
    """The package cannot be imported; the message says what is wrong and where."""


@dataclass
class ImportReport:
    package: str
    locations_created: int = 0
    locations_existing: int = 0
    images_created: int = 0
    images_existing: int = 0
    detections_created: int = 0
    identities_recorded: int = 0
    media_uploaded: int = 0
    media_size_assumed: int = 0
    assumed_size: tuple[int, int] | None = None
    skipped: Counter[str] = field(default_factory=Counter)

    def lines(self) -> list[str]:
        out = [
            f"package {self.package}",
            f"locations: {self.locations_created} created, {self.locations_existing} already there",
            f"images: {self.images_created} created, {self.images_existing} already there "
            f"({self.media_uploaded} files uploaded)",
            f"detections: {self.detections_created} created ({self.identities_recorded} with a known individual)",
        ]
        if self.media_size_assumed:
            w, h = self.assumed_size or DEFAULT_FRAME
            out.append(f"{self.media_size_assumed} images are not in the package: their size is taken as {w}x{h}")
        for reason, n in sorted(self.skipped.items()):
            out.append(f"skipped {n} observations: {reason}")
        return out


def _parse_time(value: str, where: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise PackageInvalid(f"{where}: {value!r} is not an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        raise PackageInvalid(f"{where}: {value!r} has no time zone (Camtrap DP requires one)")
    return parsed


def _float(value: str) -> float | None:
    return float(value) if value not in ("", "NA", "NaN", "nan") else None


def _rows(path: Path, name: str) -> Iterator[tuple[int, dict[str, str]]]:
    if not path.is_file():
        raise PackageInvalid(f"{name}: file {path} not found")
    with path.open(newline="", encoding="utf-8") as handle:
        yield from enumerate(csv.DictReader(handle), start=2)


def _key_part(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:80] or "package"


@contextmanager
def _opened(source: Path) -> Iterator[Path]:
    """A directory holding the package: `source` itself, or a .zip unpacked to a temporary one."""
    if source.is_dir():
        yield source
        return
    if not zipfile.is_zipfile(source):
        raise PackageInvalid(f"{source} is neither a directory nor a .zip with a datapackage.json")
    with tempfile.TemporaryDirectory(prefix="camtrap-import-") as tmp:
        with zipfile.ZipFile(source) as archive:
            for member in archive.namelist():
                if member.startswith("/") or ".." in PurePosixPath(member).parts:
                    raise PackageInvalid(f"{source}: unsafe path {member!r} in the archive")
            archive.extractall(tmp)
        yield Path(tmp)


class PackageImport:
    def __init__(self, directory: Path, upload_media: bool = True, species: set[str] | None = None,
                 image_size: tuple[int, int] | None = None) -> None:
        self.dir = directory
        self.upload_media = upload_media
        self.species = species
        self.image_size = image_size
        meta_path = directory / "datapackage.json"
        if not meta_path.is_file():
            raise PackageInvalid(f"{directory}: no datapackage.json")
        try:
            self.meta: dict[str, Any] = json.loads(meta_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise PackageInvalid(f"{meta_path}: not valid JSON ({exc})") from exc
        profile = str(self.meta.get("profile", ""))
        if "camtrap-dp" not in profile:
            raise PackageInvalid(f"{meta_path}: profile {profile!r} is not a Camtrap DP profile")
        if not any(f"/{v}/" in profile for v in SUPPORTED_VERSIONS):
            logger.warning("camtrap dp version not tested", extra={"profile": profile})
        self.paths = {r.get("name"): r.get("path") for r in self.meta.get("resources", [])}
        for table in TABLES:
            if not isinstance(self.paths.get(table), str):
                raise PackageInvalid(f"{meta_path}: no {table} resource with a path")
        self.key = _key_part(str(self.meta.get("id") or self.meta.get("name") or directory.name))
        self.report = ImportReport(self.key)

    def local_file(self, media: dict[str, str]) -> Path | None:
        for candidate in (media.get("filePath", ""), f"media/{media.get('fileName', '')}"):
            if not candidate or "://" in candidate or candidate.startswith(("/", "~")) or ".." in candidate:
                continue
            path = self.dir / candidate
            if path.is_file():
                return path
        return None

    def run(self, con: pg8000.native.Connection) -> ImportReport:
        with db.transaction(con):
            locations = self._locations(con)
            images = self._images(con, locations)
            self._observations(con, images)
        return self.report

    def _locations(self, con: pg8000.native.Connection) -> dict[str, int]:
        ids: dict[str, int] = {}
        for line, d in _rows(self.dir / self.paths["deployments"], "deployments.csv"):
            where = f"deployments.csv line {line}"
            code = (d.get("deploymentID") or "").strip()
            if not code or len(code) > 64:
                raise PackageInvalid(f"{where}: deploymentID must be 1-64 characters")
            lat, lon = _float(d.get("latitude", "")), _float(d.get("longitude", ""))
            if lat is None or lon is None:
                raise PackageInvalid(f"{where}: latitude and longitude are required")
            start = _parse_time(d["deploymentStart"], where) if d.get("deploymentStart") else None
            end = _parse_time(d["deploymentEnd"], where) if d.get("deploymentEnd") else None
            created = con.run(
                "INSERT INTO locations (code, name, latitude, longitude, habitat, camera_model, deployment_start, "
                "deployment_end) VALUES (:code, :name, :lat, :lon, :habitat, :model, :start, :end) "
                "ON CONFLICT (code) DO NOTHING RETURNING id",
                code=code, name=((d.get("locationName") or code).strip() or code)[:200], lat=lat, lon=lon,
                habitat=d.get("habitat") or None, model=d.get("cameraModel") or None, start=start, end=end,
            )
            if created:
                ids[code] = created[0][0]
                self.report.locations_created += 1
            else:
                ids[code] = con.run("SELECT id FROM locations WHERE code = :c", c=code)[0][0]
                self.report.locations_existing += 1
        return ids

    def _images(self, con: pg8000.native.Connection, locations: dict[str, int]
                ) -> dict[str, tuple[int, bool, tuple[int, int]]]:
        """mediaID → (image id, created now, (width, height))."""
        from PIL import Image

        media = list(_rows(self.dir / self.paths["media"], "media.csv"))
        local: dict[str, Path] = {}
        sizes: dict[str, tuple[int, int]] = {}
        for _, m in media:
            path = self.local_file(m)
            if path is not None:
                local[m["mediaID"]] = path
                with Image.open(path) as image:
                    sizes[m["mediaID"]] = image.size
        common = Counter(sizes.values()).most_common(1)
        assumed = self.image_size or (common[0][0] if common else DEFAULT_FRAME)
        self.report.assumed_size = assumed

        out: dict[str, tuple[int, bool, tuple[int, int]]] = {}
        bucket = None
        for line, m in media:
            where = f"media.csv line {line}"
            media_id = (m.get("mediaID") or "").strip()
            if not media_id:
                raise PackageInvalid(f"{where}: mediaID is required")
            location = locations.get(m.get("deploymentID", ""))
            if location is None:
                raise PackageInvalid(f"{where}: deploymentID {m.get('deploymentID')!r} is not in deployments.csv")
            name = m.get("fileName") or PurePosixPath(m.get("filePath", "")).name or f"{media_id}.jpg"
            key = f"imports/{self.key}/{_key_part(media_id)}/{_key_part(name)}"
            size = sizes.get(media_id)
            if size is None:
                self.report.media_size_assumed += 1
                size = assumed
            captured = _parse_time(m.get("timestamp", ""), where)
            created = con.run(
                "INSERT INTO images (s3_key, location_id, captured_at, width, height) VALUES (:k, :l, :t, :w, :h) "
                "ON CONFLICT (s3_key) DO NOTHING RETURNING id",
                k=key, l=location, t=captured, w=size[0], h=size[1],
            )
            if created:
                image_id, is_new = created[0][0], True
                self.report.images_created += 1
            else:
                image_id, is_new = con.run("SELECT id FROM images WHERE s3_key = :k", k=key)[0][0], False
                self.report.images_existing += 1
            out[media_id] = (image_id, is_new, size)
            if self.upload_media and media_id in local:
                from deertrack import storage
                from deertrack.settings import get_settings

                bucket = bucket or get_settings().images_bucket
                if not storage.exists(bucket, key):
                    storage.put_bytes(bucket, key, local[media_id].read_bytes(),
                                      m.get("fileMediatype") or "image/jpeg")
                    self.report.media_uploaded += 1
        return out

    def _observations(self, con: pg8000.native.Connection,
                      images: dict[str, tuple[int, bool, tuple[int, int]]]) -> None:
        for line, o in _rows(self.dir / self.paths["observations"], "observations.csv"):
            where = f"observations.csv line {line}"
            if o.get("observationLevel") != "media" or not o.get("mediaID"):
                self.report.skipped["event-level (no single image)"] += 1
                continue
            if o.get("observationType") != "animal":
                self.report.skipped[f"observationType {o.get('observationType') or 'missing'}"] += 1
                continue
            if self.species is not None and o.get("scientificName") not in self.species:
                self.report.skipped["another species"] += 1
                continue
            image = images.get(o["mediaID"])
            if image is None:
                raise PackageInvalid(f"{where}: mediaID {o['mediaID']!r} is not in media.csv")
            image_id, is_new, (width, height) = image
            if not is_new:
                self.report.skipped["image imported before"] += 1
                continue
            bbox = self._bbox(o, width, height, where)
            probability = _float(o.get("classificationProbability", ""))
            confidence = probability if probability is not None else 1.0
            if not 0.0 <= confidence <= 1.0:
                raise PackageInvalid(f"{where}: classificationProbability {confidence} is outside 0-1")
            detector_class = classification(o.get("sex", ""), o.get("lifeStage", ""))
            detection_id = con.run(
                "INSERT INTO detections (image_id, bbox_x, bbox_y, bbox_width, bbox_height, confidence, "
                "classification, burst_group) VALUES (:i, :x, :y, :w, :h, :c, :cls, :burst) RETURNING id",
                i=image_id, x=bbox[0], y=bbox[1], w=bbox[2], h=bbox[3], c=confidence, cls=detector_class,
                burst=o.get("eventID") or None,
            )[0][0]
            self.report.detections_created += 1
            if o.get("individualID"):
                con.run("INSERT INTO detection_truth (detection_id, individual_key, source) VALUES (:d, :k, 'import')",
                        d=detection_id, k=f"{self.key}:{o['individualID']}")
                self.report.identities_recorded += 1

    @staticmethod
    def _bbox(o: dict[str, str], width: int, height: int, where: str) -> tuple[int, int, int, int]:
        values = [_float(o.get(k, "")) for k in BBOX_FIELDS]
        if all(v is None for v in values):
            return (0, 0, width, height)
        if any(v is None or not 0 <= v <= 1 for v in values):
            raise PackageInvalid(f"{where}: {'/'.join(BBOX_FIELDS)} must all be fractions 0-1")
        fx, fy, fw, fh = (v or 0.0 for v in values)  # none is None here
        size = (width, height)
        return boxes.clip_to_a_pixel(boxes.from_fractions((fx, fy, fw, fh), size), size)


def import_package(source: Path, *, upload_media: bool = True, species: set[str] | None = None,
                   image_size: tuple[int, int] | None = None) -> ImportReport:
    with _opened(source) as directory:
        job = PackageImport(directory, upload_media, species, image_size)
        with db.connection() as con:
            report = job.run(con)
    logger.info("camtrap dp package imported", extra={"package": report.package,
                                                      "images_created": report.images_created,
                                                      "detections_created": report.detections_created})
    return report
