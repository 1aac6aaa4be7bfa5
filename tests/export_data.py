"""A small, deterministic data set for the export tests: cameras, deer, images (optionally uploaded
to the images bucket as real JPEGs) and detections, with invalid, corrected and unassigned ones."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from infra.cli.commands.bench_exports import stand_in_jpeg, upload_images

IMAGE_SIZE = (640, 480)


@dataclass
class Dataset:
    location_ids: list[int] = field(default_factory=list)
    deer_ids: list[int] = field(default_factory=list)
    image_ids: list[int] = field(default_factory=list)
    image_keys: dict[int, str] = field(default_factory=dict)
    detection_ids: list[int] = field(default_factory=list)


def synthetic_jpeg(seed: int, size: tuple[int, int] = IMAGE_SIZE) -> bytes:
    """The test data set's pictures: smaller and plainer than the benchmark's stand-ins."""
    return stand_in_jpeg(seed, size, shapes=12, ellipses=((20, 120), (20, 90)), quality=80)


def build(con, *, start: date = date(2023, 9, 1), days: int = 120, detections: int = 300, seed: int = 7,
          upload_images: bool = False, images_bucket: str | None = None) -> Dataset:
    """Insert the data set; every timestamp lies in [start, start + days)."""
    rng = random.Random(seed)
    data = Dataset()
    cameras = [("CAM-N", "North ridge", 44.10, -73.20), ("CAM-S", "South creek", 44.05, -73.22),
               ("CAM-E", "East meadow", 44.08, -73.15)]
    for code, name, lat, lon in cameras:
        data.location_ids.append(con.run(
            "INSERT INTO locations (code, name, latitude, longitude, habitat, camera_model, deployment_start) "
            "VALUES (:c, :n, :lat, :lon, 'mixed forest', 'Reconyx HF2X', :s) RETURNING id",
            c=code, n=name, lat=lat, lon=lon, s=datetime.combine(start, datetime.min.time(), tzinfo=UTC))[0][0])
    herd = [("Big Ten", "buck"), ("Split Brow", "buck"), ("Doe A", "doe"), ("Doe B", "doe"), ("Fawn 1", "fawn")]
    for name, sex in herd:
        data.deer_ids.append(con.run("INSERT INTO deer (name, sex) VALUES (:n, :s) RETURNING id", n=name, s=sex)[0][0])

    n_images = max(1, detections * 2 // 3)
    for i in range(n_images):
        when = datetime.combine(start, datetime.min.time(), tzinfo=UTC) + timedelta(
            days=rng.randrange(days), hours=rng.choice([5, 6, 7, 12, 17, 18, 19, 22]), minutes=rng.randrange(60))
        location = rng.choice(data.location_ids)
        s3_key = f"images/{location}/{when:%Y/%m/%d}/img_{i:05d}.jpg"
        image_id = con.run(
            "INSERT INTO images (s3_key, location_id, captured_at, width, height) VALUES (:k, :l, :t, :w, :h) "
            "RETURNING id", k=s3_key, l=location, t=when, w=IMAGE_SIZE[0], h=IMAGE_SIZE[1])[0][0]
        data.image_ids.append(image_id)
        data.image_keys[image_id] = s3_key
    for i in range(detections):
        image_id = data.image_ids[i % n_images]
        deer_index = rng.randrange(len(herd) + 1)  # the last index means "not re-identified"
        deer_id = data.deer_ids[deer_index] if deer_index < len(herd) else None
        cls = herd[deer_index][1] if deer_index < len(herd) else rng.choice(["buck", "doe", "unknown"])
        corrected = rng.choice(["doe", "fawn"]) if i % 17 == 0 else None
        valid = i % 23 != 0
        w, h = rng.randrange(60, 240), rng.randrange(50, 200)
        x, y = rng.randrange(0, IMAGE_SIZE[0] - w), rng.randrange(0, IMAGE_SIZE[1] - h)
        data.detection_ids.append(con.run(
            "INSERT INTO detections (image_id, bbox_x, bbox_y, bbox_width, bbox_height, confidence, classification,"
            " corrected_classification, is_valid, deer_id, reid_status) VALUES (:i, :x, :y, :w, :h, :c, :cls, :cc,"
            " :v, :d, :rs) RETURNING id",
            i=image_id, x=x, y=y, w=w, h=h, c=round(rng.uniform(0.55, 0.99), 3), cls=cls, cc=corrected, v=valid,
            d=deer_id, rs="assigned" if deer_id else "pending")[0][0])
    if upload_images:
        upload(data, images_bucket)
    return data


def upload(data: Dataset, images_bucket: str) -> None:
    """Put every image of the data set into the bucket (a few at a time)."""
    upload_images([(image_id, key, *IMAGE_SIZE) for image_id, key in data.image_keys.items()], images_bucket,
                  synthetic_jpeg, workers=6)


def enqueue(export_type: str, request: dict, total: int = 0) -> str:
    """Create a job and its message the way the API does (status first, then the message)."""
    from deertrack.jobs import JobStore
    from deertrack.messages import ExportJobMessage
    from deertrack.queues import send
    from deertrack.settings import get_settings

    job = JobStore().create(export_type, request, total=total, total_detections=total or None)
    send(get_settings().exports_queue_name,
         ExportJobMessage(job_id=job.job_id, export_type=export_type, request=request,  # type: ignore[arg-type]
                          created_at=job.created_at, owner=job.owner, total_detections=job.total_detections))
    return job.job_id


def receive_one(visibility_timeout: int | None = None, wait_seconds: int = 2):
    from deertrack.queues import receive
    from deertrack.settings import get_settings

    messages = receive(get_settings().exports_queue_name, max_messages=1, wait_seconds=wait_seconds,
                       visibility_timeout=visibility_timeout)
    return messages[0] if messages else None


def export_objects(job_id: str | None = None) -> list[str]:
    """Keys in the exports bucket (under one job's prefix when given)."""
    from deertrack.aws import client
    from deertrack.settings import get_settings

    response = client("s3").list_objects_v2(Bucket=get_settings().exports_bucket,
                                            Prefix=f"exports/{job_id}/" if job_id else "")
    return [o["Key"] for o in response.get("Contents", [])]


def export_bytes(job_id: str) -> bytes:
    """The file of a completed export job, from the exports bucket (fails the test if it did not complete)."""
    from deertrack.jobs import JobStatus, JobStore
    from deertrack.settings import get_settings
    from deertrack.storage import get_bytes

    job = JobStore().get(job_id)
    assert job.status is JobStatus.COMPLETED, job.error
    return get_bytes(get_settings().exports_bucket, job.s3_key)


def pdf_text(data: bytes) -> str:
    """The text of every page of a PDF, page after page."""
    import pypdf

    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def sql_counts(con, start: date, end: date) -> dict[str, int]:
    """What a report over [start, end] must show, straight from SQL: valid detections by effective class."""
    rows = con.run(
        "SELECT COALESCE(d.corrected_classification, d.classification), count(*) FROM detections d "
        "JOIN images i ON i.id = d.image_id WHERE d.is_valid AND i.captured_at >= :s "
        "AND i.captured_at < :e GROUP BY 1",
        s=datetime.combine(start, datetime.min.time(), tzinfo=UTC),
        e=datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=UTC))
    counts = {cls: n for cls, n in rows}
    counts["total"] = sum(n for _, n in rows)
    return counts
