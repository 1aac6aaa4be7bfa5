"""Images from the images bucket, fetched a few at a time, each once however many detections it has;
a missing or unreadable image is reported with its reason, never fatal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from deertrack.reid.crops import UnreadableImage, decode
from deertrack.storage import ObjectMissing, get_bytes
from gpu_batch.archives.ordered_pool import ordered_map
from gpu_batch.archives.rows import DetectionRow
from gpu_batch.crops import crop, to_jpeg

FETCH_THREADS = 8
FETCH_WINDOW = 32


@dataclass(frozen=True)
class ImageGroup:
    image_id: int
    s3_key: str
    rows: list[DetectionRow]


@dataclass(frozen=True)
class Fetched:
    group: ImageGroup
    data: bytes | None  # the whole image (None when missing)
    crops: list[bytes | None]  # one per row when crops were asked for
    problem: str | None = None


def image_groups(rows: list[DetectionRow]) -> list[ImageGroup]:
    """Rows grouped by image, in order of each image's first row."""
    groups: dict[int, ImageGroup] = {}
    for row in rows:
        group = groups.get(row.image_id)
        if group is None:
            groups[row.image_id] = ImageGroup(row.image_id, row.image_s3_key, [row])
        else:
            group.rows.append(row)
    return list(groups.values())


def fetch(bucket: str, rows: list[DetectionRow], crop_size: int | None, keep_image: bool = False,
          getter: Callable[[str, str], bytes] = get_bytes) -> Iterator[Fetched]:
    """For each image of `rows`: its crops (when crop_size is given) and/or its bytes (keep_image)."""

    def one(group: ImageGroup) -> Fetched:
        try:
            data = getter(bucket, group.s3_key)
        except ObjectMissing:
            return Fetched(group, None, [None] * len(group.rows), f"missing from s3://{bucket}/{group.s3_key}")
        crops: list[bytes | None] = []
        if crop_size is not None:
            try:
                image = decode(data)  # decoded once, however many detections it holds
                crops = [to_jpeg(crop(image, row.bbox, crop_size)) for row in group.rows]
            except UnreadableImage as exc:
                return Fetched(group, data if keep_image else None, [None] * len(group.rows),
                               f"s3://{bucket}/{group.s3_key}: {exc}")
        return Fetched(group, data if keep_image else None, crops)

    yield from ordered_map(one, image_groups(rows), workers=FETCH_THREADS, window=FETCH_WINDOW)
