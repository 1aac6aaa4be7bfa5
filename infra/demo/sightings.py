"""Sightings: a deer (and whoever walks with it) passes a camera, which fires a burst of frames.

One sighting is one trigger of a camera: 1-5 frames a second or two apart, each frame a picture in
which the group's members stand at pixel positions that drift from frame to frame as they walk.
Does bring their fawns, bucks in the rut follow does, young bucks travel in pairs in September.
Everything is drawn from the generator passed in, in a fixed order, so it is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np

from infra.demo import activity
from infra.demo.population import Individual, Location

IMAGE_WIDTH = 640
IMAGE_HEIGHT = 480
#: The camera's information strip (time, temperature) along the bottom edge; no deer is boxed in it.
INFO_BAR = 28
GROUND_BOTTOM = IMAGE_HEIGHT - INFO_BAR - 4
MIN_BOX = 16
MAX_GROUP = 3

#: Poses the renderer knows: 0 standing, 1 head down feeding, 2 alert (head high, tail up).
POSES = (0, 1, 2)
#: Width / height of a standing adult's outline per pose, before antlers and proportions.
POSE_ASPECT = (1.1, 1.7, 1.0)


@dataclass(frozen=True, slots=True)
class Placement:
    """One member of the group in one frame."""

    individual: int
    drawn: tuple[int, int, int, int]  # x, y, w, h of the whole animal (may run past the edges)
    bbox: tuple[int, int, int, int]  # x, y, w, h of the detection, inside the image
    facing_left: bool
    pose: int
    classification: str
    confidence: float


@dataclass(slots=True)
class Frame:
    offset_s: int
    light: float
    members: list[Placement] = field(default_factory=list)


@dataclass(slots=True)
class Sighting:
    location: int
    day: date
    start: datetime
    dark: bool
    warmth: float
    temperature_f: int
    frames: list[Frame]

    @property
    def detections(self) -> int:
        return sum(len(f.members) for f in self.frames)


@dataclass(slots=True)
class _Walker:
    individual: Individual
    x: float  # centre
    ground: float  # y of the feet
    facing_left: bool
    pose: int
    speed: float  # fraction of its width per frame
    quartering: float  # 1 broadside, <1 turned towards or away from the camera
    presence: float
    horizon: float  # y of the camera's horizon: the further up the feet, the smaller the deer


def sample_sightings(rng: np.random.Generator, locations: tuple[Location, ...],
                     individuals: tuple[Individual, ...], expected: float) -> list[Sighting]:
    """About `expected` sightings over the season, in chronological order."""
    days = activity.season_days()
    rates = np.array([
        [ind.activity * activity.activity(ind.sex, day) * (0.3 if ind.sex == "fawn" else 1.0) for day in days]
        for ind in individuals
    ])
    counts = rng.poisson(rates * (expected / rates.sum()))
    fawns_of = {ind.index: [f.index for f in individuals if f.mother == ind.index] for ind in individuals}
    occupied: set[tuple[int, int, int]] = set()
    sightings: list[Sighting] = []
    for d, day in enumerate(days):
        sun = [activity.sun_times(day, loc.latitude, loc.longitude) for loc in locations]
        for ind in individuals:
            for _ in range(int(counts[ind.index, d])):
                group, camera = _group(rng, ind, individuals, locations, fawns_of, day)
                sighting = _sighting(rng, group, locations[camera], day, sun[camera], occupied)
                if sighting is not None:
                    sightings.append(sighting)
    sightings.sort(key=lambda s: (s.start, s.location))
    return sightings


def _camera(rng: np.random.Generator, ind: Individual, locations: tuple[Location, ...], day: date) -> int:
    if ind.sex == "buck" and rng.random() < 0.3 * activity.rut(day):  # rutting bucks roam
        weights = np.array([activity.attraction(loc.habitat, day) for loc in locations])
        return int(rng.choice(len(locations), p=weights / weights.sum()))
    weights = np.array([w * activity.attraction(locations[c].habitat, day)
                        for c, w in zip(ind.home, ind.home_weights, strict=True)])
    return int(ind.home[int(rng.choice(len(ind.home), p=weights / weights.sum()))])


def _group(rng: np.random.Generator, leader: Individual, individuals: tuple[Individual, ...],
           locations: tuple[Location, ...], fawns_of: dict[int, list[int]], day: date) -> tuple[list[Individual], int]:
    camera = _camera(rng, leader, locations, day)
    group = [leader]
    season = (day - activity.SEASON_START).days / 153
    if leader.sex == "doe":
        with_fawns = 0.85 - 0.4 * season
        group += [individuals[f] for f in fawns_of[leader.index] if rng.random() < with_fawns]
    elif leader.sex == "fawn":
        twins = [individuals[f] for f in fawns_of[leader.mother or 0] if f != leader.index]
        group += [t for t in twins if rng.random() < 0.5]
    elif leader.sex == "buck":
        chase = 0.35 * activity.rut(day)
        bachelor = 0.3 * max(0.0, 1.0 - (day - activity.SEASON_START).days / 45)
        pick = rng.random()
        kind = "doe" if pick < chase else ("buck" if pick < chase + bachelor else None)
        if kind:
            there = [o for o in individuals if o.sex == kind and o is not leader and camera in o.home]
            if there:
                weights = np.array([o.home_weights[o.home.index(camera)] * o.activity for o in there])
                group.append(there[int(rng.choice(len(there), p=weights / weights.sum()))])
    return group[:MAX_GROUP], camera


def _sighting(rng: np.random.Generator, group: list[Individual], location: Location, day: date,
              sun: tuple[float, float], occupied: set[tuple[int, int, int]]) -> Sighting | None:
    sunrise, sunset = sun
    daytime = activity.daytime_share(group[0].sex, day)
    for _ in range(10):  # one trigger per camera per few minutes: separate sightings never form one burst
        hours = activity.time_of_day(rng, sunrise, sunset, daytime)
        second = min(int(hours * 3600), 86400 - 20)
        slot = (location.index, day.toordinal(), second // 180)
        if not any((slot[0], slot[1], slot[2] + k) in occupied for k in (-1, 0, 1)):
            occupied.add(slot)
            break
    else:
        return None
    dark = activity.is_dark(hours, sunrise, sunset)
    light = float(rng.uniform(0.75, 1.15)) if dark else activity.daylight(hours, sunrise, sunset) * float(
        rng.uniform(0.85, 1.1))
    edge = 0.0 if dark else max(0.0, 1.0 - min(abs(hours - sunrise), abs(hours - sunset)) / 1.5)
    warmth = 0.0 if dark else round(0.12 * edge + float(rng.normal(0, 0.03)), 4)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(seconds=second)
    n_frames = int(rng.choice([1, 2, 3, 4, 5], p=[0.18, 0.2, 0.42, 0.12, 0.08]))
    interval = int(rng.choice([1, 2], p=[0.6, 0.4]))
    walkers = _arrange(rng, group, location)
    frames: list[Frame] = []
    for k in range(n_frames):
        frame = Frame(offset_s=k * interval, light=round(light * float(rng.uniform(0.97, 1.03)), 4))
        for i, walker in enumerate(walkers):
            if k > 0:
                _step(rng, walker)
            present = i == 0 or rng.random() < walker.presence
            placement = _place(rng, walker, dark) if present else None
            if placement is not None:
                frame.members.append(placement)
        if frame.members:
            frames.append(frame)
    if not frames:
        return None
    temperature = activity.temperature_f(rng, day, hours, sunrise)
    return Sighting(location.index, day, start, dark, warmth, temperature, frames)


def _arrange(rng: np.random.Generator, group: list[Individual], location: Location) -> list[_Walker]:
    horizon = location.horizon * IMAGE_HEIGHT
    facing_left = bool(rng.random() < 0.5)
    leader_ground = float(rng.uniform(horizon + 60, GROUND_BOTTOM))
    leader_x = float(rng.uniform(0.08, 0.92)) * IMAGE_WIDTH
    moving = rng.random() < 0.6
    walkers = []
    for i, ind in enumerate(group):
        if i == 0:
            x, ground = leader_x, leader_ground
        else:
            side = -1.0 if (facing_left ^ (rng.random() < 0.25)) else 1.0  # followers mostly trail behind
            ground = _clamp(leader_ground + float(rng.normal(0, 22)), horizon + 50, GROUND_BOTTOM)
            x = leader_x - side * float(rng.uniform(0.45, 1.1)) * _height(ind, ground, horizon) * 1.3
        walkers.append(_Walker(
            individual=ind, x=x, ground=ground,
            facing_left=facing_left if rng.random() < 0.85 else not facing_left,
            pose=int(rng.choice(POSES, p=[0.45, 0.35, 0.2])),
            speed=float(rng.uniform(0.06, 0.3)) if moving else float(rng.uniform(0.0, 0.03)),
            quartering=float(rng.uniform(0.62, 0.95)) if rng.random() < 0.3 else 1.0,
            presence=0.85,
            horizon=horizon,
        ))
    return walkers


def _height(ind: Individual, ground: float, horizon: float) -> float:
    """Outline height in pixels of a standing deer whose feet are at `ground` (nearer is bigger)."""
    depth = (ground - horizon) / (GROUND_BOTTOM - horizon)
    return ind.look.size * (55.0 + 250.0 * depth)


def _step(rng: np.random.Generator, walker: _Walker) -> None:
    width = _height(walker.individual, walker.ground, walker.horizon) * 1.3
    walker.x += (-1 if walker.facing_left else 1) * walker.speed * width + float(rng.normal(0, 2))
    walker.ground = min(GROUND_BOTTOM, walker.ground + float(rng.normal(0, 2)))
    if rng.random() < 0.25:
        walker.pose = int(rng.choice(POSES, p=[0.45, 0.35, 0.2]))


def _outline(walker: _Walker) -> tuple[float, float]:
    look = walker.individual.look
    height = _height(walker.individual, walker.ground, walker.horizon)
    aspect = POSE_ASPECT[walker.pose] * look.body_length / look.leg_length ** 0.5 * walker.quartering
    if walker.pose == 1:
        height *= 0.82  # head down
    if look.antler_points:  # antlers rise above the head, or reach forward when it is down
        if walker.pose == 1:
            aspect *= 1.0 + 0.12 * look.antler_height
        else:
            height *= 1.0 + 0.2 * look.antler_height
    return aspect * height, height


def _place(rng: np.random.Generator, walker: _Walker, dark: bool) -> Placement | None:
    w, h = _outline(walker)
    h = min(h, walker.ground - 2)
    x0, y0 = walker.x - w / 2, walker.ground - h
    drawn = (int(round(x0)), int(round(y0)), max(MIN_BOX, int(round(w))), max(MIN_BOX, int(round(h))))
    left, right = max(0.0, x0), min(float(IMAGE_WIDTH), x0 + w)
    if right - left < 0.4 * w:
        return None  # mostly out of the frame: nothing a detector would box
    clipped = right - left < 0.98 * w
    jitter = rng.normal(0, 0.018, size=4)
    jx0, jy0, jx1, jy1 = (float(j) for j in jitter)
    bx0 = int(_clamp(left + jx0 * w, 0, IMAGE_WIDTH - MIN_BOX))
    by0 = int(_clamp(y0 + jy0 * h, 0, GROUND_BOTTOM - MIN_BOX))
    bx1 = int(_clamp(right + jx1 * w, bx0 + MIN_BOX, IMAGE_WIDTH))
    by1 = int(_clamp(walker.ground + jy1 * h, by0 + MIN_BOX, IMAGE_HEIGHT - INFO_BAR))
    classification, confidence = _classify(rng, walker.individual.sex, dark, h < 90, clipped)
    return Placement(
        individual=walker.individual.index, drawn=drawn, bbox=(bx0, by0, bx1 - bx0, by1 - by0),
        facing_left=walker.facing_left, pose=walker.pose,
        classification=classification, confidence=confidence,
    )


_CONFUSIONS = {"buck": ("doe",), "doe": ("fawn", "buck"), "fawn": ("doe",)}


def _classify(rng: np.random.Generator, sex: str, dark: bool, small: bool, clipped: bool) -> tuple[str, float]:
    """The detector's label and confidence: mostly right, sometimes 'unknown', now and then wrong."""
    p_unknown = 0.02 + 0.03 * dark + 0.05 * small + 0.04 * clipped
    p_wrong = 0.025 + 0.025 * dark
    pick = rng.random()
    if pick < p_unknown:
        label, confidence = "unknown", 0.5 + 0.49 * float(rng.beta(2.0, 5.0))
    elif pick < p_unknown + p_wrong:
        options = _CONFUSIONS[sex]
        label = options[0] if len(options) == 1 or rng.random() < 0.7 else options[1]
        confidence = 0.5 + 0.49 * float(rng.beta(2.0, 4.0))
    else:
        label = sex
        confidence = 0.5 + 0.49 * float(rng.beta(7.0, 2.0)) - 0.06 * dark - 0.06 * small
    return label, round(_clamp(confidence, 0.5, 0.99), 3)


def _clamp(value: float, low: float, high: float) -> float:
    return low if value < low else high if value > high else value
