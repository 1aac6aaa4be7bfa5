"""The sightings gallery: bounded, diverse exemplars and the top-k score (deertrack.reid.exemplars, gallery)."""

from __future__ import annotations

import numpy as np

from deertrack.reid import exemplars
from deertrack.reid.gallery import Gallery
from deertrack.reid.vectors import normalize


def unit(*values: float) -> np.ndarray:
    return normalize(np.array(values, dtype=np.float32))


def test_exemplars_are_bounded_and_drop_the_most_redundant() -> None:
    a, a2, b, c = unit(1, 0, 0), unit(1, 0.05, 0), unit(0, 1, 0), unit(0, 0, 1)
    kept, ids = exemplars.select(np.stack([a, b, a2, c]), [1, 2, 3, 4], max_exemplars=3)
    assert len(kept) == 3 and ids == [2, 3, 4]  # a and a2 are near-duplicates: the older one goes
    assert np.allclose(kept, np.stack([b, a2, c]))
    # while there is room, everything is kept
    assert exemplars.select(np.stack([a, a2]), [1, 2], max_exemplars=3)[1] == [1, 2]


def test_selection_depends_only_on_the_order() -> None:
    rng = np.random.default_rng(3)
    vectors = normalize(rng.normal(size=(40, 8)).astype(np.float32))
    once = exemplars.select(vectors, list(range(40)), 8)
    start = exemplars.select(vectors[:15], list(range(15)), 8)
    resumed = exemplars.select(vectors[15:], list(range(15, 40)), 8, start=start)
    assert once[1] == resumed[1] and np.allclose(once[0], resumed[0])


def test_top_k_score_is_the_mean_of_the_best_k_cosines() -> None:
    e = np.stack([unit(1, 0), unit(0, 1)])
    deer = np.zeros((2, 4, 2), np.float32)
    deer[0, :3] = [unit(1, 0), unit(0.6, 0.8), unit(0, 1)]
    deer[1, :1] = [unit(1, 1)]
    scores = exemplars.top_k_scores(e, deer, np.array([3, 1]), top_k=2)
    assert np.allclose(scores[0], [(1 + 0.6) / 2, np.sqrt(0.5)], atol=1e-6)
    assert np.allclose(scores[1], [(1 + 0.8) / 2, np.sqrt(0.5)], atol=1e-6)  # one exemplar: that one


def test_gallery_scores_against_sightings_not_the_mean() -> None:
    day, night = unit(1, 0, 0), unit(0, 1, 0)
    gallery = Gallery(max_exemplars=4, top_k=1)
    index = gallery.add(7, "doe", normalize(day + night), 2, np.stack([day, night]), [1, 2])
    assert gallery.exemplar_ids[index] == [1, 2]
    # a night picture matches the deer's night sighting exactly, though the mean sits between
    assert np.isclose(gallery.similarity(night[None])[0, 0], 1.0)
    gallery.update(index, np.stack([unit(0, 0, 1)]), [3])
    assert gallery.counts == [3] and gallery.exemplar_ids[index] == [1, 2, 3]
    for k in range(40):  # grows past its initial capacity
        gallery.add(100 + k, "unknown", day, 1)
    assert len(gallery) == 41 and gallery.similarity(day[None]).shape == (1, 41)
