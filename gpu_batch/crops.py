"""Detection crops: a bounding box cut from its image and resized to fit a square of `size` pixels."""

from __future__ import annotations

import io

from PIL import Image

from deertrack import bbox as boxes
from deertrack.reid.crops import decode

JPEG_QUALITY = 88


def crop_box(image_size: tuple[int, int], bbox: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """The bbox (x, y, width, height in pixels) clipped to the image, as PIL's (left, top, right, bottom)."""
    return boxes.edges(boxes.clip_to_a_pixel(bbox, image_size))


def crop(image: Image.Image, bbox: tuple[int, int, int, int], size: int) -> Image.Image:
    """The box, scaled (up or down) so its longer side is `size`, aspect ratio kept."""
    region = image.crop(crop_box(image.size, bbox))
    w, h = region.size
    scale = size / max(w, h)
    target = (max(1, round(w * scale)), max(1, round(h * scale)))
    return region.resize(target, Image.Resampling.BILINEAR) if target != region.size else region


def to_jpeg(image: Image.Image, quality: int = JPEG_QUALITY) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def crop_jpeg(data: bytes, bbox: tuple[int, int, int, int], size: int) -> bytes:
    return to_jpeg(crop(decode(data), bbox, size))
