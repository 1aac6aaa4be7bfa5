"""MegaDetector batch output (format 1.x) -> photo records for store.py.

    {"images": [{"file": "CAM-01/IMG_0001.JPG",
                 "detections": [{"category": "1", "conf": 0.92, "bbox": [x, y, w, h],   # normalized 0..1
                                 "classifications": [["0", 0.8]]}]}],              # optional
     "detection_categories": {"1": "animal", "2": "person", "3": "vehicle"},
     "classification_categories": {"0": "doe"},                                     # optional
     "info": {"format_version": "1.3", ...}}

Kept: detections of the "animal" category with conf >= min_confidence (default 0.2). Boxes are
converted to pixels with the photo's real size, read from the images bucket, and clipped to it.
Each detection's classification is the top classification when its category name is a deer class
(buck/doe/fawn, or male/female/juvenile), else the `classification` option, else 'unknown'.
Each photo's S3 key is IMAGES_PREFIX + its `file` (backslashes become '/'). Its time is the entry's
`datetime` when present, else the photo's EXIF DateTimeOriginal (UTC unless EXIF gives an offset).
Its location is the `location` option, else the first component of the key that is a location code.
Entries MegaDetector failed on, or without a kept detection, are reported / skipped, never fatal.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from deertrack import db
from deertrack.ingest.images import NotAnImage, parse_exif_time, stored_image_info
from deertrack.ingest.schema import Box, ImageRecord
from deertrack.ingest.store import IngestResult, store_records
from deertrack.problems import Problem
from deertrack.settings import get_settings
from deertrack.storage import ObjectMissing

DEFAULT_MIN_CONFIDENCE = 0.2
ANIMAL = "animal"
CLASS_NAMES = {"buck": "buck", "doe": "doe", "fawn": "fawn", "male": "buck", "female": "doe", "juvenile": "fawn",
               "unknown": "unknown"}


class ResultsFileInvalid(ValueError):
    """The file is not MegaDetector batch output; the message says what is wrong."""


@dataclass(frozen=True)
class ImportOptions:
    images_prefix: str = ""
    location: str | None = None  # a location code for every photo
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    classification: str | None = None  # for detections without a usable classification

    def key_of(self, file: str) -> str:
        path = file.replace("\\", "/").lstrip("/")
        prefix = self.images_prefix.strip("/")
        return f"{prefix}/{path}" if prefix else path


@dataclass
class ImportReport:
    entries: int = 0
    without_animals: int = 0
    below_confidence: int = 0
    non_animal: int = 0
    result: IngestResult | None = None
    problems: list[Problem] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        result = self.result
        return {
            "entries": self.entries,
            "images_imported": result.images_accepted if result else 0,
            "detections": len(result.detections) if result else 0,
            "duplicates": sum(d.duplicate for d in result.detections) if result else 0,
            "queued_for_reid": len(result.queued) if result else 0,
            "batch_id": result.batch_id if result else None,
            "skipped_without_animals": self.without_animals,
            "dropped_below_confidence": self.below_confidence,
            "dropped_not_animal": self.non_animal,
            "errors": [p.as_dict() for p in self.problems],
        }


def load_results(data: bytes | str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultsFileInvalid(f"not JSON: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list):
        raise ResultsFileInvalid("not MegaDetector batch output: no top-level 'images' list")
    categories = doc.get("detection_categories", {"1": "animal", "2": "person", "3": "vehicle"})
    if not isinstance(categories, dict) or ANIMAL not in {str(v).lower() for v in categories.values()}:
        raise ResultsFileInvalid("detection_categories has no 'animal' category")
    return doc


def _entry_time(entry: Mapping[str, Any], exif_time: datetime | None) -> datetime | None:
    raw = entry.get("datetime")
    if isinstance(raw, str) and raw:
        parsed = parse_exif_time(raw)
        if parsed is None:
            try:
                parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            except ValueError:
                parsed = None
        if parsed is not None:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return exif_time


def _location_from_key(key: str, codes: set[str]) -> str | None:
    return next((part for part in key.split("/")[:-1] if part in codes), None)


def _classification(detection: Mapping[str, Any], class_names: Mapping[str, str], fallback: str) -> str:
    ranked = detection.get("classifications") or []
    try:
        best = max(ranked, key=lambda c: float(c[1]))
        name = CLASS_NAMES.get(str(class_names.get(str(best[0]), "")).strip().lower())
        if name:
            return name
    except (TypeError, ValueError, IndexError):
        pass
    return fallback


def _bbox_problem(bbox: Any) -> str | None:
    if not isinstance(bbox, list) or len(bbox) != 4:
        return "bbox must be a list [x, y, width, height]"
    try:
        x, y, w, h = (float(v) for v in bbox)
    except (TypeError, ValueError):
        return "bbox values must be numbers"
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        return "bbox values must be finite"
    if w <= 0 or h <= 0:
        return "bbox width and height must be > 0"
    if x < 0 or y < 0 or x > 1 or y > 1 or w > 1.0001 or h > 1.0001:
        return "bbox values must be normalized to 0..1"
    return None


def to_pixels(bbox: list[float], width: int, height: int) -> tuple[int, int, int, int] | None:
    """Normalized [x, y, w, h] -> pixel (x, y, w, h) clipped to the image; None when nothing is left."""
    x0, y0 = max(0, round(bbox[0] * width)), max(0, round(bbox[1] * height))
    x1, y1 = min(width, round((bbox[0] + bbox[2]) * width)), min(height, round((bbox[1] + bbox[3]) * height))
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1 - x0, y1 - y0


def import_results(doc: Mapping[str, Any], options: ImportOptions, batch_id: str | None = None) -> ImportReport:
    """Store the kept detections of a parsed results file; returns what happened, entry by entry."""
    report = ImportReport(entries=len(doc["images"]))
    categories = {str(k): str(v).lower() for k, v in (doc.get("detection_categories") or {"1": "animal"}).items()}
    class_names = {str(k): str(v) for k, v in (doc.get("classification_categories") or {}).items()}
    fallback = options.classification or "unknown"
    bucket = get_settings().images_bucket
    with db.connection() as con:
        codes = {r[0] for r in con.run("SELECT code FROM locations")}
    if options.location is not None and options.location not in codes:
        raise ResultsFileInvalid(f"location {options.location!r} is not a known location code")
    records: list[ImageRecord] = []
    for i, entry in enumerate(doc["images"]):
        path = f"images[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("file"), str) or not entry["file"]:
            report.problems.append(Problem(f"{path}.file", "required", f"{path}.file: missing or not a string"))
            continue
        if entry.get("failure"):
            report.problems.append(Problem(f"{path}.file", "megadetector_failure",
                                           f"{path}.file {entry['file']}: MegaDetector failed: {entry['failure']}"))
            continue
        kept: list[tuple[int, dict[str, Any]]] = []
        for j, detection in enumerate(entry.get("detections") or []):
            if not isinstance(detection, dict):
                report.problems.append(Problem(f"{path}.detections[{j}]", "object",
                                               f"{path}.detections[{j}]: not an object"))
                continue
            if categories.get(str(detection.get("category"))) != ANIMAL:
                report.non_animal += 1
                continue
            try:
                conf = float(detection.get("conf"))
            except (TypeError, ValueError):
                report.problems.append(Problem(f"{path}.detections[{j}].conf", "number",
                                               f"{path}.detections[{j}].conf: missing or not a number"))
                continue
            if not 0.0 <= conf <= 1.0:
                report.problems.append(Problem(f"{path}.detections[{j}].conf", "range",
                                               f"{path}.detections[{j}].conf: {conf} is not in 0..1"))
                continue
            if conf < options.min_confidence:
                report.below_confidence += 1
                continue
            problem = _bbox_problem(detection.get("bbox"))
            if problem:
                report.problems.append(Problem(f"{path}.detections[{j}].bbox", "bbox",
                                               f"{path}.detections[{j}].bbox: {problem}"))
                continue
            kept.append((j, detection))
        if not kept:
            report.without_animals += 1
            continue
        key = options.key_of(entry["file"])
        try:
            info = stored_image_info(bucket, key)
        except ObjectMissing:
            report.problems.append(Problem(f"{path}.file", "exists",
                                           f"{path}.file {entry['file']}: no image s3://{bucket}/{key}"))
            continue
        except NotAnImage as exc:
            report.problems.append(Problem(f"{path}.file", "image", f"{path}.file {entry['file']}: {exc}"))
            continue
        taken_at = _entry_time(entry, info.taken_at)
        if taken_at is None:
            report.problems.append(Problem(f"{path}.file", "timestamp",
                                           f"{path}.file {entry['file']}: no capture time (no 'datetime' in the "
                                           "entry and no EXIF DateTimeOriginal in the photo)"))
            continue
        location = options.location or _location_from_key(key, codes)
        if location is None:
            report.problems.append(Problem(f"{path}.file", "known_location",
                                           f"{path}.file {entry['file']}: no folder of {key} is a known location "
                                           "code; give the location explicitly"))
            continue
        record = ImageRecord(path=path, captured_at=taken_at, image_key=key, location_code=location,
                             size=(info.width, info.height), key_field="file")
        for j, detection in kept:
            pixels = to_pixels([float(v) for v in detection["bbox"]], info.width, info.height)
            if pixels is None:
                report.problems.append(Problem(f"{path}.detections[{j}].bbox", "within_image",
                                               f"{path}.detections[{j}].bbox: nothing of it is inside the image"))
                continue
            record.boxes.append(Box(f"{path}.detections[{j}]", pixels, float(detection["conf"]),
                                    _classification(detection, class_names, fallback)))
        if record.boxes:
            records.append(record)
    report.result = store_records(records, batch_id=batch_id)
    report.problems += report.result.problems
    return report
