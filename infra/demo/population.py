"""Who and where: the six camera locations and the 53 individual deer, each with a home range and a look.

Everything here is drawn from one numpy Generator, so the same seed gives the same cameras, deer,
home ranges and appearances. The appearance (`Look`) is what makes an individual recognisable in
the synthetic images: coat colour, a marking pattern, body proportions, antlers for bucks.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import numpy as np

Sex = Literal["buck", "doe", "fawn"]
Habitat = Literal["wetland", "hemlock", "orchard", "cedar", "clearcut", "cornfield"]

#: Study area: woodland and farm edges in Vermont's Northeast Kingdom, around Lake Willoughby.
STUDY_AREA_CENTRE = (44.7310, -72.0340)
KM_PER_DEGREE_LAT = 111.0


@dataclass(frozen=True, slots=True)
class Location:
    index: int
    code: str
    name: str
    latitude: float
    longitude: float
    habitat: Habitat
    habitat_text: str
    camera_model: str
    deployment_start: datetime
    deployment_end: datetime
    #: Where the ground meets the trees, as a fraction of the image height.
    horizon: float


@dataclass(frozen=True, slots=True)
class Look:
    """A stable appearance: the same individual looks the same in every image (up to pose and light)."""

    coat: tuple[float, float, float]  # RGB 0-255
    belly: tuple[float, float, float]
    pattern_amplitude: float  # strength of the individual's light/dark coat patches
    pattern_seed: int
    throat_patch: float  # size of the white throat patch, 0.3-1.3
    face_mask: float  # darkness of the forehead and muzzle, 0-0.6
    body_length: float  # ~0.9-1.12
    body_depth: float  # ~0.9-1.1
    leg_length: float  # ~0.88-1.12
    size: float  # overall size in the scene (fawns smaller)
    socks: bool  # pale lower legs
    scar: bool  # a pale scar line across the flank
    spots: int  # white fawn spots on the back (0 for adults)
    ear_notch: bool
    antler_points: int  # per side, 0 for does and fawns
    antler_spread: float
    antler_height: float
    antler_drop_tine: bool


@dataclass(frozen=True, slots=True)
class Individual:
    index: int
    key: str  # stable key for the truth table, e.g. demo-doe-07
    name: str
    sex: Sex
    home: tuple[int, ...]  # location indexes, most used first
    home_weights: tuple[float, ...]
    activity: float  # how often this deer passes cameras, relative
    mother: int | None  # for fawns: the doe they follow
    look: Look


_LOCATIONS: tuple[tuple[str, str, Habitat, str, str, float, float, float], ...] = (
    # code, name, habitat, habitat text, camera model, north km, east km, horizon
    ("CAM-01", "Beaver Meadow Edge", "wetland", "wetland edge, sedge meadow and alder",
     "Browning Recon Force Elite HP5", 1.6, -2.1, 0.36),
    ("CAM-02", "Hemlock Ridge Trail", "hemlock", "mixed hemlock-northern hardwood ridge",
     "Reconyx HyperFire 2", 2.4, 0.3, 0.30),
    ("CAM-03", "Old Orchard", "orchard", "abandoned apple orchard gone to old field",
     "Bushnell Core DS-4K", 0.2, 1.4, 0.34),
    ("CAM-04", "Cedar Swamp Crossing", "cedar", "northern white cedar swamp (winter deer yard)",
     "Reconyx HyperFire 2", -1.3, -0.8, 0.28),
    ("CAM-05", "Skid Road Clearcut", "clearcut", "five-year-old clearcut, raspberry and aspen regrowth",
     "Stealth Cam DS4K Max", -0.4, 2.9, 0.38),
    ("CAM-06", "Cornfield Corner", "cornfield", "standing corn edge against a hedgerow",
     "Spypoint Force-Pro", -2.2, 1.9, 0.40),
)

BUCK_NAMES = (
    "Ridge Runner", "Crooked Tine", "Big Ten", "Ghost", "Moose", "Tall Tines", "Drop Tine",
    "Splitbrow", "Old Mossy", "Forkhorn Fred", "Hemlock", "Notch", "Brutus", "Spike",
)
DOE_NAMES = (
    "Maple", "Hazel", "Willow", "Juniper", "Clover", "Fern", "Aster", "Birch", "Sorrel", "Tansy",
    "Laurel", "Sumac", "Primrose", "Yarrow", "Bramble", "Alder", "Sedge", "Marigold", "Thistle",
    "Violet", "Rowan", "Ivy", "Nettle", "Poppy",
)
FAWN_NAMES = (
    "Button", "Pip", "Dapple", "Sprout", "Thimble", "Acorn", "Pebble", "Freckles", "Wren", "Bean",
    "Tumble", "Twig", "Minnow", "Clove", "Bristle",
)


def build_locations(rng: np.random.Generator) -> tuple[Location, ...]:
    lat0, lon0 = STUDY_AREA_CENTRE
    km_per_degree_lon = KM_PER_DEGREE_LAT * float(np.cos(np.radians(lat0)))
    out = []
    for index, (code, name, habitat, text, model, north, east, horizon) in enumerate(_LOCATIONS):
        start_day = int(rng.integers(18, 30))  # deployed in the last days of August
        end_day = int(rng.integers(2, 12))  # collected in early February
        out.append(Location(
            index=index, code=code, name=name,
            latitude=round(lat0 + (north + float(rng.normal(0, 0.05))) / KM_PER_DEGREE_LAT, 5),
            longitude=round(lon0 + (east + float(rng.normal(0, 0.05))) / km_per_degree_lon, 5),
            habitat=habitat, habitat_text=text, camera_model=model,
            deployment_start=datetime(2023, 8, start_day, 15, int(rng.integers(0, 60)), tzinfo=UTC),
            deployment_end=datetime(2024, 2, end_day, 16, int(rng.integers(0, 60)), tzinfo=UTC),
            horizon=horizon,
        ))
    return tuple(out)


def _distances(locations: tuple[Location, ...]) -> np.ndarray:
    lat = np.array([loc.latitude for loc in locations])
    lon = np.array([loc.longitude for loc in locations]) * np.cos(np.radians(STUDY_AREA_CENTRE[0]))
    return np.hypot(lat[:, None] - lat[None, :], lon[:, None] - lon[None, :]) * KM_PER_DEGREE_LAT


def _home_range(rng: np.random.Generator, distances: np.ndarray,
                roams: float) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """1-3 cameras: a core camera and the nearest others, most used first."""
    core = int(rng.integers(0, len(distances)))
    size = int(rng.choice([1, 2, 3], p=[0.25, 0.45, 0.30]))
    # nearer cameras are likelier neighbours; roaming deer (bucks) reach further
    closeness = np.exp(-distances[core] / roams)
    closeness[core] = 0.0
    others = rng.choice(len(distances), size=size - 1, replace=False, p=closeness / closeness.sum())
    weights = np.sort(rng.dirichlet(np.full(size, 2.0)))[::-1]
    weights = 0.5 * weights + 0.5 * np.array([1.0, 0.55, 0.3][:size]) / sum([1.0, 0.55, 0.3][:size])
    return (core, *(int(o) for o in others)), tuple(round(float(w), 4) for w in weights / weights.sum())


def _coat(rng: np.random.Generator, sex: Sex) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """A white-tailed deer's coat: reddish to grey-brown, lighter or darker by individual."""
    hue = float(rng.uniform(0.035, 0.10))  # fraction of the colour wheel: red-brown to tan
    saturation = float(rng.uniform(0.22, 0.64))  # grey-brown to foxy red
    value = float(rng.uniform(0.32, 0.76)) * (0.9 if sex == "buck" else 1.0)
    if sex == "fawn":
        saturation, value = min(0.8, saturation + 0.12), min(0.8, value + 0.06)
    rgb = tuple(round(c * 255, 1) for c in colorsys.hsv_to_rgb(hue, saturation, value))
    belly = tuple(float(np.clip(c * 0.35 + 170 + rng.normal(0, 8), 0, 255)) for c in rgb)
    return rgb, belly  # type: ignore[return-value]


