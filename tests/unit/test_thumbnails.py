"""deertrack.reid.thumbnails: crops and photos fit their size, keep their shape, and their ETag names exactly what
they are drawn from."""

from __future__ import annotations

import io

from PIL import Image

from deertrack.reid import thumbnails


def _photo(width: int = 800, height: int = 600) -> bytes:
    buffer = io.BytesIO()
    image = Image.new("RGB", (width, height), (40, 90, 40))
    image.paste((200, 120, 60), (100, 200, 400, 350))  # the "deer"
    image.save(buffer, format="JPEG")
    return buffer.getvalue()


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    return image.convert("RGB")


def test_a_crop_is_the_box_with_a_little_context_fit_into_the_size() -> None:
    crop = _open(thumbnails.crop_thumbnail(_photo(), (100, 200, 300, 150), 160))
    assert crop.size == (160, 80)  # 2:1 like the box (its context is proportional)
    r, g, b = crop.getpixel((80, 40))
    assert r > 150 and g < 160  # the middle is the deer, not the grass


def test_a_box_outside_the_photo_shows_the_photo() -> None:
    assert max(_open(thumbnails.crop_thumbnail(_photo(), (900, 900, 50, 50), 96)).size) == 96


def test_a_photo_is_scaled_down_never_up_and_the_box_is_drawn() -> None:
    photo = _open(thumbnails.photo_thumbnail(_photo(), (100, 200, 300, 150), 320))
    assert photo.size == (320, 240)
    r, g, b = photo.getpixel((40, 100))  # on the outline: (100, 250) scaled by 0.4
    assert r > 200 and g > 170 and b < 120
    assert _open(thumbnails.photo_thumbnail(_photo(400, 300), (0, 0, 10, 10), 1024)).size == (400, 300)


def test_the_etag_changes_with_what_the_picture_is_made_from() -> None:
    tag = thumbnails.etag("crop", "demo/a.jpg", (1, 2, 3, 4), 160)
    assert tag == thumbnails.etag("crop", "demo/a.jpg", (1, 2, 3, 4), 160) and tag.startswith('"')
    others = {thumbnails.etag("photo", "demo/a.jpg", (1, 2, 3, 4), 160),
              thumbnails.etag("crop", "demo/b.jpg", (1, 2, 3, 4), 160),
              thumbnails.etag("crop", "demo/a.jpg", (1, 2, 3, 5), 160),
              thumbnails.etag("crop", "demo/a.jpg", (1, 2, 3, 4), 96)}
    assert tag not in others and len(others) == 4
