"""The demo data set: a season of trail-camera pictures of 53 known deer at 6 cameras.

- `generate_dataset(seed)`: the whole set in memory, deterministic (no database, no S3);
  `DemoDataset.truth()` gives every detection's true individual, `fingerprint()` a hash of it all.
- `render_image(dataset, image)` / `image_jpeg(...)` / `crop(picture, bbox)`: the synthetic pictures.
- `seed_demo()` (infra.demo.seed): write it to PostgreSQL and the images bucket, idempotently.

Modules: population (cameras, deer and their looks), activity (daylight, rut, seasons), sightings
(groups and bursts of frames), dataset (records), sprites / scenes / images (pictures), seed.
"""

from infra.demo.dataset import (
    DEER_COUNT,
    DEMO_SEED,
    DETECTION_COUNT,
    LOCATION_COUNT,
    DemoDataset,
    DemoDetection,
    DemoImage,
    TruthRow,
    generate_dataset,
)
from infra.demo.images import crop, image_jpeg, render_image

__all__ = [
    "DEER_COUNT", "DEMO_SEED", "DETECTION_COUNT", "LOCATION_COUNT", "DemoDataset", "DemoDetection", "DemoImage",
    "TruthRow", "crop", "generate_dataset", "image_jpeg", "render_image",
]
