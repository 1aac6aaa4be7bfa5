"""The demo's synthetic pictures: valid JPEGs, deterministic, night in infrared, and each deer its own look."""

from __future__ import annotations

import io
from collections import defaultdict
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from infra.demo import DEMO_SEED, DemoDataset, crop, generate_dataset, image_jpeg, render_image


@pytest.fixture(scope="module")
def demo():
    return generate_dataset(DEMO_SEED)


def test_pictures_are_small_deterministic_jpegs(demo) -> None:
    for index in (0, len(demo.images) // 2, len(demo.images) - 1):
        data = image_jpeg(demo, index)
        assert data == image_jpeg(demo, index)
        assert 5_000 < len(data) < 60_000
        picture = Image.open(io.BytesIO(data))
        assert picture.format == "JPEG" and picture.mode == "RGB"
        assert picture.size == (demo.images[index].width, demo.images[index].height)


def test_night_is_infrared_grey_and_day_is_colour(demo) -> None:
    night = next(im for im in demo.images if im.dark)
    day = next(im for im in demo.images if not im.dark and im.light > 0.8)
    dark_pixels = np.asarray(render_image(demo, night), dtype=np.int16)
    day_pixels = np.asarray(render_image(demo, day), dtype=np.int16)
    assert np.abs(dark_pixels[..., 0] - dark_pixels[..., 1]).max() == 0
    assert np.abs(day_pixels[..., 0] - day_pixels[..., 2]).mean() > 5


def test_the_deer_is_in_its_box(demo) -> None:
    """The box holds something other than the empty scene: the picture differs from the deer-less one."""
    det = next(d for d in demo.detections if not demo.images[d.image].dark and d.bbox[3] > 100)
    image = demo.images[det.image]
    empty = DemoDataset(demo.seed, demo.locations, demo.individuals, (replace(image, index=0),), ())
    with_deer = np.asarray(crop(render_image(demo, image), det.bbox), dtype=np.float32)
    without = np.asarray(crop(render_image(empty, 0), det.bbox), dtype=np.float32)
    changed = np.abs(with_deer - without).sum(axis=2) > 24
    assert changed.mean() > 0.15  # the animal covers a fair part of its box (legs and neck leave gaps)
    outside = np.asarray(render_image(demo, image), dtype=np.float32)[: det.bbox[1] - 2]
    assert np.array_equal(outside, np.asarray(render_image(empty, 0), dtype=np.float32)[: det.bbox[1] - 2]) or \
        len(demo.detections_by_image[image.index]) > 1  # above the box nothing changed (alone in the picture)


def _colour_signature(picture: Image.Image) -> np.ndarray:
    """A chromaticity histogram of the middle of a crop: colour without brightness."""
    w, h = picture.size
    middle = picture.crop((w // 5, h // 5, w - w // 5, h - h // 5)).resize((32, 32))
    rgb = np.asarray(middle, dtype=np.float32).reshape(-1, 3)
    chroma = rgb[:, :2] / (rgb.sum(axis=1, keepdims=True) + 1)
    hist, _, _ = np.histogram2d(chroma[:, 0], chroma[:, 1], bins=8, range=[[0.2, 0.6], [0.2, 0.5]])
    vector = hist.ravel()
    return vector / (np.linalg.norm(vector) + 1e-9)


def test_an_individual_looks_more_like_itself_than_like_others(demo) -> None:
    """Crops of one deer (different days, light, pose, size) are closer to each other than to other deer's,
    even by a crude colour histogram that ignores the markings a learned model would use."""
    by_deer = defaultdict(list)
    for det in demo.detections:
        image = demo.images[det.image]
        if not image.dark and det.bbox[2] >= 60 and det.bbox[3] >= 80:
            by_deer[det.individual].append(det)
    deer = [i for i in sorted(by_deer) if len({d.image for d in by_deer[i]}) >= 8][:10]
    assert len(deer) == 10
    signatures = {}
    for individual in deer:
        chosen = by_deer[individual][:: max(1, len(by_deer[individual]) // 4)][:4]  # spread over the season
        signatures[individual] = [_colour_signature(crop(render_image(demo, d.image), d.bbox)) for d in chosen]
    same = [a @ b for sigs in signatures.values() for i, a in enumerate(sigs) for b in sigs[i + 1:]]
    other = [signatures[x][0] @ signatures[y][k] for x in deer for y in deer if x != y for k in range(1, 4)]
    assert np.mean(same) > np.mean(other) + 0.1
    # and the nearest other crop is, more often than chance would have it, the same deer
    vectors = np.array([s for i in deer for s in signatures[i]])
    labels = np.array([i for i in deer for _ in signatures[i]])
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -1)
    chance = (4 - 1) / (len(labels) - 1)
    assert (labels[similarity.argmax(axis=1)] == labels).mean() > 2 * chance


def test_render_is_fast_enough_to_seed_thousands() -> None:
    """Not a timing assertion: the renderer works on many pictures in a row without state leaking."""
    demo = generate_dataset(DEMO_SEED)
    first = image_jpeg(demo, 10)
    for index in range(11, 31):
        image_jpeg(demo, index)
    assert image_jpeg(demo, 10) == first
