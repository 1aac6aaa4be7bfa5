"""The demo data set in memory: cameras, deer, images and detections, with every deer's true identity.

`generate_dataset(seed)` is pure (no database, no S3) and deterministic: the same seed gives the same
records, byte for byte (`DemoDataset.fingerprint()`). `seed.py` writes it to PostgreSQL and S3;
`images.py` draws its pictures. The detections' true individuals (`DemoDataset.truth()`) are what
re-identification is evaluated against.
"""

from __future__ import annotations

import hashlib
from dataclasses import astuple, dataclass
from datetime import datetime, timedelta
from functools import cached_property, lru_cache

import numpy as np

from infra.demo import activity
from infra.demo.population import Individual, Location, build_locations, build_population
from infra.demo.sightings import IMAGE_HEIGHT, IMAGE_WIDTH, Sighting, sample_sightings

DEMO_SEED = 20230901
#: Synthetic populations of the shipped re-ID model (`make demo-model`): trained on, calibrated on,
#: held out for its own figures. `deertrack reid evaluate --synthetic` checks on EVALUATION_SEEDS.
#: All disjoint from each other and from DEMO_SEED (a test keeps them so).
TRAINING_SEEDS = (11, 12, 13, 14, 15, 16, 17, 18)
CALIBRATION_SEEDS = (21, 22)
HOLDOUT_SEEDS = (23,)
EVALUATION_SEEDS = (31, 32, 33)
LOCATION_COUNT = 6
DEER_COUNT = 53
DETECTION_COUNT = 4546
#: Sightings drawn before trimming to exactly DETECTION_COUNT detections (whole sightings are dropped
#: at random, which keeps every seasonal and daily pattern).
SIGHTINGS_DRAWN = 1500
KEY_PREFIX = "demo/"


@dataclass(frozen=True, slots=True)
class DemoImage:
    index: int
    s3_key: str
    location: int  # index into DemoDataset.locations
    captured_at: datetime  # UTC
    width: int
    height: int
    sighting: int  # the trigger (burst) this frame belongs to
    frame: int
    dark: bool  # infrared night picture
    light: float  # daylight brightness, or infrared flash strength at night
    warmth: float  # colour cast near sunrise and sunset
    temperature_f: int
    season: int  # scenery: 0 green, 1 autumn leaves, 2 snow
    noise_seed: int


@dataclass(frozen=True, slots=True)
class DemoDetection:
    index: int
    image: int  # index into DemoDataset.images
    individual: int  # index into DemoDataset.individuals: the true deer
    bbox: tuple[int, int, int, int]  # x, y, width, height in pixels, inside the image
    confidence: float
    classification: str
    burst_group: str  # one per individual per burst
    drawn: tuple[int, int, int, int]  # where the whole animal is drawn (may run past the image edge)
    facing_left: bool
    pose: int


@dataclass(frozen=True, slots=True)
class TruthRow:
    """A detection's true individual, addressed by what identifies it outside the generator."""

    s3_key: str
    bbox: tuple[int, int, int, int]
    individual_key: str
    deer_name: str
    sex: str
    classification: str
    location_code: str
    captured_at: datetime


@dataclass(frozen=True)
class DemoDataset:
    seed: int
    locations: tuple[Location, ...]
    individuals: tuple[Individual, ...]
    images: tuple[DemoImage, ...]
    detections: tuple[DemoDetection, ...]

    @cached_property
    def detections_by_image(self) -> tuple[tuple[DemoDetection, ...], ...]:
        grouped: list[list[DemoDetection]] = [[] for _ in self.images]
        for detection in self.detections:
            grouped[detection.image].append(detection)
        return tuple(tuple(g) for g in grouped)

    def truth(self) -> tuple[TruthRow, ...]:
        """Every detection's true individual (what detection_truth holds once seeded)."""
        rows = []
        for det in self.detections:
            image, ind = self.images[det.image], self.individuals[det.individual]
            rows.append(TruthRow(image.s3_key, det.bbox, ind.key, ind.name, ind.sex, det.classification,
                                 self.locations[image.location].code, image.captured_at))
        return tuple(rows)

    def fingerprint(self) -> str:
        """sha256 of every record: equal fingerprints mean identical data sets."""
        digest = hashlib.sha256()
        for group in (self.locations, self.individuals, self.images, self.detections):
            for record in group:
                digest.update(repr(astuple(record)).encode())
                digest.update(b"\n")
        return digest.hexdigest()


