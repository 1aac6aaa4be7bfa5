"""JPEG thumbnails for the review page: a detection's crop (with a little context around the box), or its
whole photo with the box drawn, scaled to fit `size` pixels; and their ETag, which only what the
picture is made from decides (so a revalidation needs no S3 read)."""

from __future__ import annotations

import hashlib
import io
from typing import Final

from PIL import Image, ImageDraw
from pydantic import BaseModel, ConfigDict, Field, field_validator

from deertrack import bbox as boxes
from deertrack.reid.crops import decode

#: The sizes a client may ask for (the page uses 96, 160, 320 and 1024): a few, so caches hit.
SIZES: Final = (64, 96, 128, 160, 240, 320, 480, 640, 1024)


class ThumbnailQuery(BaseModel):
    """The query of GET /api/detections/{id}/crop and /photo (each route has its own default size)."""

    model_config = ConfigDict(extra="forbid")
    size: int | None = Field(None, json_schema_extra={"enum": list(SIZES)},
                             description=f"longest side in pixels, one of {', '.join(map(str, SIZES))}")

    @field_validator("size")
    @classmethod
    def _known_size(cls, value: int | None) -> int | None:
        if value is not None and value not in SIZES:
            raise ValueError(f"size must be one of {', '.join(map(str, SIZES))}")
        return value
#: Context kept around a crop's box, as a share of the box's width and height.
CONTEXT: Final = 0.08
JPEG_QUALITY: Final = 82
#: Bump when the drawing changes: every ETag changes with it.
VERSION: Final = "1"


def etag(kind: str, s3_key: str, bbox: tuple[int, int, int, int], size: int) -> str:
    digest = hashlib.sha256(f"{VERSION}|{kind}|{s3_key}|{bbox}|{size}".encode()).hexdigest()[:32]
    return f'"{digest}"'


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return buffer.getvalue()


def crop_thumbnail(data: bytes, bbox: tuple[int, int, int, int], size: int) -> bytes:
    """The box (x, y, width, height) with CONTEXT around it, clipped to the photo, fit into size x size."""
    image = decode(data)
    inside = boxes.clip(boxes.pad(bbox, CONTEXT), image.size)
    crop = image.crop(boxes.edges(inside) if inside else (0, 0, image.width, image.height))  # outside: the photo
    crop.thumbnail((size, size), Image.Resampling.LANCZOS)
    return _jpeg(crop)


def photo_thumbnail(data: bytes, bbox: tuple[int, int, int, int], size: int) -> bytes:
    """The whole photo fit into size x size, the box outlined."""
    image = decode(data)
    scale = min(1.0, size / max(image.width, image.height))
    shown = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                         Image.Resampling.LANCZOS) if scale < 1 else image.copy()
    x, y, w, h = (round(v * scale) for v in bbox)
    line = max(2, round(shown.width / 320))
    ImageDraw.Draw(shown).rectangle((x, y, x + w, y + h), outline=(255, 214, 0), width=line)
    return _jpeg(shown)
