"""A deer's sightings gallery: a bounded set of exemplar embeddings, and the top-k score against it.

A deer is represented by up to `max_exemplars` embeddings of its own detections, not by one mean
vector: an animal photographed by day and by infrared flash, standing and feeding, forms several
clusters, and a running mean sits between them. A detection's score for a deer is the mean of its
`top_k` highest cosine similarities to that deer's exemplars (all of them when it has fewer).

Exemplars are kept diverse: while a deer has room, every sighting is kept; when it is full, the new
embedding and the current exemplars compete and the most redundant one (the highest cosine to its
nearest neighbour among the others) is dropped, oldest first among equals. The rule only depends
on the embeddings and their order, so rebuilding a deer from its detections in time order gives
the same exemplars as assigning them one by one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DEFAULT_MAX_EXEMPLARS = 16
DEFAULT_TOP_K = 3


def add(exemplars: np.ndarray, ids: Sequence[int], vector: np.ndarray, detection_id: int,
        max_exemplars: int = DEFAULT_MAX_EXEMPLARS) -> tuple[np.ndarray, list[int]]:
    """The exemplars (k, d) and their detection ids after one more sighting."""
    vector = np.asarray(vector, dtype=np.float32).reshape(1, -1)
    candidates = vector if exemplars.size == 0 else np.vstack([exemplars, vector])
    kept_ids = [*ids, int(detection_id)]
    if len(kept_ids) <= max_exemplars:
        return candidates.astype(np.float32), kept_ids
    gram = candidates.astype(np.float64) @ candidates.T.astype(np.float64)
    np.fill_diagonal(gram, -np.inf)
    drop = int(np.argmax(gram.max(axis=1)))  # argmax keeps the first (oldest) of equals
    return np.delete(candidates, drop, axis=0).astype(np.float32), kept_ids[:drop] + kept_ids[drop + 1:]


def select(vectors: np.ndarray, ids: Sequence[int], max_exemplars: int = DEFAULT_MAX_EXEMPLARS,
           start: tuple[np.ndarray, Sequence[int]] | None = None) -> tuple[np.ndarray, list[int]]:
    """Fold sightings (in time order) into exemplars, from `start` (or none)."""
    vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
    kept, kept_ids = (np.zeros((0, vectors.shape[1]), np.float32), []) if start is None else (start[0], list(start[1]))
    for vector, detection_id in zip(vectors, ids, strict=True):
        kept, kept_ids = add(kept, kept_ids, vector, detection_id, max_exemplars)
    return kept, kept_ids


def top_k_scores(embeddings: np.ndarray, exemplars: np.ndarray, counts: np.ndarray,
                 top_k: int = DEFAULT_TOP_K) -> np.ndarray:
    """(n, d) embeddings x (m, E, d) padded exemplars (counts (m,) valid rows each) -> (n, m) scores:
    per deer, the mean of the top_k cosines to its exemplars (of all, when it has fewer)."""
    embeddings = np.asarray(embeddings, dtype=np.float32)
    n = embeddings.shape[0]
    m, capacity, dim = exemplars.shape
    if n == 0 or m == 0:
        return np.zeros((n, m), dtype=np.float32)
    cosines = (embeddings @ exemplars.reshape(m * capacity, dim).T).reshape(n, m, capacity)
    valid = np.arange(capacity)[None, :] < np.asarray(counts)[:, None]  # (m, E)
    cosines = np.where(valid[None], cosines, -np.inf)
    k = max(1, min(int(top_k), capacity))
    if capacity > k:
        cosines = np.partition(cosines, capacity - k, axis=2)[:, :, capacity - k:]
    used = np.minimum(np.asarray(counts), k).clip(min=1)
    total = np.where(np.isfinite(cosines), cosines, 0.0).sum(axis=2, dtype=np.float64)
    return np.clip(total / used[None, :], -1.0, 1.0).astype(np.float32)

