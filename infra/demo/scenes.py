"""What each camera sees when no deer is there: its own scenery, in three seasons.

A trail camera does not move, so every picture from one camera shares a background: woods or field
above the horizon, ground below it, tree trunks, and grass in the foreground that can hide a deer's
legs. The habitat sets the palette and the furniture (birches at the meadow, corn stalks at the
field edge, dark conifers at the cedar swamp); the season sets the colours (green, autumn leaves,
snow). Scenes are built once per process with numpy and reused.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

from infra.demo.population import Habitat, Location
from infra.demo.sightings import IMAGE_HEIGHT, IMAGE_WIDTH

W, H = IMAGE_WIDTH, IMAGE_HEIGHT
SCENE_SEED = 4711
FOREGROUND_HEIGHT = 80

#: canopy, canopy-light, ground, ground-light, per season (green, autumn, snow)
_HARDWOOD = (
    ((52, 84, 40), (96, 128, 62), (88, 78, 52), (120, 108, 72)),
    ((150, 86, 38), (196, 150, 60), (112, 78, 48), (150, 110, 66)),
    ((112, 108, 106), (168, 170, 176), (214, 218, 226), (238, 240, 246)),
)
_CONIFER = (
    ((34, 58, 36), (62, 92, 54), (78, 68, 48), (108, 92, 64)),
    ((36, 60, 38), (70, 96, 58), (98, 74, 48), (132, 102, 64)),
    ((30, 50, 36), (70, 86, 76), (212, 216, 224), (236, 238, 244)),
)
_FIELD = (
    ((60, 92, 44), (122, 140, 70), (104, 118, 58), (150, 156, 86)),
    ((140, 98, 48), (186, 162, 96), (132, 112, 64), (176, 156, 98)),
    ((104, 100, 96), (160, 160, 164), (218, 222, 230), (240, 242, 248)),
)
_PALETTES: dict[Habitat, tuple] = {
    "wetland": _FIELD, "hemlock": _CONIFER, "orchard": _HARDWOOD,
    "cedar": _CONIFER, "clearcut": _HARDWOOD, "cornfield": _FIELD,
}


def _noise(rng: np.random.Generator, grid: tuple[int, int], size: tuple[int, int] = (W, H)) -> np.ndarray:
    """Smooth noise in about [-1, 1]: a random grid scaled up bicubically."""
    cells = Image.fromarray(rng.normal(0, 1, grid).astype(np.float32), mode="F")
    return np.clip(np.asarray(cells.resize(size, Image.BICUBIC), dtype=np.float32) / 1.5, -1.5, 1.5)


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: np.ndarray) -> np.ndarray:
    a_, b_ = np.array(a, dtype=np.float32), np.array(b, dtype=np.float32)
    return a_ + (b_ - a_) * np.clip(t, 0, 1)[..., None]


@lru_cache(maxsize=32)
def scene(location: Location, season: int) -> Image.Image:
    """The camera's background for a season (RGB, full image size)."""
    rng = np.random.default_rng(SCENE_SEED + 97 * location.index)  # same layout in every season
    canopy, canopy_light, ground, ground_light = _PALETTES[location.habitat][season]
    horizon = location.horizon * H
    yy = np.arange(H, dtype=np.float32)[:, None]

    broad, fine, streaks = _noise(rng, (7, 9)), _noise(rng, (40, 54)), _noise(rng, (70, 14))
    leaves = _noise(rng, (120, 160))
    woods = _mix(canopy, canopy_light, 0.45 + 0.35 * broad + 0.22 * fine + 0.2 * leaves)
    if season == 2 and location.habitat not in ("hemlock", "cedar"):
        sky = np.clip(broad - 0.3, 0, 1) * np.clip((horizon - yy) / horizon, 0, 1)
        woods = woods + (np.float32(200) - woods) * sky[..., None] * 0.8
    depth = np.clip((yy - horizon) / (H - horizon), 0, 1)
    floor = _mix(ground, ground_light, 0.25 + 0.45 * depth + 0.2 * fine + 0.2 * streaks + 0.12 * leaves)
    blend = np.clip((yy - horizon) / 14.0 + 0.5, 0, 1)[..., None]
    pixels = woods * (1 - blend) + floor * blend

    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), mode="RGB")
    draw = ImageDraw.Draw(image)
    _furniture(draw, rng, location.habitat, season, horizon)
    return image


