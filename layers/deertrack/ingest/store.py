"""Store validated photo records as images + detections, then queue one re-ID message per batch.

Checks that need the outside world happen here, per record: the location must exist, the photo
must be in the images bucket (or is uploaded there), every box must lie inside the photo. A record
that fails is reported and left out; the rest go in, in one transaction. Storing the same box of the
same photo twice gives back the stored detection (marked duplicate), so a retried request or a
redelivered S3 notification never doubles detections.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pg8000.native

from deertrack import bbox, db
from deertrack.ingest.images import ImageInfo, NotAnImage, info_from_bytes, stored_image_info
from deertrack.ingest.schema import ImageRecord
from deertrack.logs import logger
from deertrack.messages import ReidBatchMessage
from deertrack.problems import Problem
from deertrack.queues import send
from deertrack.settings import get_settings
from deertrack.storage import ObjectMissing, put_bytes

#: Detections per re-ID message; a larger batch is split (still one message per batch below this).
MAX_DETECTIONS_PER_MESSAGE = 1000
UPLOAD_PREFIX = "uploads/"
IMAGE_CHECK_THREADS = 8
_IMAGE_LOCK_CLASS = 0x44540001  # pg_advisory_xact_lock(class, hashtext(s3_key))
_CONTENT_TYPES = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "TIFF": ("image/tiff", "tif"),
                  "WEBP": ("image/webp", "webp")}


@dataclass(frozen=True)
class StoredDetection:
    path: str
    detection_id: int
    duplicate: bool
    pending: bool


@dataclass
class IngestResult:
    batch_id: str
    detections: list[StoredDetection] = field(default_factory=list)
    images_accepted: int = 0
    problems: list[Problem] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)
    queued: list[int] = field(default_factory=list)

    @property
    def accepted_anything(self) -> bool:
        return self.images_accepted > 0


def resolve_locations(con: pg8000.native.Connection, records: Sequence[ImageRecord]) -> tuple[dict[str, int], set[int]]:
    codes = sorted({r.location_code for r in records if r.location_code})
    ids = sorted({r.location_id for r in records if r.location_id})
    by_code: dict[str, int] = {}
    known_ids: set[int] = set()
    if codes:
        by_code = dict(con.run("SELECT code, id FROM locations WHERE code = ANY(CAST(:c AS TEXT[]))", c=codes))
    if ids:
        known_ids = {r[0] for r in con.run("SELECT id FROM locations WHERE id = ANY(CAST(:i AS INTEGER[]))", i=ids)}
    return by_code, known_ids


def _upload(record: ImageRecord, bucket: str) -> tuple[str, ImageInfo]:
    assert record.upload is not None
    info = info_from_bytes(record.upload)
    content_type, extension = _CONTENT_TYPES.get(info.format or "", ("application/octet-stream", "bin"))
    digest = hashlib.sha256(record.upload).hexdigest()
    name = record.filename or f"image.{extension}"
    key = f"{UPLOAD_PREFIX}{digest[:2]}/{digest}/{name}"
    put_bytes(bucket, key, record.upload, content_type)
    return key, info


def _check_image(record: ImageRecord, bucket: str) -> tuple[str | None, tuple[int, int] | None, list[Problem]]:
    """(s3 key, (width, height), problems) of the record's photo; uploads are stored here."""
    field_name = f"{record.path}.{record.key_field}"
    try:
        if record.upload is not None:
            key, info = _upload(record, bucket)
            return key, (info.width, info.height), []
        assert record.image_key is not None
        if record.size is not None:
            return record.image_key, record.size, []
        info = stored_image_info(bucket, record.image_key)
        return record.image_key, (info.width, info.height), []
    except ObjectMissing:
        return None, None, [Problem(field_name, "exists",
                                    f"{field_name}: no image s3://{bucket}/{record.image_key} in the images bucket")]
    except NotAnImage as exc:
        return None, None, [Problem(field_name, "image", f"{field_name}: {exc}")]


def _boxes_inside(record: ImageRecord, size: tuple[int, int]) -> tuple[list, list[Problem]]:
    width, height = size
    good, problems = [], []
    for box in record.boxes:
        x, y, w, h = box.bbox
        if not bbox.fits(box.bbox, size):
            problems.append(Problem(box.path, "within_image",
                                    f"{box.path}: box x={x} y={y} width={w} height={h} goes outside the "
                                    f"{width}x{height} image"))
        else:
            good.append(box)
    return good, problems


