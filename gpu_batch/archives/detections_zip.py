"""The detections ZIP: `crops/<deer_id|unassigned>/<detection_id>.jpg` (stored), `metadata.csv`
(one row per detection) and `manifest.json` (the request, counts, sha256 of every other file, the
images that could not be read)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from gpu_batch.archives.images import Fetched
from gpu_batch.archives.rows import DetectionRow
from gpu_batch.archives.writer import ArchiveWriter, CsvSpool, utc_timestamp

FORMAT = "deertrack.detections-zip"
FORMAT_VERSION = 1
METADATA_COLUMNS = [
    "detection_id", "image_id", "image_s3_key", "image_width", "image_height", "location_id", "location_code",
    "location_name", "latitude", "longitude", "captured_at", "classification", "detector_classification",
    "corrected", "confidence", "bbox_x", "bbox_y", "bbox_width", "bbox_height", "deer_id", "deer_name",
    "is_valid", "burst_group", "crop_path", "image_status",
]


def metadata_row(row: DetectionRow, crop_path: str, image_status: str) -> list[Any]:
    x, y, w, h = row.bbox
    return [
        row.detection_id, row.image_id, row.image_s3_key, row.image_width or "", row.image_height or "",
        row.location_id, row.location_code, row.location_name, row.latitude, row.longitude,
        utc_timestamp(row.captured_at), row.classification, row.detector_classification, str(row.corrected).lower(),
        f"{row.confidence:.4f}",
        x, y, w, h, row.deer_id if row.deer_id is not None else "", row.deer_name or "",
        str(row.is_valid).lower(), row.burst_group or "", crop_path, image_status,
    ]


@dataclass
class ArchiveSummary:
    detections: int = 0
    crops: int = 0
    missing: list[dict[str, Any]] = field(default_factory=list)
    files: int = 0
    bytes_stored: int = 0

    def as_log(self) -> dict[str, Any]:
        return {"detections": self.detections, "crops": self.crops, "missing_images": len(self.missing),
                "files": self.files}


def write_detections_zip(
    out: IO[bytes],
    rows: list[DetectionRow],
    fetched: Iterable[Fetched] | None,
    *,
    request: dict[str, Any],
    job_id: str,
    crop_size: int,
    include_metadata_csv: bool = True,
    generated_at: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> ArchiveSummary:
    """Write the archive to `out`. `fetched` (crops per image, in row order) is None without crops."""
    generated_at = generated_at or datetime.now(UTC)
    writer = ArchiveWriter(out)
    summary = ArchiveSummary(detections=len(rows))
    with CsvSpool(METADATA_COLUMNS) as table:
        done = 0
        if fetched is None:
            for row in rows:
                table.add_values(metadata_row(row, "", "not_exported"))
        else:
            for item in fetched:
                for row, jpeg in zip(item.group.rows, item.crops, strict=True):
                    if jpeg is None:
                        status = "missing" if item.problem and item.problem.startswith("missing") else "unreadable"
                        summary.missing.append({"detection_id": row.detection_id, "image_id": row.image_id,
                                                "s3_key": row.image_s3_key, "reason": item.problem})
                        table.add_values(metadata_row(row, "", status))
                    else:
                        writer.add_stored(row.crop_path, jpeg, row.captured_at)
                        summary.crops += 1
                        summary.bytes_stored += len(jpeg)
                        table.add_values(metadata_row(row, row.crop_path, "ok"))
                done += len(item.group.rows)
                if progress is not None:
                    progress(done)
        if include_metadata_csv:
            table.into(writer, "metadata.csv", generated_at)
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "job_id": job_id,
        "generated_at": utc_timestamp(generated_at),
        "request": request,
        "crop_size": crop_size if fetched is not None else None,
        "counts": {
            "detections": summary.detections,
            "crops": summary.crops,
            "missing_images": len({m["image_id"] for m in summary.missing}),
            "detections_without_crop": len(summary.missing),
            "files": len(writer.files),
        },
        "files": [f.as_json() for f in writer.files],
        "missing_images": summary.missing,
    }
    summary.files = len(writer.files)
    writer.add_json("manifest.json", manifest, generated_at, record=False)
    writer.close()
    return summary