def _look(rng: np.random.Generator, sex: Sex, name: str) -> Look:
    coat, belly = _coat(rng, sex)
    is_buck = sex == "buck"
    points = 0
    if is_buck:
        points = 1 if name == "Spike" else int(rng.choice([2, 3, 4, 5], p=[0.2, 0.35, 0.3, 0.15]))
        if name == "Big Ten":
            points = 5
        if name == "Forkhorn Fred":
            points = 2
    size = {"buck": 1.0, "doe": 0.88, "fawn": 0.64}[sex] * float(rng.normal(1.0, 0.05))
    return Look(
        coat=coat, belly=belly,
        pattern_amplitude=round(float(rng.uniform(0.22, 0.48)), 3),
        pattern_seed=int(rng.integers(0, 2**31 - 1)),
        throat_patch=round(float(rng.uniform(0.3, 1.3)), 3),
        face_mask=round(float(rng.uniform(0.0, 0.6 if is_buck else 0.4)), 3),
        body_length=round(float(rng.uniform(0.9, 1.12)), 3),
        body_depth=round(float(rng.uniform(0.9, 1.1)) * (1.05 if is_buck else 1.0), 3),
        leg_length=round(float(rng.uniform(0.88, 1.12)) * (1.1 if sex == "fawn" else 1.0), 3),
        size=round(size, 3),
        socks=bool(rng.random() < 0.3),
        scar=bool(rng.random() < (0.35 if is_buck else 0.15)) or name == "Old Mossy",
        spots=int(rng.integers(18, 36)) if sex == "fawn" else 0,
        ear_notch=name == "Notch" or bool(rng.random() < 0.1),
        antler_points=points,
        antler_spread=round(float(rng.uniform(0.75, 1.2)), 3) if is_buck else 0.0,
        antler_height=round(float(rng.uniform(0.7, 1.15)) * (0.55 if name == "Spike" else 1.0), 3) if is_buck else 0.0,
        antler_drop_tine=name == "Drop Tine",
    )