@lru_cache(maxsize=4)
def generate_dataset(seed: int = DEMO_SEED) -> DemoDataset:
    """The demo data set for `seed` (DEMO_SEED is the one `deertrack seed --demo` loads)."""
    rng = np.random.default_rng(seed)
    locations = build_locations(rng)
    individuals = build_population(rng, locations)
    sightings = sample_sightings(rng, locations, individuals, expected=SIGHTINGS_DRAWN)
    kept = _exactly(rng, sightings, DETECTION_COUNT)
    dataset = _records(rng, seed, locations, individuals, kept)
    missing = {i.index for i in individuals} - {d.individual for d in dataset.detections}
    if missing:  # a deer with no detection has no first/last seen: the season must show every deer
        raise RuntimeError(f"seed {seed}: deer {sorted(missing)} have no detection")
    return dataset


def _exactly(rng: np.random.Generator, sightings: list[Sighting], target: int) -> list[Sighting]:
    """Whole sightings, chosen at random, with exactly `target` detections; the first and last are kept
    so the data set spans the whole season."""
    total = sum(s.detections for s in sightings)
    if total < target:
        raise RuntimeError(f"only {total} detections drawn, fewer than {target}; raise SIGHTINGS_DRAWN")
    middle = [int(i) + 1 for i in rng.permutation(len(sightings) - 2)]
    order = [0, len(sightings) - 1, *middle]
    chosen: list[int] = []
    count = 0
    for i in order:
        n = sightings[i].detections
        if count + n <= target:
            chosen.append(i)
            count += n
            if count == target:
                break
    if count != target:
        raise RuntimeError(f"could not choose sightings totalling {target} detections (got {count})")
    return [sightings[i] for i in sorted(chosen)]


def _season(day_of: datetime) -> int:
    day = day_of.date()
    if day >= activity.SNOW_FROM:
        return 2
    return 1 if day >= activity.LEAF_FALL_FROM else 0


def _records(rng: np.random.Generator, seed: int, locations: tuple[Location, ...],
             individuals: tuple[Individual, ...], sightings: list[Sighting]) -> DemoDataset:
    images: list[DemoImage] = []
    detections: list[DemoDetection] = []
    per_camera = [0] * len(locations)
    for number, sighting in enumerate(sightings, start=1):
        code = locations[sighting.location].code
        for k, frame in enumerate(sighting.frames):
            per_camera[sighting.location] += 1
            at = sighting.start + timedelta(seconds=frame.offset_s)
            image = DemoImage(
                index=len(images),
                s3_key=f"{KEY_PREFIX}{code}/{at:%Y/%m/%d}/IMG_{per_camera[sighting.location]:06d}.jpg",
                location=sighting.location, captured_at=at, width=IMAGE_WIDTH, height=IMAGE_HEIGHT,
                sighting=number, frame=k, dark=sighting.dark, light=frame.light, warmth=sighting.warmth,
                temperature_f=sighting.temperature_f, season=_season(at),
                noise_seed=int(rng.integers(0, 2**31 - 1)),
            )
            images.append(image)
            for member in frame.members:
                key = individuals[member.individual].key.removeprefix("demo-")
                detections.append(DemoDetection(
                    index=len(detections), image=image.index, individual=member.individual,
                    bbox=member.bbox, confidence=member.confidence, classification=member.classification,
                    burst_group=f"demo-{code}-{number:05d}-{key}", drawn=member.drawn,
                    facing_left=member.facing_left, pose=member.pose,
                ))
    return DemoDataset(seed, locations, individuals, tuple(images), tuple(detections))
