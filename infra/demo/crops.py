"""Synthetic populations as labelled crops: the generator's pictures, rendered in memory, cut and resized.

Any seed gives a population (6 cameras, 53 deer, 4,546 detections) never stored anywhere: what
`deertrack reid train` learns from and calibrates on (seeds disjoint from the demo's), and what
`deertrack reid evaluate --synthetic SEED` replays. Each picture goes through the same JPEG
encoding as the demo pictures in the images bucket, so crops look as they do in production.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from PIL import Image

from deertrack.reid.classes import effective_class
from deertrack.reid.crop_quality import CropGeometry, measure_photo
from gpu_batch.reid_training.crops import LabelledCrops, resize_crop
from infra.demo.dataset import DemoDataset, generate_dataset
from infra.demo.images import encode_jpeg, render_image


def _render_part(args: tuple[int, int, int, tuple[int, int], int | None]) -> tuple[np.ndarray, list[int]]:
    seed, part, parts, input_size, max_images = args
    data = generate_dataset(seed)
    pixels, indexes = [], []
    for image in data.images[:max_images][part::parts]:
        picture = Image.open(io.BytesIO(encode_jpeg(render_image(data, image)))).convert("RGB")
        for det in data.detections_by_image[image.index]:
            x, y, w, h = det.bbox
            pixels.append(resize_crop(picture.crop((x, y, x + w, y + h)), input_size))
            indexes.append(det.index)
    height, width = input_size
    return (np.stack(pixels) if pixels else np.zeros((0, height, width, 3), np.uint8)), indexes


def population_crops(seed: int, input_size: tuple[int, int], workers: int | None = None,
                     max_images: int | None = None) -> LabelledCrops:
    """Every detection of the population `seed` (of its first `max_images` pictures), as labelled crops."""
    data = generate_dataset(seed)
    parts = max(1, workers or min(4, os.cpu_count() or 1))
    jobs = [(seed, k, parts, tuple(input_size), max_images) for k in range(parts)]
    if parts == 1:
        results = [_render_part(jobs[0])]
    else:
        with ProcessPoolExecutor(parts) as pool:
            results = list(pool.map(_render_part, jobs))
    height, width = input_size
    dets = data.detections if max_images is None else tuple(
        d for d in data.detections if d.image < max_images)
    pixels = np.zeros((len(data.detections), height, width, 3), np.uint8)
    for block, indexes in results:
        if indexes:
            pixels[np.asarray(indexes)] = block
    pixels = pixels[[d.index for d in dets]]
    geometry = detection_geometries(data)
    return LabelledCrops(
        pixels=pixels,
        individuals=tuple(f"synthetic:{seed}:{data.individuals[d.individual].key}" for d in dets),
        populations=tuple(f"synthetic:{seed}" for _ in dets),
        detection_ids=np.array([d.index + 1 for d in dets], dtype=np.int64),
        image_ids=np.array([d.image + 1 for d in dets], dtype=np.int64),
        location_ids=np.array([data.images[d.image].location + 1 for d in dets], dtype=np.int64),
        captured_at=tuple(data.images[d.image].captured_at for d in dets),
        classifications=tuple(effective_class(d.classification, d.confidence) for d in dets),
        geometries=tuple(geometry[d.index] for d in dets),
    )


def detection_geometries(data: DemoDataset) -> dict[int, CropGeometry]:
    """Each detection's box among the other boxes of its picture (by detection index)."""
    out: dict[int, CropGeometry] = {}
    for image in data.images:
        boxes = {det.index: det.bbox for det in data.detections_by_image[image.index]}
        out.update(measure_photo(boxes, (image.width, image.height)))
    return out


def populations(seeds: Sequence[int], input_size: tuple[int, int],
                on_done: Callable[[int, int], None] | None = None) -> LabelledCrops:
    parts = []
    for number, seed in enumerate(seeds, start=1):
        parts.append(population_crops(seed, input_size))
        if on_done:
            on_done(number, len(seeds))
    return LabelledCrops.concat(parts)
