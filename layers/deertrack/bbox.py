"""Bounding boxes: pixel boxes (x, y, width, height), as `detections` stores them, to and from fractions of
the image (MegaDetector's normalized [x, y, w, h], Camtrap DP's bboxX/bboxY/bboxWidth/bboxHeight), and
their clipping to the image.

One rounding rule: fractions become pixels by rounding each *edge* (left, top, right, bottom) to the
nearest pixel, so a pixel box written as fractions (to 5 places or more) comes back exactly.
"""

from __future__ import annotations

from typing import TypeAlias

#: x, y, width, height in pixels.
Box: TypeAlias = tuple[int, int, int, int]
#: left, top, right, bottom in pixels (PIL's crop box); right and bottom are exclusive.
Edges: TypeAlias = tuple[int, int, int, int]
#: x, y, width, height as fractions of the image's width and height.
Fractions: TypeAlias = tuple[float, float, float, float]
#: width, height in pixels.
Size: TypeAlias = tuple[int, int]


def edges(box: Box) -> Edges:
    """The box as (left, top, right, bottom)."""
    x, y, w, h = box
    return x, y, x + w, y + h


def from_edges(left: int, top: int, right: int, bottom: int) -> Box:
    return left, top, right - left, bottom - top


def clip(box: Box, size: Size) -> Box | None:
    """The part of the box inside the image; None when nothing of it is."""
    width, height = size
    left, top, right, bottom = edges(box)
    left, top, right, bottom = max(0, left), max(0, top), min(width, right), min(height, bottom)
    if right <= left or bottom <= top:
        return None
    return from_edges(left, top, right, bottom)


def fits(box: Box, size: Size) -> bool:
    """Whether the whole box lies inside the image."""
    return clip(box, size) == box


def clip_to_a_pixel(box: Box, size: Size) -> Box:
    """The part of the box inside the image, and never less than one pixel: a box outside the image
    becomes the image's nearest pixel (for readers that must show something)."""
    width, height = size
    x, y, w, h = box
    left, top = min(max(x, 0), width - 1), min(max(y, 0), height - 1)
    right, bottom = max(min(x + w, width), left + 1), max(min(y + h, height), top + 1)
    return from_edges(left, top, right, bottom)


def pad(box: Box, share: float) -> Box:
    """The box grown on every side by `share` of its width (left, right) and height (top, bottom)."""
    x, y, w, h = box
    pad_x, pad_y = int(w * share), int(h * share)
    return x - pad_x, y - pad_y, w + 2 * pad_x, h + 2 * pad_y


def from_fractions(fractions: Fractions, size: Size) -> Box:
    """Fractions of the image -> pixels, each edge rounded to the nearest pixel (not clipped: see clip)."""
    fx, fy, fw, fh = fractions
    width, height = size
    left, top = round(fx * width), round(fy * height)
    right, bottom = round((fx + fw) * width), round((fy + fh) * height)
    return from_edges(left, top, right, bottom)


def to_fractions(box: Box, size: Size) -> Fractions | None:
    """The box, clipped to the image, as fractions of it; None when nothing of it is inside."""
    inside = clip(box, size)
    if inside is None:
        return None
    width, height = size
    x, y, w, h = inside
    return x / width, y / height, w / width, h / height
