"""What ingest needs to know about a stored photo: its size and (from EXIF) when it was taken.

Only the head of the object is read (a ranged GET) when that is enough to decode the header.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from PIL import ExifTags, Image, UnidentifiedImageError

from deertrack.storage import get_bytes

HEAD_BYTES = 256 * 1024


class NotAnImage(ValueError):
    pass


@dataclass(frozen=True)
class ImageInfo:
    width: int
    height: int
    taken_at: datetime | None  # from EXIF, None when the photo does not say
    format: str | None = None


def parse_exif_time(value: str, offset: str | None = None) -> datetime | None:
    """'YYYY:MM:DD HH:MM:SS' (+ optional '+HH:MM' offset; UTC when none) -> aware datetime."""
    try:
        naive = datetime.strptime(value.strip().rstrip("\x00"), "%Y:%m:%d %H:%M:%S")
    except (ValueError, AttributeError):
        return None
    tz = UTC
    if offset:
        try:
            sign = -1 if offset.strip().startswith("-") else 1
            hours, minutes = offset.strip().lstrip("+-").split(":")
            tz = timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))
        except ValueError:
            tz = UTC
    return naive.replace(tzinfo=tz)


def info_from_bytes(data: bytes) -> ImageInfo:
    try:
        image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError) as exc:
        raise NotAnImage(f"not an image PIL can read: {exc}") from exc
    taken_at = None
    try:
        exif = image.getexif()
        sub = exif.get_ifd(ExifTags.IFD.Exif)
        raw = (sub.get(ExifTags.Base.DateTimeOriginal) or sub.get(ExifTags.Base.DateTimeDigitized)
               or exif.get(ExifTags.Base.DateTime))
        if raw:
            taken_at = parse_exif_time(str(raw), sub.get(ExifTags.Base.OffsetTimeOriginal))
    except Exception:  # noqa: BLE001 - a broken EXIF block only means "no timestamp"
        taken_at = None
    return ImageInfo(image.width, image.height, taken_at, image.format)


def stored_image_info(bucket: str, key: str) -> ImageInfo:
    """Size and EXIF time of s3://bucket/key. Raises ObjectMissing or NotAnImage."""
    head = get_bytes(bucket, key, f"bytes=0-{HEAD_BYTES - 1}")
    try:
        return info_from_bytes(head)
    except NotAnImage:
        if len(head) < HEAD_BYTES:
            raise
    return info_from_bytes(get_bytes(bucket, key))
