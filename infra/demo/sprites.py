"""Each individual deer drawn once per pose, as an RGBA sprite, from its `Look`.

The sprite is a side view facing right on a fixed reference canvas: body, legs, neck, head, ears and
tail shaped by the deer's proportions, coloured by its coat with its own patch pattern (drawn in the
animal's own coordinates, so it stays put under scaling and mirroring), belly and throat patch,
face mask, socks, scar, fawn spots and, for bucks, its antlers. Images then scale, mirror and paste
these sprites, so an individual keeps its look across pictures while pose, size and light change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from infra.demo.population import Look

REF_W, REF_H = 320, 290
GROUND = 280
CREAM = np.array([226.0, 218.0, 200.0], dtype=np.float32)
WHITE = np.array([240.0, 238.0, 232.0], dtype=np.float32)
HOOF = np.array([38.0, 33.0, 30.0], dtype=np.float32)
ANTLER = np.array([196.0, 178.0, 146.0], dtype=np.float32)


@dataclass(frozen=True)
class Sprite:
    image: Image.Image  # RGBA, cropped tight to the animal
    eye: tuple[float, float]  # eye position as a fraction of the sprite's width and height


@dataclass(frozen=True)
class _Geometry:
    cx: float
    cy: float
    rx: float
    ry: float
    leg: float
    head: tuple[float, float]  # centre of the head
    direction: tuple[float, float]  # unit vector from the back of the head to the nose


def _geometry(look: Look, pose: int) -> _Geometry:
    leg = 64.0 * look.leg_length
    ry = 27.0 * look.body_depth
    cy = GROUND - leg * 0.85 - ry
    rx = 72.0 * look.body_length
    cx = 140.0
    angle = {0: 28.0, 1: 72.0, 2: 6.0}[pose]
    direction = (math.cos(math.radians(angle)), math.sin(math.radians(angle)))
    if pose == 1:  # feeding: nose down near the ground
        head = (cx + rx + 18.0, GROUND - 24.0)
    elif pose == 2:  # alert: head high
        head = (cx + rx + 6.0, cy - ry - 50.0)
    else:
        head = (cx + rx + 16.0, cy - ry - 32.0)
    return _Geometry(cx, cy, rx, ry, leg, head, direction)


def _ellipse_points(centre: tuple[float, float], a: float, b: float, direction: tuple[float, float],
                    taper: float = 0.0, n: int = 28) -> list[tuple[float, float]]:
    """An ellipse with half-axes a (along `direction`) and b, optionally narrowing towards the front."""
    ux, uy = direction
    vx, vy = -uy, ux
    points = []
    for k in range(n):
        t = 2 * math.pi * k / n
        along, across = a * math.cos(t), b * math.sin(t)
        if taper and math.cos(t) > 0:
            across *= 1.0 - taper * math.cos(t)
        points.append((centre[0] + along * ux + across * vx, centre[1] + along * uy + across * vy))
    return points


def _texture(seed: int) -> np.ndarray:
    """The individual's coat pattern in [-1, 1] on the reference canvas."""
    rng = np.random.default_rng(seed)
    out = np.zeros((REF_H, REF_W), dtype=np.float32)
    for (gh, gw), weight in (((5, 6), 0.75), ((9, 11), 0.45)):
        grid = Image.fromarray(rng.normal(0, 1, (gh, gw)).astype(np.float32), mode="F")
        out += weight * np.asarray(grid.resize((REF_W, REF_H), Image.BICUBIC), dtype=np.float32)
    return np.tanh(2.2 * out)