def _furniture(draw: ImageDraw.ImageDraw, rng: np.random.Generator, habitat: Habitat, season: int,
               horizon: float) -> None:
    """Trunks, conifers, apple trees or corn: the things that make a camera's view its own."""
    if habitat == "cornfield":
        stalk = [(150, 158, 80), (196, 170, 104), (170, 150, 110)][season]
        for _ in range(90):
            x = float(rng.uniform(0, W))
            top = horizon - float(rng.uniform(40, 110))
            draw.line([(x, horizon + 4), (x + float(rng.normal(0, 4)), top)], fill=stalk, width=int(rng.integers(2, 4)))
    if habitat in ("hemlock", "cedar"):
        for _ in range(12):
            x, base = float(rng.uniform(0, W)), horizon + float(rng.uniform(-4, 20))
            width, height = float(rng.uniform(30, 80)), float(rng.uniform(100, 200))
            shade = tuple(int(c * rng.uniform(0.7, 1.0)) for c in (28, 52, 34))
            draw.polygon([(x - width / 2, base), (x, base - height), (x + width / 2, base)], fill=shade)
    if habitat == "orchard":
        crown = [(70, 104, 48), (150, 120, 56), (110, 100, 92)][season]
        for _ in range(5):
            x, y = float(rng.uniform(0, W)), horizon - float(rng.uniform(20, 60))
            r = float(rng.uniform(35, 60))
            draw.line([(x, y), (x, horizon + 10)], fill=(70, 58, 44), width=9)
            draw.ellipse((x - r, y - r * 0.8, x + r, y + r * 0.5), fill=crown)
    for _ in range(int(rng.integers(2, 6))):  # rocks and fallen logs
        x, y = float(rng.uniform(0, W)), horizon + float(rng.uniform(15, 120))
        rw, rh = float(rng.uniform(10, 40)), float(rng.uniform(5, 12))
        draw.ellipse((x - rw, y - rh, x + rw, y + rh), fill=(90, 86, 80) if season < 2 else (196, 200, 210))
    trunks = {"wetland": 6, "hemlock": 10, "orchard": 4, "cedar": 12, "clearcut": 5, "cornfield": 3}[habitat]
    for _ in range(trunks):
        x = float(rng.uniform(0, W))
        near = float(rng.uniform(0, 1))
        width = 4 + 22 * near ** 2
        base = horizon + 4 + 60 * near ** 2
        birch = habitat in ("wetland", "clearcut") and rng.random() < 0.5
        grey = int(rng.integers(42, 88))
        colour = (206, 204, 196) if birch else (grey + 10, grey + 2, grey - 8)
        draw.rectangle((x - width / 2, 0, x + width / 2, base), fill=colour)
        if birch:
            for _ in range(int(base / 18)):
                y = float(rng.uniform(0, base))
                draw.line([(x - width / 2, y), (x + float(rng.uniform(-1, 1)) * width / 2, y + 2)],
                          fill=(40, 40, 40), width=2)


@lru_cache(maxsize=32)
def foreground(location: Location, season: int) -> Image.Image:
    """Grass and twigs along the bottom of the picture, drawn over the deer: an RGBA strip whose
    bottom edge sits on the information strip."""
    rng = np.random.default_rng(SCENE_SEED + 31 * location.index + 7)
    layer = Image.new("RGBA", (W, FOREGROUND_HEIGHT), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    colours = [((70, 110, 44), (120, 140, 60)), ((150, 120, 60), (120, 84, 40)), ((150, 136, 110), (120, 104, 84))]
    blades = {"wetland": 260, "cornfield": 160, "clearcut": 200}.get(location.habitat, 110) // (2 if season == 2 else 1)
    bottom = FOREGROUND_HEIGHT
    for _ in range(blades):
        x = float(rng.uniform(0, W))
        length = float(rng.uniform(12, 70))
        colour = colours[season][int(rng.integers(0, 2))]
        draw.line([(x, bottom), (x + float(rng.normal(0, 10)), bottom - length)], fill=(*colour, 255),
                  width=int(rng.integers(1, 4)))
    return layer
