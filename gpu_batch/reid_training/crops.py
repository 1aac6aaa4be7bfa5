"""What the embedder learns from: crops of detections whose individual is known, with what a replay needs.

Crops are stored already resized to the network's input size (uint8, n x H x W x 3), exactly as the
embedder will resize them in production (bilinear, from the crop cut out of the decoded photo).
Each crop keeps its detection's photo, camera, time and class, so that a set of individuals can be
replayed through re-identification (evaluation, calibration) as production would see them, and a
`population` (a synthetic seed, or one database) so that replays never mix two populations.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pg8000.native
from PIL import Image

from deertrack.reid import crops as cropping
from deertrack.reid.bursts import Pending
from deertrack.reid.classes import class_sql
from deertrack.reid.crop_quality import CropGeometry, load_geometries
from gpu_batch.reid.evaluation import Labelled


@dataclass(frozen=True)
class LabelledCrops:
    pixels: np.ndarray  # (n, H, W, 3) uint8
    individuals: tuple[str, ...]  # the true individual of each crop, unique across populations
    populations: tuple[str, ...]  # e.g. "synthetic:11" or "database"
    detection_ids: np.ndarray  # int64
    image_ids: np.ndarray  # int64
    location_ids: np.ndarray  # int64
    captured_at: tuple[datetime, ...]
    classifications: tuple[str, ...]  # the class re-ID's sex rule trusts (deertrack.reid.classes)
    #: each box among the other boxes of its photo (deertrack.reid.crop_quality); None: not measured
    geometries: tuple[CropGeometry | None, ...] = ()

    def __post_init__(self) -> None:
        if not self.geometries:
            object.__setattr__(self, "geometries", tuple(None for _ in range(len(self))))

    def __len__(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def input_size(self) -> tuple[int, int]:
        return int(self.pixels.shape[1]), int(self.pixels.shape[2])

    @property
    def individual_keys(self) -> list[str]:
        return sorted(set(self.individuals))

    def subset(self, rows: np.ndarray | Sequence[int]) -> LabelledCrops:
        rows = np.asarray(rows, dtype=np.int64)
        return LabelledCrops(
            pixels=self.pixels[rows], individuals=tuple(self.individuals[i] for i in rows),
            populations=tuple(self.populations[i] for i in rows), detection_ids=self.detection_ids[rows],
            image_ids=self.image_ids[rows], location_ids=self.location_ids[rows],
            captured_at=tuple(self.captured_at[i] for i in rows),
            classifications=tuple(self.classifications[i] for i in rows),
            geometries=tuple(self.geometries[i] for i in rows),
        )

    def of_individuals(self, keys: set[str]) -> LabelledCrops:
        return self.subset([i for i, key in enumerate(self.individuals) if key in keys])

    def by_population(self) -> dict[str, LabelledCrops]:
        names = sorted(set(self.populations))
        return {name: self.subset([i for i, p in enumerate(self.populations) if p == name]) for name in names}

    def labels(self) -> tuple[np.ndarray, list[str]]:
        """Integer class per crop (0..k-1) and the individual of each class."""
        keys = self.individual_keys
        index = {key: i for i, key in enumerate(keys)}
        return np.array([index[k] for k in self.individuals], dtype=np.int64), keys

    def labelled(self, embeddings: np.ndarray) -> list[Labelled]:
        """The crops as a replay sees them, in time order, with their embeddings."""
        items = [
            Labelled(Pending(int(self.detection_ids[i]), int(self.image_ids[i]), int(self.location_ids[i]),
                             self.captured_at[i], self.classifications[i], embeddings[i], self.geometries[i]),
                     self.individuals[i])
            for i in range(len(self))
        ]
        return sorted(items, key=lambda item: (item.detection.captured_at, item.detection.detection_id))

    @staticmethod
    def concat(parts: Sequence[LabelledCrops]) -> LabelledCrops:
        parts = [p for p in parts if len(p)]
        return LabelledCrops(
            pixels=np.concatenate([p.pixels for p in parts]),
            individuals=tuple(k for p in parts for k in p.individuals),
            populations=tuple(k for p in parts for k in p.populations),
            detection_ids=np.concatenate([p.detection_ids for p in parts]),
            image_ids=np.concatenate([p.image_ids for p in parts]),
            location_ids=np.concatenate([p.location_ids for p in parts]),
            captured_at=tuple(t for p in parts for t in p.captured_at),
            classifications=tuple(c for p in parts for c in p.classifications),
            geometries=tuple(g for p in parts for g in p.geometries),
        )


def resize_crop(crop: Image.Image, input_size: tuple[int, int]) -> np.ndarray:
    """A crop as the embedder sees it: RGB, bilinear to (H, W) = input_size."""
    height, width = input_size
    rgb = crop if crop.mode == "RGB" else crop.convert("RGB")
    return np.asarray(rgb.resize((width, height), Image.Resampling.BILINEAR))


def split_individuals(keys: Sequence[str], fractions: tuple[float, float, float],
                      salt: str = "deertrack") -> tuple[set[str], set[str], set[str]]:
    """Individuals into (training, calibration, held out) by a stable hash of each key."""
    train_share, calibration_share, _ = fractions
    out: tuple[set[str], set[str], set[str]] = (set(), set(), set())
    for key in keys:
        u = int(hashlib.sha256(f"{salt}:{key}".encode()).hexdigest()[:8], 16) / 2**32
        out[0 if u < train_share else 1 if u < train_share + calibration_share else 2].add(key)
    return out


def from_database(con: pg8000.native.Connection, input_size: tuple[int, int], *,
                  sources: Sequence[str] = ("review", "import"), bucket: str | None = None) -> LabelledCrops:
    """Valid detections with a truth row of `sources`, cut from their photos in the images bucket."""
    from deertrack.db import rows_as_dicts
    from deertrack.settings import get_settings
    from deertrack.storage import ObjectMissing, get_bytes

    bucket = bucket or get_settings().images_bucket
    rows = rows_as_dicts(
        con, "SELECT d.id, d.image_id, d.bbox_x, d.bbox_y, d.bbox_width, d.bbox_height,"
             f" {class_sql('d')} AS classification, i.s3_key, i.location_id,"
             " i.captured_at, t.individual_key FROM detections d JOIN images i ON i.id = d.image_id"
             " JOIN detection_truth t ON t.detection_id = d.id"
             " WHERE d.is_valid AND t.source = ANY(CAST(:sources AS TEXT[])) ORDER BY i.captured_at, d.id",
        sources=list(sources),
    )
    pixels, kept = [], []
    by_key: dict[str, list[dict]] = {}
    for row in rows:
        by_key.setdefault(row["s3_key"], []).append(row)
    for key, key_rows in by_key.items():
        try:
            image = cropping.decode(get_bytes(bucket, key))
        except (ObjectMissing, cropping.UnreadableImage):
            continue
        for row in key_rows:
            crop = cropping.cut(image, (row["bbox_x"], row["bbox_y"], row["bbox_width"], row["bbox_height"]))
            if crop.image is not None:
                pixels.append(resize_crop(crop.image, input_size))
                kept.append(row)
    geometry = load_geometries(con, [r["id"] for r in kept])
    height, width = input_size
    return LabelledCrops(
        pixels=np.stack(pixels) if pixels else np.zeros((0, height, width, 3), np.uint8),
        individuals=tuple(f"database:{r['individual_key']}" for r in kept),
        populations=tuple("database" for _ in kept),
        detection_ids=np.array([r["id"] for r in kept], dtype=np.int64),
        image_ids=np.array([r["image_id"] for r in kept], dtype=np.int64),
        location_ids=np.array([r["location_id"] for r in kept], dtype=np.int64),
        captured_at=tuple(r["captured_at"] for r in kept),
        classifications=tuple(r["classification"] for r in kept),
        geometries=tuple(geometry.get(r["id"]) for r in kept),
    )
