"""Write the demo data set: rows into PostgreSQL (once) and pictures into the images bucket (missing ones).

Database: one transaction under an advisory lock. When the demo's truth rows (detection_truth,
source 'demo') are already there, nothing is written; otherwise locations and images are inserted
with ON CONFLICT on their unique keys (code, s3_key) and the detections and their truth rows are
copied in (COPY), with ids taken from the detections' sequence beforehand so each truth row can
name its detection. The detections are written as a detector delivers them: `pending`, with no deer
and no burst. No deer is written: re-identification finds them (`deertrack reid enqueue --pending`
puts them on the re-ID queue, as `deertrack up --demo` does), and the true individuals stay in
detection_truth, for evaluation only. Two seeders at once: the second waits on the lock, then finds
the set present.

Bucket: the keys under `demo/` are listed first, and only the missing pictures are rendered and put,
from a pool of threads. A fresh emulator beside a seeded database gets its pictures this way.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pg8000.native
from botocore.exceptions import ClientError
from tqdm import tqdm

from deertrack import db
from deertrack.aws import client
from deertrack.logs import logger
from deertrack.settings import get_settings
from deertrack.storage import put_bytes
from infra.demo.dataset import KEY_PREFIX, DemoDataset, generate_dataset

#: pg_advisory_xact_lock key of the demo seeder ("deer" in ASCII).
ADVISORY_LOCK = 0x64656572
REQUIRED_TABLES = ("locations", "images", "deer", "detections", "detection_truth")
DEFAULT_WORKERS = 8


class SeedError(RuntimeError):
    """Something a person must fix before the demo data can be loaded; the message says what."""


@dataclass(frozen=True)
class SeedSummary:
    locations: int
    deer: int
    images: int
    detections: int
    inserted: bool  # False when the database already held the demo set
    images_uploaded: int
    images_present: int  # already in the bucket before this run
    images_skipped: int  # left out by `image_limit` or `images=False`
    bucket: str
    seconds: float

    def lines(self) -> list[str]:
        state = "inserted" if self.inserted else "already present, nothing written"
        out = [
            f"demo data set: {self.locations} locations, {self.deer} deer, {self.images:,} images, "
            f"{self.detections:,} detections ({state})",
        ]
        if self.images_uploaded or self.images_present:
            out.append(f"pictures in s3://{self.bucket}/{KEY_PREFIX}: {self.images_uploaded:,} uploaded, "
                       f"{self.images_present:,} already there")
        if self.images_skipped:
            out.append(f"pictures not uploaded: {self.images_skipped:,}")
        out.append(f"took {self.seconds:.1f} s")
        return out


def seed_demo(*, images: bool = True, image_limit: int | None = None, workers: int = DEFAULT_WORKERS,
              dataset: DemoDataset | None = None) -> SeedSummary:
    """Load the demo data set into the configured database and images bucket; safe to run again."""
    started = time.perf_counter()
    data = dataset or generate_dataset()
    bucket = get_settings().images_bucket
    try:
        with db.connection() as con:
            inserted = write_database(con, data)
    except db.DatabaseUnavailable as exc:
        raise SeedError(f"{exc}\nIs PostgreSQL running? Set DATABASE_URL to reach it.") from exc
    uploaded = present = 0
    wanted = len(data.images) if images else 0
    if image_limit is not None:
        wanted = min(wanted, max(0, image_limit))
    if wanted:
        uploaded, present = upload_images(data, bucket, limit=wanted, workers=workers)
    summary = SeedSummary(
        locations=len(data.locations), deer=len(data.individuals), images=len(data.images),
        detections=len(data.detections), inserted=inserted, images_uploaded=uploaded, images_present=present,
        images_skipped=len(data.images) - wanted, bucket=bucket, seconds=time.perf_counter() - started,
    )
    logger.info("demo data seeded", extra={
        "inserted": inserted, "images_uploaded": uploaded, "images_present": present,
        "detections": summary.detections, "seconds": round(summary.seconds, 2),
    })
    return summary


# -- database ------------------------------------------------------------------------------------

def write_database(con: pg8000.native.Connection, data: DemoDataset) -> bool:
    """Insert the demo set unless it is there already. Returns whether it inserted."""
    missing = [t for t in REQUIRED_TABLES if con.run("SELECT to_regclass(:t)", t=t)[0][0] is None]
    if missing:
        raise SeedError(f"tables {', '.join(missing)} do not exist; run `deertrack migrate` first")
    with db.transaction(con):
        con.run("SELECT pg_advisory_xact_lock(:k)", k=ADVISORY_LOCK)
        if con.run("SELECT EXISTS (SELECT 1 FROM detection_truth WHERE source = 'demo')")[0][0]:
            logger.info("demo data already in the database")
            return False
        location_ids = _insert_locations(con, data)
        image_ids = _insert_images(con, data, location_ids)
        _insert_detections(con, data, image_ids)
    logger.info("demo data inserted", extra={"images": len(data.images), "detections": len(data.detections)})
    return True


def _csv(rows: Iterable[Sequence[Any]]) -> io.BytesIO:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    for row in rows:
        writer.writerow(["" if v is None else v.isoformat() if isinstance(v, datetime) else v for v in row])
    return io.BytesIO(text.getvalue().encode())


def _copy(con: pg8000.native.Connection, table: str, columns: str, rows: Iterable[Sequence[Any]]) -> None:
    con.run(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv)", stream=_csv(rows))


def _insert_locations(con: pg8000.native.Connection, data: DemoDataset) -> dict[str, int]:
    con.run("CREATE TEMP TABLE demo_locations (LIKE locations INCLUDING DEFAULTS) ON COMMIT DROP")
    _copy(con, "demo_locations", "code, name, latitude, longitude, habitat, camera_model, deployment_start,"
          " deployment_end", [
              (loc.code, loc.name, loc.latitude, loc.longitude, loc.habitat_text, loc.camera_model,
               loc.deployment_start, loc.deployment_end) for loc in data.locations])
    rows = con.run(
        "INSERT INTO locations (code, name, latitude, longitude, habitat, camera_model, deployment_start,"
        " deployment_end) SELECT code, name, latitude, longitude, habitat, camera_model, deployment_start,"
        " deployment_end FROM demo_locations ORDER BY code"
        " ON CONFLICT (code) DO UPDATE SET code = EXCLUDED.code RETURNING code, id")
    return {code: ident for code, ident in rows}


def _insert_images(con: pg8000.native.Connection, data: DemoDataset, location_ids: dict[str, int]) -> list[int]:
    """Image ids in the data set's order (an image already stored under the same key is reused)."""
    con.run("CREATE TEMP TABLE demo_images (ord INTEGER, s3_key TEXT, location_id INTEGER,"
            " captured_at TIMESTAMPTZ, width INTEGER, height INTEGER) ON COMMIT DROP")
    _copy(con, "demo_images", "ord, s3_key, location_id, captured_at, width, height", [
        (im.index, im.s3_key, location_ids[data.locations[im.location].code], im.captured_at, im.width, im.height)
        for im in data.images])
    con.run("INSERT INTO images (s3_key, location_id, captured_at, width, height)"
            " SELECT s3_key, location_id, captured_at, width, height FROM demo_images ORDER BY ord"
            " ON CONFLICT (s3_key) DO NOTHING")
    rows = con.run("SELECT s.ord, i.id FROM demo_images s JOIN images i ON i.s3_key = s.s3_key")
    ids = [0] * len(data.images)
    for ord_, ident in rows:
        ids[ord_] = ident
    return ids