@lru_cache(maxsize=512)
def sprite(look: Look, pose: int) -> Sprite:
    g = _geometry(look, pose)
    cx, cy, rx, ry = g.cx, g.cy, g.rx, g.ry
    ux, uy = g.direction
    up = (uy, -ux) if ux > 0 else (-uy, ux)  # perpendicular pointing up-back
    head_centre = (g.head[0] + ux * 6, g.head[1] + uy * 6)

    body = Image.new("L", (REF_W, REF_H), 0)
    draw = ImageDraw.Draw(body)
    draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=255)
    draw.ellipse((cx - rx * 1.02, cy - ry * 1.08, cx - rx * 0.35, cy + ry * 0.6), fill=255)  # rump
    draw.ellipse((cx + rx * 0.25, cy - ry * 1.05, cx + rx * 1.05, cy + ry * 0.85), fill=255)  # chest
    # neck: from the withers and chest to the back and underside of the head
    hx, hy = g.head
    draw.polygon([(cx + rx * 0.4, cy - ry * 0.95), (hx - ux * 10 + up[0] * 10, hy - uy * 10 + up[1] * 10),
                  (hx + up[0] * -11, hy + up[1] * -11), (cx + rx * 1.0, cy + ry * 0.4)], fill=255)
    draw.polygon(_ellipse_points(head_centre, 24.0, 12.0, g.direction, taper=0.45), fill=255)
    ear_base = (hx - ux * 8 + up[0] * 8, hy - uy * 8 + up[1] * 8)
    for lean in (-0.55, -0.15):
        ex, ey = (up[0] + lean * ux, up[1] + lean * uy)
        norm = math.hypot(ex, ey)
        ear_dir = (ex / norm, ey / norm)
        ear_centre = (ear_base[0] + ear_dir[0] * 12, ear_base[1] + ear_dir[1] * 12)
        draw.polygon(_ellipse_points(ear_centre, 13.0, 6.0, ear_dir), fill=255)
    if look.ear_notch:
        tip = (ear_base[0] + up[0] * 22 - ux * 6, ear_base[1] + up[1] * 22 - uy * 6)
        draw.ellipse((tip[0] - 4, tip[1] - 4, tip[0] + 4, tip[1] + 4), fill=0)

    legs = Image.new("L", (REF_W, REF_H), 0)
    leg_draw = ImageDraw.Draw(legs)
    top = cy + ry * 0.2
    for x, lean in ((cx - rx * 0.72, 5), (cx - rx * 0.5, -4), (cx + rx * 0.55, 4), (cx + rx * 0.76, -3)):
        leg_draw.polygon([(x - 6, top), (x + 6, top), (x + lean + 2.5, GROUND), (x + lean - 2.5, GROUND)], fill=255)

    tail = Image.new("L", (REF_W, REF_H), 0)
    tail_draw = ImageDraw.Draw(tail)
    if pose == 2:  # alarm: the white flag up
        tail_draw.polygon(_ellipse_points((cx - rx - 8, cy - ry - 8), 16.0, 8.0, (-0.5, -0.87)), fill=255)
    else:
        tail_draw.polygon(_ellipse_points((cx - rx - 5, cy - ry * 0.35), 13.0, 6.0, (-0.35, 0.94)), fill=255)

    antlers = Image.new("L", (REF_W, REF_H), 0)
    if look.antler_points:
        _draw_antlers(ImageDraw.Draw(antlers), look, (hx + up[0] * 12 - ux * 2, hy + up[1] * 12 - uy * 2), ux > 0)

    marks = Image.new("L", (REF_W, REF_H), 0)
    marks_draw = ImageDraw.Draw(marks)
    # throat patch under the jaw, white muzzle band, eye ring
    throat = (hx - ux * 4 - up[0] * 13, hy - uy * 4 - up[1] * 13)
    size = 10.0 * look.throat_patch
    marks_draw.ellipse((throat[0] - size, throat[1] - size * 0.7, throat[0] + size, throat[1] + size * 0.7), fill=255)
    muzzle = (head_centre[0] + ux * 13, head_centre[1] + uy * 13)
    marks_draw.ellipse((muzzle[0] - 4, muzzle[1] - 4, muzzle[0] + 4, muzzle[1] + 4), fill=255)
    eye = (head_centre[0] - ux * 5 + up[0] * 4, head_centre[1] - uy * 5 + up[1] * 4)
    marks_draw.ellipse((eye[0] - 4.5, eye[1] - 4.5, eye[0] + 4.5, eye[1] + 4.5), fill=255)
    if look.spots:
        spot_rng = np.random.default_rng(look.pattern_seed + 1)
        for _ in range(look.spots):
            sx = cx + rx * float(spot_rng.uniform(-0.8, 0.65))
            sy = cy + ry * float(spot_rng.uniform(-0.8, 0.1))
            r = float(spot_rng.uniform(1.6, 2.8))
            marks_draw.ellipse((sx - r, sy - r, sx + r, sy + r), fill=255)
    if look.scar:
        scar_rng = np.random.default_rng(look.pattern_seed + 2)
        x0 = cx + rx * float(scar_rng.uniform(-0.5, 0.2))
        marks_draw.line([(x0, cy - ry * 0.6), (x0 + rx * 0.35, cy + ry * 0.15)], fill=200, width=3)

    face = Image.new("L", (REF_W, REF_H), 0)
    face_draw = ImageDraw.Draw(face)
    brow = (head_centre[0] - ux * 3 + up[0] * 7, head_centre[1] - uy * 3 + up[1] * 7)
    face_draw.polygon(_ellipse_points(brow, 12.0, 5.0, g.direction), fill=255)
    nose = (head_centre[0] + ux * 22, head_centre[1] + uy * 22)
    face_draw.ellipse((nose[0] - 4, nose[1] - 4, nose[0] + 4, nose[1] + 4), fill=255)
    face_draw.ellipse((eye[0] - 2.6, eye[1] - 2.6, eye[0] + 2.6, eye[1] + 2.6), fill=128)  # the eye itself

    # colour, in numpy, on the part of the canvas the animal covers
    outline = Image.new("L", (REF_W, REF_H), 0)
    for part in (body, legs, tail, antlers):
        outline.paste(255, (0, 0), part)
    box = outline.getbbox() or (0, 0, REF_W, REF_H)
    x0b, y0b, x1b, y1b = box

    def layer(part: Image.Image) -> np.ndarray:
        return np.asarray(part.crop(box), dtype=np.float32)[..., None] * np.float32(1 / 255)

    b, lg, tl, an, mk = (layer(part) for part in (body, legs, tail, antlers, marks))
    fc_raw = np.asarray(face.crop(box), dtype=np.uint8)[..., None]
    yy = np.arange(y0b, y1b, dtype=np.float32)[:, None, None]
    xx = np.arange(x0b, x1b, dtype=np.float32)[None, :, None]
    coat = np.array(look.coat, dtype=np.float32)
    pattern = 1.0 + look.pattern_amplitude * _texture(look.pattern_seed)[y0b:y1b, x0b:x1b, None]
    shade = np.clip(1.12 - 0.32 * (yy - (cy - ry * 2)) / (GROUND - (cy - ry * 2)), 0.7, 1.15)
    rgb = coat * (pattern * shade)
    belly = ((yy - cy) / ry > 0.38) & (np.abs(xx - cx) < rx * 0.8)
    rgb = np.where(belly, np.array(look.belly, dtype=np.float32) * shade, rgb)
    # legs: coat above, darker below (or pale socks), dark hooves
    lower = yy > GROUND - g.leg * 0.45
    leg_rgb = np.where(lower, CREAM * 0.92 if look.socks else coat * 0.7, coat * 0.82)
    leg_rgb = np.where(yy > GROUND - 6, HOOF, leg_rgb)
    rgb = rgb + (leg_rgb - rgb) * lg
    rgb = rgb + (WHITE - rgb) * mk
    rgb = np.where(fc_raw == 255, rgb * (1 - look.face_mask), rgb)
    rgb = np.where(fc_raw == 128, HOOF * 0.5, rgb)
    tail_rgb = np.where(yy > cy - ry * 0.5, WHITE, coat * 0.9) if pose != 2 else WHITE
    rgb = rgb + (tail_rgb - rgb) * tl
    rgb = rgb + (ANTLER * (0.85 + 0.25 * (GROUND - yy) / GROUND) - rgb) * an

    alpha = np.maximum(np.maximum(b, lg), np.maximum(tl, an))
    rgba = np.concatenate([np.clip(rgb, 0, 255), alpha * 255], axis=2).astype(np.uint8)
    image = Image.fromarray(rgba, mode="RGBA")
    image.putalpha(image.getchannel("A").filter(ImageFilter.GaussianBlur(0.7)))
    return Sprite(image, ((eye[0] - x0b) / image.width, (eye[1] - y0b) / image.height))


