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

The format is three pydantic models (BatchOutput, ImageEntry, Detection); entries and detections are
validated one by one, so one bad entry is a problem naming its field, never the end of the file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

from deertrack import bbox as boxes
from deertrack import db
from deertrack.ingest import batches
from deertrack.ingest.images import NotAnImage, parse_exif_time, stored_image_info
from deertrack.ingest.schema import Box, ImageRecord
from deertrack.ingest.store import IngestResult, store_records
from deertrack.problems import Problem
from deertrack.settings import get_settings
from deertrack.storage import ObjectMissing

DEFAULT_MIN_CONFIDENCE = 0.2
ANIMAL = "animal"
DEFAULT_CATEGORIES = {"1": "animal", "2": "person", "3": "vehicle"}
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
            "status_url": batches.status_url(result.batch_id) if result and result.accepted_anything else None,
            "skipped_without_animals": self.without_animals,
            "dropped_below_confidence": self.below_confidence,
            "dropped_not_animal": self.non_animal,
            "errors": [p.as_dict() for p in self.problems],
        }


# ------------------------------------------------------------------------------------------ the format


def _or_none(value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
    """An optional field MegaDetector fills loosely: a value of the wrong kind counts as absent."""
    try:
        return handler(value)
    except ValidationError:
        return None


def _unit_interval(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise PydanticCustomError("range", "{conf} is not in 0..1", {"conf": value})
    return value


def _normalized(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    x, y, w, h = box
    if w <= 0 or h <= 0:
        raise PydanticCustomError("bbox_size", "bbox width and height must be > 0")
    if x < 0 or y < 0 or x > 1 or y > 1 or w > 1.0001 or h > 1.0001:
        raise PydanticCustomError("bbox_range", "bbox values must be normalized to 0..1")
    return box


FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
#: [x, y, width, height] as fractions of the image (MegaDetector rounds, so up to 1.0001 is taken).
NormalizedBox = Annotated[tuple[FiniteFloat, FiniteFloat, FiniteFloat, FiniteFloat], AfterValidator(_normalized)]


class Detection(BaseModel):
    """One entry of an image's `detections`."""

    model_config = ConfigDict(extra="allow")

    category: Annotated[str, BeforeValidator(str)] = "None"
    conf: Annotated[float, AfterValidator(_unit_interval)]
    bbox: NormalizedBox
    #: [[class id, score], ...]; read leniently (_classification), never a reason to refuse a detection.
    classifications: Any = None


class ImageEntry(BaseModel):
    """One entry of `images`: a photo and what MegaDetector found in it (or why it failed)."""

    model_config = ConfigDict(extra="allow")

    file: Annotated[str, StringConstraints(min_length=1)]
    failure: Any = None
    detections: list[Any] | None = None  # each validated as a Detection, one by one
    datetime: Annotated[str | None, WrapValidator(_or_none)] = None


class BatchOutput(BaseModel):
    """A MegaDetector batch output file (format 1.x)."""

    model_config = ConfigDict(extra="allow")

    images: list[Any]  # each validated as an ImageEntry, one by one: a bad entry never sinks the file
    detection_categories: dict[str, Any] = Field(default_factory=lambda: dict(DEFAULT_CATEGORIES))
    classification_categories: dict[str, Any] | None = None
    info: Any = None

    def category_names(self) -> dict[str, str]:
        return {str(k): str(v).lower() for k, v in (self.detection_categories or {"1": ANIMAL}).items()}

    def class_names(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in (self.classification_categories or {}).items()}


def batch_output(doc: Any) -> BatchOutput:
    try:
        output = BatchOutput.model_validate(doc)
    except ValidationError as exc:
        where = {e["loc"][0] if e["loc"] else "" for e in exc.errors()}
        if "" in where or "images" in where:
            raise ResultsFileInvalid("not MegaDetector batch output: no top-level 'images' list") from None
        if "detection_categories" in where:
            raise ResultsFileInvalid("detection_categories has no 'animal' category") from None
        raise ResultsFileInvalid("classification_categories must be an object of class id -> name") from None
    if ANIMAL not in set(output.category_names().values()) or not output.detection_categories:
        raise ResultsFileInvalid("detection_categories has no 'animal' category")
    return output


def load_results(data: bytes | str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultsFileInvalid(f"not JSON: {exc}") from exc
    batch_output(doc)
    return doc


def _first(errors: list[Any], field_name: str) -> Any | None:
    return next((e for e in errors if e["loc"][:1] == (field_name,)), None)


#: pydantic's error types on a bbox -> the rule it broke, in the order they are looked for.
_BBOX_SHAPE = ("tuple_type", "missing", "too_short", "too_long", "list_type")
_BBOX_NUMBERS = ("float_parsing", "float_type")


def _bbox_message(errors: list[Any]) -> str:
    kinds = {e["type"] for e in errors}
    if kinds & set(_BBOX_SHAPE):
        return "bbox must be a list [x, y, width, height]"
    if kinds & set(_BBOX_NUMBERS):
        return "bbox values must be numbers"
    if "finite_number" in kinds:
        return "bbox values must be finite"
    return str(errors[0]["msg"])


@dataclass
class Screened:
    """An entry's detections that are kept, and what was dropped or refused."""

    kept: list[tuple[int, Detection]] = field(default_factory=list)
    non_animal: int = 0
    below_confidence: int = 0
    problems: list[Problem] = field(default_factory=list)


def screen_detections(raw: list[Any], path: str, categories: Mapping[str, str], min_confidence: float) -> Screened:
    """Keep an entry's animal detections at or above min_confidence with a valid box; the rest is counted
    (other categories, low confidence) or refused with a problem naming the field."""
    out = Screened()
    for j, item in enumerate(raw):
        where = f"{path}.detections[{j}]"
        if not isinstance(item, Mapping):
            out.problems.append(Problem(where, "object", f"{where}: not an object"))
            continue
        if categories.get(str(item.get("category"))) != ANIMAL:
            out.non_animal += 1
            continue
        try:
            detection = Detection.model_validate(item)
        except ValidationError as exc:
            errors = exc.errors()
            conf_error = _first(errors, "conf")
            if conf_error is not None:
                if conf_error["type"] == "range":
                    out.problems.append(Problem(f"{where}.conf", "range", f"{where}.conf: {conf_error['msg']}"))
                else:
                    out.problems.append(Problem(f"{where}.conf", "number", f"{where}.conf: missing or not a number"))
                continue
            if float(item["conf"]) < min_confidence:
                out.below_confidence += 1
                continue
            bbox_errors = [e for e in errors if e["loc"][:1] == ("bbox",)]
            out.problems.append(Problem(f"{where}.bbox", "bbox", f"{where}.bbox: {_bbox_message(bbox_errors)}"))
            continue
        if detection.conf < min_confidence:
            out.below_confidence += 1
            continue
        out.kept.append((j, detection))
    return out


def image_entry(raw: Any, path: str) -> ImageEntry | Problem:
    """The entry, or the problem that refuses it (no usable file, a MegaDetector failure, no detections list)."""
    try:
        entry = ImageEntry.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        if not errors[0]["loc"] or _first(errors, "file") is not None:
            return Problem(f"{path}.file", "required", f"{path}.file: missing or not a string")
        if raw.get("failure"):
            return _failure(path, raw["file"], raw["failure"])
        return Problem(f"{path}.detections", "list", f"{path}.detections: not a list")
    if entry.failure:
        return _failure(path, entry.file, entry.failure)
    return entry


def _failure(path: str, file: str, failure: Any) -> Problem:
    return Problem(f"{path}.file", "megadetector_failure", f"{path}.file {file}: MegaDetector failed: {failure}")


def _entry_time(entry: ImageEntry, exif_time: datetime | None) -> datetime | None:
    raw = entry.datetime
    if raw:
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


def _classification(detection: Detection, class_names: Mapping[str, str], fallback: str) -> str:
    ranked = detection.classifications or []
    try:
        best = max(ranked, key=lambda c: float(c[1]))
        name = CLASS_NAMES.get(str(class_names.get(str(best[0]), "")).strip().lower())
        if name:
            return name
    except (TypeError, ValueError, IndexError):
        pass
    return fallback


def import_results(doc: Mapping[str, Any], options: ImportOptions, batch_id: str | None = None) -> ImportReport:
    """Store the kept detections of a parsed results file; returns what happened, entry by entry."""
    output = batch_output(doc)
    report = ImportReport(entries=len(output.images))
    categories, class_names = output.category_names(), output.class_names()
    fallback = options.classification or "unknown"
    bucket = get_settings().images_bucket
    with db.connection() as con:
        codes = {r[0] for r in con.run("SELECT code FROM locations")}
    if options.location is not None and options.location not in codes:
        raise ResultsFileInvalid(f"location {options.location!r} is not a known location code")
    records: list[ImageRecord] = []
    for i, raw in enumerate(output.images):
        path = f"images[{i}]"
        entry = image_entry(raw, path)
        if isinstance(entry, Problem):
            report.problems.append(entry)
            continue
        screened = screen_detections(entry.detections or [], path, categories, options.min_confidence)
        report.non_animal += screened.non_animal
        report.below_confidence += screened.below_confidence
        report.problems += screened.problems
        if not screened.kept:
            report.without_animals += 1
            continue
        record = _record(entry, path, options, bucket, codes, report.problems.append)
        if record is None:
            continue
        size = record.size or (0, 0)  # _record always reads it
        for j, detection in screened.kept:
            pixels = boxes.clip(boxes.from_fractions(detection.bbox, size), size)
            if pixels is None:
                report.problems.append(Problem(f"{path}.detections[{j}].bbox", "within_image",
                                               f"{path}.detections[{j}].bbox: nothing of it is inside the image"))
                continue
            record.boxes.append(Box(f"{path}.detections[{j}]", pixels, detection.conf,
                                    _classification(detection, class_names, fallback)))
        if record.boxes:
            records.append(record)
    report.result = store_records(records, batch_id=batch_id)
    report.problems += report.result.problems
    return report


def _record(entry: ImageEntry, path: str, options: ImportOptions, bucket: str, codes: set[str],
            refuse: Callable[[Problem], None]) -> ImageRecord | None:
    """The photo of an entry with kept detections: its stored image, capture time and location."""
    key = options.key_of(entry.file)
    try:
        info = stored_image_info(bucket, key)
    except ObjectMissing:
        refuse(Problem(f"{path}.file", "exists", f"{path}.file {entry.file}: no image s3://{bucket}/{key}"))
        return None
    except NotAnImage as exc:
        refuse(Problem(f"{path}.file", "image", f"{path}.file {entry.file}: {exc}"))
        return None
    taken_at = _entry_time(entry, info.taken_at)
    if taken_at is None:
        refuse(Problem(f"{path}.file", "timestamp", f"{path}.file {entry.file}: no capture time (no 'datetime' in "
                                                    "the entry and no EXIF DateTimeOriginal in the photo)"))
        return None
    location = options.location or _location_from_key(key, codes)
    if location is None:
        refuse(Problem(f"{path}.file", "known_location", f"{path}.file {entry.file}: no folder of {key} is a known "
                                                         "location code; give the location explicitly"))
        return None
    return ImageRecord(path=path, captured_at=taken_at, image_key=key, location_code=location,
                       size=(info.width, info.height), key_field="file")