def build_population(rng: np.random.Generator, locations: tuple[Location, ...]) -> tuple[Individual, ...]:
    """14 bucks, 24 does and 15 fawns (each fawn follows one doe; some does have twins)."""
    distances = _distances(locations)
    individuals: list[Individual] = []

    def add(sex: Sex, number: int, name: str, home, weights, activity: float, mother: int | None) -> None:
        individuals.append(Individual(
            index=len(individuals), key=f"demo-{sex}-{number:02d}", name=name, sex=sex,
            home=home, home_weights=weights, activity=activity, mother=mother, look=_look(rng, sex, name),
        ))

    for number, name in enumerate(BUCK_NAMES, start=1):
        home, weights = _home_range(rng, distances, roams=2.5)
        add("buck", number, name, home, weights, round(float(rng.lognormal(0.0, 0.45)), 4), None)
    does: list[int] = []
    for number, name in enumerate(DOE_NAMES, start=1):
        home, weights = _home_range(rng, distances, roams=1.4)
        does.append(len(individuals))
        add("doe", number, name, home, weights, round(float(rng.lognormal(0.0, 0.4)), 4), None)
    # 15 fawns: 9 singles and 3 sets of twins, with 12 of the 24 does
    mothers = [int(m) for m in rng.choice(does, size=12, replace=False)]
    fawn_mothers = sorted(mothers + mothers[:3])
    for number, (name, mother) in enumerate(zip(FAWN_NAMES, fawn_mothers, strict=True), start=1):
        doe = individuals[mother]
        add("fawn", number, name, doe.home, doe.home_weights, round(float(rng.lognormal(0.0, 0.25)), 4), mother)
    return tuple(individuals)