def _draw_antlers(draw: ImageDraw.ImageDraw, look: Look, base: tuple[float, float], forward_right: bool) -> None:
    """Main beams sweeping up and forward with `antler_points` points each (the far side a little offset)."""
    s, h = look.antler_spread, look.antler_height
    sign = 1.0 if forward_right else -1.0
    for side, (ox, oy), width in ((1, (-7.0, -4.0), 4), (0, (0.0, 0.0), 5)):
        x0, y0 = base[0] + ox, base[1] + oy
        if look.antler_points == 1:
            draw.line([(x0, y0), (x0 + sign * 4 * s, y0 - 30 * h)], fill=255, width=width)
            continue
        def at(t: float, spread: float = s * (0.9 if side else 1.0), x0: float = x0, y0: float = y0):
            return x0 + sign * spread * (-16 * t + 66 * t * t), y0 - h * (46 * t - 16 * t * t)

        draw.line([at(t) for t in np.linspace(0.0, 1.0, 12)], fill=255, width=width, joint="curve")
        for k in range(look.antler_points - 1):
            bx, by = at(0.32 + 0.55 * k / max(1, look.antler_points - 1))
            length = h * (26 - 3 * k)
            draw.line([(bx, by), (bx + sign * 4 * s, by - length)], fill=255, width=max(2, width - 1))
        if look.antler_drop_tine and side == 0:
            bx, by = at(0.55)
            draw.line([(bx, by), (bx + sign * 3, by + 20 * h)], fill=255, width=3)