def _insert_detections(con: pg8000.native.Connection, data: DemoDataset, image_ids: list[int]) -> None:
    """Detections as a detector gives them: pending, no deer, no burst; the re-ID worker assigns them."""
    ids = [r[0] for r in con.run(
        "SELECT nextval(pg_get_serial_sequence('detections', 'id')) FROM generate_series(1, :n)",
        n=len(data.detections))]
    _copy(con, "detections", "id, image_id, bbox_x, bbox_y, bbox_width, bbox_height, confidence, classification,"
          " reid_status", [
              (ids[d.index], image_ids[d.image], *d.bbox, d.confidence, d.classification, "pending")
              for d in data.detections])
    _copy(con, "detection_truth", "detection_id, individual_key, source", [
        (ids[d.index], data.individuals[d.individual].key, "demo") for d in data.detections])


# -- bucket --------------------------------------------------------------------------------------

def stored_keys(bucket: str, prefix: str = KEY_PREFIX) -> set[str]:
    s3 = client("s3")
    keys: set[str] = set()
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys.update(o["Key"] for o in page.get("Contents", []))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchBucket":
            raise SeedError(f"the images bucket {bucket} does not exist; start the stack (`deertrack up`) "
                            "or create the resources from template.yaml first") from exc
        raise
    return keys


def upload_images(data: DemoDataset, bucket: str, limit: int | None = None,
                  workers: int = DEFAULT_WORKERS) -> tuple[int, int]:
    """Render and put the pictures missing from the bucket (the first `limit` images only, when given).

    Returns (uploaded, already there)."""
    from infra.demo.images import image_jpeg

    wanted = data.images if limit is None else data.images[:limit]
    present = stored_keys(bucket)
    missing = [im for im in wanted if im.s3_key not in present]

    def put(index: int) -> int:
        body = image_jpeg(data, index)
        put_bytes(bucket, data.images[index].s3_key, body, "image/jpeg")
        return len(body)

    started = time.perf_counter()
    total_bytes = 0
    if missing:
        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="demo-images") as pool:
            uploads = pool.map(put, [im.index for im in missing])
            # A bar on a terminal only (disable=None): `deertrack up` and CI logs keep their one summary line.
            for size in tqdm(uploads, total=len(missing), unit=" pictures", desc="demo pictures", disable=None,
                             dynamic_ncols=True):
                total_bytes += size
    logger.info("demo pictures uploaded", extra={
        "bucket": bucket, "uploaded": len(missing), "present": len(wanted) - len(missing),
        "bytes": total_bytes, "seconds": round(time.perf_counter() - started, 2),
    })
    return len(missing), len(wanted) - len(missing)
