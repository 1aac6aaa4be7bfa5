"""Demo-shaped re-ID data with random embeddings, for the backfill benchmark and tests.

Cameras, deer with profile embeddings, detections in bursts with stored embeddings, their
assignment and their true identity (detection_truth, source 'demo'). Embeddings are random unit
vectors around one centre per individual (plus a component every deer shares, so that different
deer score around 0.3-0.5 and the same deer around 0.85-0.9, as real re-ID scores spread). It is
not the demo generator (infra/demo/) — it needs no images — but it has the demo data set's shape:
6 cameras, 53 deer, 4,546 detections by default.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pg8000.native

from deertrack.db import transaction
from deertrack.reid.vectors import normalize

DEMO_DETECTIONS = 4_546
DEMO_DEER = 53
DEMO_CAMERAS = 6
DEFAULT_DIM = 256
SEX_WEIGHTS = {"buck": 0.3, "doe": 0.5, "fawn": 0.15, "unknown": 0.05}


@dataclass(frozen=True)
class SyntheticSet:
    detections: int
    deer: int
    cameras: int
    dim: int


def _hex(matrix: np.ndarray) -> list[str]:
    return ["\\\\x" + row.astype("<f4").tobytes().hex() for row in matrix]


def _copy(con: pg8000.native.Connection, table: str, columns: str, lines: list[str]) -> None:
    if lines:
        con.run(f"COPY {table} ({columns}) FROM STDIN", stream=["".join(lines)])


def load(con: pg8000.native.Connection, *, detections: int = DEMO_DETECTIONS, deer: int = DEMO_DEER,
         cameras: int = DEMO_CAMERAS, dim: int = DEFAULT_DIM, seed: int = 7, noise: float = 0.6,
         start: datetime | None = None) -> SyntheticSet:
    """Insert the data set into an empty schema (one transaction). Ids start at 1 when the
    sequences are fresh; nothing here assumes they do."""
    rng = np.random.default_rng(seed)
    start = start or datetime(2024, 9, 1, tzinfo=UTC)
    shared = normalize(rng.standard_normal(dim))
    centres = normalize(0.75 * shared + normalize(rng.standard_normal((deer, dim))))
    sexes = rng.choice(list(SEX_WEIGHTS), size=deer, p=list(SEX_WEIGHTS.values()))
    # Bursts of 1-4 detections of one deer at one camera, seconds apart; bursts an hour-ish apart.
    owners: list[int] = []
    bursts: list[int] = []
    while len(owners) < detections:
        size = min(int(rng.integers(1, 5)), detections - len(owners))
        owners += [int(rng.integers(deer))] * size
        bursts += [len(set(bursts))] * size
    owner = np.asarray(owners)
    burst = np.asarray(bursts)
    burst_camera = rng.integers(cameras, size=burst.max() + 1)
    burst_start = np.cumsum(rng.integers(600, 7200, size=burst.max() + 1))
    first_of_burst = np.r_[True, burst[1:] != burst[:-1]]
    position = np.arange(detections) - np.maximum.accumulate(np.where(first_of_burst, np.arange(detections), 0))
    seconds = burst_start[burst] + 2 * position
    spread = noise * rng.uniform(0.6, 1.6, size=(detections, 1))  # some sightings are much harder than others
    embeddings = normalize(centres[owner] + spread * rng.standard_normal((detections, dim)) / np.sqrt(dim))
    classes = np.where(rng.random(detections) < 0.1, "unknown", sexes[owner])

    with transaction(con):
        location_base = con.run("SELECT coalesce(max(id), 0) FROM locations")[0][0]
        _copy(con, "locations", "id, code, name, latitude, longitude, habitat", [
            f"{location_base + c + 1}\tsyn-cam-{location_base + c + 1}\tSynthetic camera {c + 1}\t"
            f"{44.5 + c / 100}\t{-89.5 - c / 100}\tforest edge\n" for c in range(cameras)
        ])
        con.run("SELECT setval(pg_get_serial_sequence('locations', 'id'), (SELECT max(id) FROM locations))")
        deer_base = con.run("SELECT coalesce(max(id), 0) FROM deer")[0][0]
        profiles = np.zeros((deer, dim), dtype=np.float32)
        counts = np.bincount(owner, minlength=deer)
        np.add.at(profiles, owner, embeddings)
        profiles = normalize(profiles)
        hexes = _hex(profiles)
        _copy(con, "deer", "id, name, sex, status, sighting_count, profile_embedding, profile_embedding_count", [
            f"{deer_base + k + 1}\tSyn-{deer_base + k + 1:05d}\t{sexes[k]}\tactive\t{counts[k]}\t{hexes[k]}\t"
            f"{max(int(counts[k]), 1)}\n" for k in range(deer)
        ])
        con.run("SELECT setval(pg_get_serial_sequence('deer', 'id'), (SELECT max(id) FROM deer))")
        image_base = con.run("SELECT coalesce(max(id), 0) FROM images")[0][0]
        detection_base = con.run("SELECT coalesce(max(id), 0) FROM detections")[0][0]
        _copy(con, "images", "id, s3_key, location_id, captured_at, width, height", [
            f"{image_base + i + 1}\tsynthetic/{image_base + i + 1}.jpg\t{location_base + burst_camera[burst[i]] + 1}\t"
            f"{(start + timedelta(seconds=int(seconds[i]))).isoformat()}\t1920\t1080\n" for i in range(detections)
        ])
        con.run("SELECT setval(pg_get_serial_sequence('images', 'id'), (SELECT max(id) FROM images))")
        hexes = _hex(embeddings)
        _copy(con, "detections", "id, image_id, bbox_x, bbox_y, bbox_width, bbox_height, confidence, classification,"
              " deer_id, burst_group, embedding, embedding_model, reid_status", [
            f"{detection_base + i + 1}\t{image_base + i + 1}\t100\t200\t300\t250\t0.95\t{classes[i]}\t"
            f"{deer_base + owner[i] + 1}\tsyn-burst-{detection_base}-{burst[i]}\t{hexes[i]}\tsynthetic\tassigned\n"
            for i in range(detections)
        ])
        con.run("SELECT setval(pg_get_serial_sequence('detections', 'id'), (SELECT max(id) FROM detections))")
        _copy(con, "detection_truth", "detection_id, individual_key, source", [
            f"{detection_base + i + 1}\tsyn-{deer_base + owner[i] + 1}\tdemo\n" for i in range(detections)
        ])
    return SyntheticSet(detections, deer, cameras, dim)
