"""Small re-ID test data drawn here (numpy/Pillow): photos of made-up deer with a stable look per
individual, locations, and shortcuts to post detections and run the re-ID worker on its queue.

The `embedder` fixture (the built-in embedder, once per test module) is in tests/conftest.py."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from PIL import ExifTags, Image, ImageDraw

from tests.export_api_client import call

WIDTH, HEIGHT = 480, 360
#: With the built-in embedder, two `deer_photo`s of one individual (no `pose`) score >= 0.975 and
#: photos of different individuals <= 0.941: tests that need matches to follow identity use this.
STEADY_THRESHOLD = 0.96
T0 = datetime(2024, 6, 1, 5, 0, 0, tzinfo=UTC)

#: coat colour (RGB) and spot layout seed per made-up individual
LOOKS = {
    0: ((150, 95, 55), 11),
    1: ((95, 80, 70), 22),
    2: ((185, 150, 110), 33),
    3: ((120, 60, 40), 44),
    4: ((170, 120, 80), 55),
}


def deer_photo(individual: int, *, seed: int = 0, location: int = 0, exif_time: datetime | None = None,
               size: tuple[int, int] = (WIDTH, HEIGHT), pose: bool = False) -> tuple[bytes, tuple[int, int, int, int]]:
    """A JPEG with one deer of `individual` in it, and its box (x, y, width, height).

    `seed` varies the sensor noise; with `pose` it also varies position, size, light and flip.
    Without `pose` two photos of one individual differ only by noise (a steady score for tests that
    are about the pipeline, not about how good the embedder is).
    """
    rng = np.random.default_rng(1000 * individual + (seed if pose else 0) + 7)
    noise = np.random.default_rng(seed + 99)
    width, height = size
    bg_rng = np.random.default_rng(500 + location)
    base = np.array([60, 90, 50]) + bg_rng.integers(-20, 20, 3)
    pixels = np.clip(base + noise.normal(0, 12, (height, width, 3)), 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    coat, layout_seed = LOOKS[individual % len(LOOKS)]
    scale = float(rng.uniform(0.85, 1.15))
    bw, bh = int(200 * scale), int(120 * scale)
    x = int(rng.integers(10, width - bw - 60))
    y = int(rng.integers(60, height - bh - 10))
    light = float(rng.uniform(0.9, 1.1))
    colour = tuple(int(min(255, c * light)) for c in coat)
    draw.ellipse((x, y + bh // 4, x + bw, y + bh), fill=colour)
    draw.ellipse((x + bw - bw // 5, y, x + bw + bw // 5, y + bh // 2), fill=colour)  # head
    layout = np.random.default_rng(layout_seed)
    for _ in range(6 + layout_seed % 5):
        sx = x + int(layout.uniform(0.1, 0.75) * bw)
        sy = y + bh // 4 + int(layout.uniform(0.15, 0.7) * (bh * 3 // 4))
        r = int(layout.uniform(4, 10) * scale)
        draw.ellipse((sx - r, sy - r, sx + r, sy + r), fill=(235, 230, 220))
    if rng.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        x = width - (x + bw + bw // 5)
    box = (max(0, x), y, min(width, bw + bw // 5), bh)
    buffer = io.BytesIO()
    exif = None
    if exif_time is not None:
        exif = Image.Exif()
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = exif_time.strftime("%Y:%m:%d %H:%M:%S")
    image.save(buffer, format="JPEG", quality=90, **({"exif": exif} if exif is not None else {}))
    return buffer.getvalue(), box


def add_location(code: str, name: str | None = None) -> int:
    from deertrack import db

    with db.connection() as con:
        return con.run("INSERT INTO locations (code, name, latitude, longitude) VALUES (:c, :n, 44.0, -73.0)"
                       " RETURNING id", c=code, n=name or f"Camera {code}")[0][0]


def put_image(key: str, data: bytes) -> None:
    from deertrack.settings import get_settings
    from deertrack.storage import put_bytes

    put_bytes(get_settings().images_bucket, key, data, "image/jpeg")


def put_photo(key: str, individual: int, seed: int, location: int = 0) -> tuple[int, int, int, int]:
    """Store a `deer_photo` under `key` in the images bucket; its box."""
    data, box = deer_photo(individual, seed=seed, location=location)
    put_image(key, data)
    return box


def record(key: str, at: datetime, location_code: str, box: tuple[int, int, int, int],
           classification: str = "unknown", confidence: float = 0.9) -> dict[str, Any]:
    x, y, w, h = box
    return {"image_key": key, "captured_at": at.isoformat(), "location_code": location_code,
            "boxes": [{"x": x, "y": y, "width": w, "height": h, "confidence": confidence,
                       "classification": classification}]}


def http(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    """(status, JSON body or None); `body` is sent as JSON, or as it is when it is bytes."""
    raw = body if isinstance(body, bytes) else None
    answer = call(method, url, None if raw is not None else body, raw=raw, timeout=60)
    return answer.status, answer.body


def run_reid_queue(embedder: Any = None) -> list[Any]:
    """Hand every message now on the reid queue to the worker's process_one_message."""
    from deertrack.queues import drain
    from deertrack.settings import get_settings
    from gpu_batch.reid.worker import process_one_message

    return [process_one_message(m, embedder=embedder) for m in drain(get_settings().reid_queue_name)]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)
