"""The demo's camera pictures: a camera's scene, its deer, its light, its information strip, as JPEG.

`render_image(dataset, image)` composes one picture: the camera's background for the season, every
deer of the frame drawn from its individual sprite (scaled to where it stands, mirrored when it
faces left, cut off by the picture's edge when it walks out), foreground grass over their legs, the
light of that moment (dim and warm at dawn and dusk, infrared grey at night with eye shine), sensor
noise, and the strip a trail camera stamps with its name, temperature and local time.
It is deterministic: the same record gives the same pixels.
"""

from __future__ import annotations

import io
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFont

from infra.demo.dataset import DemoDataset, DemoDetection, DemoImage
from infra.demo.scenes import foreground, scene
from infra.demo.sightings import IMAGE_HEIGHT, IMAGE_WIDTH, INFO_BAR
from infra.demo.sprites import sprite

JPEG_QUALITY = 62
NOISE_MARGIN = 64


@lru_cache(maxsize=1)
def _local_zone() -> ZoneInfo | None:
    try:
        return ZoneInfo("America/New_York")
    except ZoneInfoNotFoundError:  # no time zone database: the strip shows UTC
        return None


@lru_cache(maxsize=2)
def _noise_bank(mode: str) -> Image.Image:
    """Sensor noise around 128, larger than a picture so each picture takes its own window of it."""
    rng = np.random.default_rng(1234 if mode == "RGB" else 4321)
    shape = (IMAGE_HEIGHT + NOISE_MARGIN, IMAGE_WIDTH + NOISE_MARGIN) + ((3,) if mode == "RGB" else ())
    sigma = 3.0 if mode == "RGB" else 5.0
    return Image.fromarray(np.clip(rng.normal(128, sigma, shape), 0, 255).astype(np.uint8), mode=mode)


@lru_cache(maxsize=1)
def _vignette() -> Image.Image:
    """The fall-off of an infrared flash: bright in the middle, dark in the corners and the distance."""
    yy, xx = np.mgrid[0:IMAGE_HEIGHT, 0:IMAGE_WIDTH].astype(np.float32)
    r = np.hypot((xx - IMAGE_WIDTH / 2) / (IMAGE_WIDTH / 2), (yy - IMAGE_HEIGHT * 0.62) / (IMAGE_HEIGHT * 0.7))
    far = np.clip(1.0 - 0.45 * (1 - yy / IMAGE_HEIGHT), 0.4, 1.0)
    return Image.fromarray((np.clip(1.05 - 0.55 * r * r, 0.25, 1.0) * far * 255).astype(np.uint8), mode="L")


@lru_cache(maxsize=1)
def _font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=15)
    except (TypeError, OSError):  # Pillow without FreeType: the small bitmap font
        return ImageFont.load_default()


def _day_lut(light: float, contrast: float, warmth: float) -> list[int]:
    v = np.arange(256, dtype=np.float32) / 255
    out = []
    for gain in (1.0 + warmth, 1.0 + 0.25 * warmth, 1.0 - 0.8 * warmth):
        curve = ((v - 0.5) * contrast + 0.5) * light * gain
        curve = np.power(np.clip(curve, 0, 1), 1.0 + 0.5 * (1.0 - min(light, 1.0)))  # dim light: darker shadows
        out.extend(np.clip(curve * 255, 0, 255).astype(np.uint8).tolist())
    return out


def _ir_lut(light: float, contrast: float) -> list[int]:
    v = np.arange(256, dtype=np.float32)
    return np.clip(((v - 110) * contrast + 110) * light + 12, 0, 255).astype(np.uint8).tolist()


def render_image(dataset: DemoDataset, image: DemoImage | int) -> Image.Image:
    """One demo picture (RGB, image.width x image.height)."""
    record = dataset.images[image] if isinstance(image, int) else image
    location = dataset.locations[record.location]
    rng = np.random.default_rng(record.noise_seed)
    picture = scene(location, record.season).copy()
    detections = sorted(dataset.detections_by_image[record.index], key=lambda d: d.drawn[1] + d.drawn[3])
    eyes = []
    for det in detections:
        eyes.append(_draw_deer(picture, dataset, det))
    grass = foreground(location, record.season)
    picture.paste(grass, (0, IMAGE_HEIGHT - INFO_BAR - grass.height), grass)

    contrast = float(rng.uniform(0.85, 1.15))
    ox, oy = (int(v) for v in rng.integers(0, NOISE_MARGIN, 2))
    if record.dark:
        grey = picture.convert("L", (0.15, 0.7, 0.15, 0))  # foliage is bright in near infrared
        grey = ImageChops.multiply(grey, _vignette()).point(_ir_lut(record.light, contrast))
        noise = _noise_bank("L").crop((ox, oy, ox + IMAGE_WIDTH, oy + IMAGE_HEIGHT))
        grey = ImageChops.add(grey, noise, scale=1.0, offset=-128)
        draw = ImageDraw.Draw(grey)
        for x, y, r in eyes:  # eye shine
            if rng.random() < 0.8:
                draw.ellipse((x - r, y - r, x + r, y + r), fill=250)
        picture = grey.convert("RGB")
    else:
        picture = picture.point(_day_lut(record.light, contrast, record.warmth))
        noise = _noise_bank("RGB").crop((ox, oy, ox + IMAGE_WIDTH, oy + IMAGE_HEIGHT))
        picture = ImageChops.add(picture, noise, scale=1.0, offset=-128)
    _stamp(picture, location.code, record.captured_at, record.temperature_f, record.dark)
    return picture


def _draw_deer(picture: Image.Image, dataset: DemoDataset, det: DemoDetection) -> tuple[float, float, float]:
    """Paste the individual's sprite over its drawn box; return where its eye ended up (x, y, radius)."""
    look = dataset.individuals[det.individual].look
    art = sprite(look, det.pose)
    x, y, w, h = det.drawn
    deer = art.image.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if det.facing_left else art.image
    deer = deer.resize((w, h), Image.BILINEAR)
    picture.paste(deer, (x, y), deer)
    ex = art.eye[0] if not det.facing_left else 1.0 - art.eye[0]
    return x + ex * w, y + art.eye[1] * h, max(1.0, w / 90)


def _stamp(picture: Image.Image, code: str, at: datetime, temperature_f: int, dark: bool) -> None:
    zone = _local_zone()
    local = at.astimezone(zone) if zone else at
    draw = ImageDraw.Draw(picture)
    top = IMAGE_HEIGHT - INFO_BAR
    draw.rectangle((0, top, IMAGE_WIDTH, IMAGE_HEIGHT), fill=(12, 12, 12))
    moon = "IR" if dark else "  "
    text = f"{code}   {temperature_f:>3d}\u00b0F  {moon}   {local:%m/%d/%Y  %I:%M:%S %p}"
    draw.text((10, top + 6), text, fill=(235, 235, 235), font=_font())


def encode_jpeg(picture: Image.Image, quality: int = JPEG_QUALITY) -> bytes:
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def image_jpeg(dataset: DemoDataset, image: DemoImage | int) -> bytes:
    """The demo picture as stored in the images bucket."""
    return encode_jpeg(render_image(dataset, image))


def crop(picture: Image.Image, bbox: tuple[int, int, int, int]) -> Image.Image:
    """The detection's box (x, y, width, height) cut from its picture."""
    x, y, w, h = bbox
    return picture.crop((x, y, x + w, y + h))