def _store_record(con: pg8000.native.Connection, record: ImageRecord, key: str, location_id: int,
                  size: tuple[int, int], boxes: list) -> tuple[list[StoredDetection], list[Problem]]:
    con.run("SELECT pg_advisory_xact_lock(CAST(:c AS INTEGER), hashtext(:k))", c=_IMAGE_LOCK_CLASS, k=key)
    existing = con.run("SELECT id, location_id, captured_at FROM images WHERE s3_key = :k", k=key)
    if existing:
        image_id, stored_location, stored_time = existing[0]
        if stored_location != location_id or stored_time != record.captured_at:
            name = f"{record.path}.captured_at" if stored_location == location_id else f"{record.path}.location"
            return [], [Problem(name, "matches_stored_image",
                                f"{name}: image {key} is already stored with location {stored_location} at "
                                f"{stored_time.isoformat()}; a photo has one place and time")]
    else:
        image_id = con.run(
            "INSERT INTO images (s3_key, location_id, captured_at, width, height) VALUES (:k, :l, :t, :w, :h)"
            " RETURNING id", k=key, l=location_id, t=record.captured_at, w=size[0], h=size[1],
        )[0][0]
    stored = []
    for box in boxes:
        x, y, w, h = box.bbox
        found = con.run(
            "SELECT id, reid_status FROM detections WHERE image_id = :i AND bbox_x = :x AND bbox_y = :y"
            " AND bbox_width = :w AND bbox_height = :h ORDER BY id LIMIT 1", i=image_id, x=x, y=y, w=w, h=h,
        )
        if found:
            stored.append(StoredDetection(box.path, found[0][0], True, found[0][1] in ("pending", "failed")))
            continue
        detection_id = con.run(
            "INSERT INTO detections (image_id, bbox_x, bbox_y, bbox_width, bbox_height, confidence, classification)"
            " VALUES (:i, :x, :y, :w, :h, :c, :cls) RETURNING id",
            i=image_id, x=x, y=y, w=w, h=h, c=box.confidence, cls=box.classification,
        )[0][0]
        stored.append(StoredDetection(box.path, detection_id, False, True))
    return stored, []


def queue_reid(detection_ids: Sequence[int], batch_id: str) -> list[str]:
    """One ReidBatchMessage per batch (split only above MAX_DETECTIONS_PER_MESSAGE detections)."""
    settings = get_settings()
    ids = list(detection_ids)
    message_ids = []
    for part, start in enumerate(range(0, len(ids), MAX_DETECTIONS_PER_MESSAGE)):
        chunk = ids[start:start + MAX_DETECTIONS_PER_MESSAGE]
        suffix = f"-{part}" if len(ids) > MAX_DETECTIONS_PER_MESSAGE else ""
        message = ReidBatchMessage(batch_id=f"{batch_id}{suffix}", detection_ids=chunk)
        message_ids.append(send(settings.reid_queue_name, message, batch_id=batch_id, detections=len(chunk)))
    return message_ids


def record_batch(con: pg8000.native.Connection, result: IngestResult) -> None:
    """What GET /api/ingest/{batch_id} reads (deertrack/ingest/batches.py): the batch's detections, in order."""
    con.run("INSERT INTO ingest_batches (batch_id, detection_ids, images_accepted, refused)"
            " VALUES (:batch, CAST(:ids AS BIGINT[]), :images, :refused) ON CONFLICT (batch_id) DO NOTHING",
            batch=result.batch_id, ids=[d.detection_id for d in result.detections],
            images=result.images_accepted, refused=len(result.problems))


def store_records(records: Sequence[ImageRecord], problems: Sequence[Problem] = (),
                  batch_id: str | None = None) -> IngestResult:
    """Store what is valid, report the rest, queue re-ID for every stored detection still pending."""
    result = IngestResult(batch_id=batch_id or uuid.uuid4().hex, problems=list(problems))
    bucket = get_settings().images_bucket
    with db.reused() as con:  # the API's request path: the process keeps its connection
        by_code, known_ids = resolve_locations(con, records)
        ready: list[tuple[ImageRecord, str, int, tuple[int, int], list]] = []
        located: list[tuple[ImageRecord, int]] = []
        for record in records:
            if record.location_code is not None:
                location_id = by_code.get(record.location_code)
                if location_id is None:
                    name = f"{record.path}.location_code"
                    result.problems.append(Problem(name, "known_location",
                                                   f"{name}: no location with code {record.location_code!r}"))
                    continue
            else:
                location_id = record.location_id
                if location_id not in known_ids:
                    name = f"{record.path}.location_id"
                    result.problems.append(Problem(name, "known_location",
                                                   f"{name}: no location with id {location_id}"))
                    continue
            located.append((record, location_id))
        # photos are looked at (head of the object only) a few at a time
        with ThreadPoolExecutor(max_workers=IMAGE_CHECK_THREADS) as pool:
            checked = list(pool.map(lambda pair: _check_image(pair[0], bucket), located))
        for (record, location_id), (key, size, image_problems) in zip(located, checked, strict=True):
            if image_problems or key is None or size is None:
                result.problems += image_problems
                continue
            boxes, box_problems = _boxes_inside(record, size)
            result.problems += box_problems
            ready.append((record, key, location_id, size, boxes))
        with db.transaction(con):
            for record, key, location_id, size, boxes in ready:
                stored, conflict = _store_record(con, record, key, location_id, size, boxes)
                if conflict:
                    result.problems += conflict
                    continue
                result.images_accepted += 1
                result.detections += stored
            if result.accepted_anything:
                record_batch(con, result)
    result.queued = [d.detection_id for d in result.detections if d.pending]
    if result.queued:
        result.message_ids = queue_reid(result.queued, result.batch_id)
    logger.info("detections ingested", extra={
        "batch_id": result.batch_id, "images": result.images_accepted,
        "detections": len(result.detections), "duplicates": sum(d.duplicate for d in result.detections),
        "queued": len(result.queued), "refused": len(result.problems),
    })
    return result
