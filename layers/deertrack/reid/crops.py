"""Detection crops for the embedder: the bounding box cut from its image, or the reason it cannot be."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from deertrack import bbox as boxes

#: Crops whose shorter side (after clipping to the image) is below this many pixels are not embedded:
#: too few pixels to say anything about an individual.
MIN_CROP_PIXELS = 16


class UnreadableImage(ValueError):
    """The stored bytes are not an image PIL can decode."""


@dataclass(frozen=True)
class Crop:
    image: Image.Image | None
    skip_reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.image is not None


def decode(data: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise UnreadableImage(f"cannot decode image: {exc}") from exc
    return image if image.mode == "RGB" else image.convert("RGB")


def cut(image: Image.Image, bbox: tuple[int, int, int, int], min_pixels: int = MIN_CROP_PIXELS) -> Crop:
    """The box (x, y, width, height in pixels) clipped to the image."""
    inside = boxes.clip(bbox, image.size)
    if inside is None:
        return Crop(None, f"bounding box {bbox} lies outside the {image.width}x{image.height} image")
    width, height = inside[2], inside[3]
    if min(width, height) < min_pixels:
        return Crop(None, f"crop {width}x{height} px is smaller than the minimum {min_pixels} px")
    return Crop(image.crop(boxes.edges(inside)))
