"""The deer gallery: every scorable deer with its sightings gallery (exemplars) and profile, as matrices.

A detection is scored against a deer by the mean of its top-k cosines to the deer's exemplars
(`exemplars.py`): the deer's gallery of sightings, at most `max_exemplars` of its detections' embeddings.
The profile, the normalized running mean of all its detections' embeddings,
    profile' = normalize(profile * count + sum(new embeddings)),  count' = count + len(new),
is kept beside it for summaries and can always be rebuilt as normalize(mean(embeddings)).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pg8000.native

from deertrack.reid import exemplars as exemplar_sets
from deertrack.reid.vectors import DTYPE, DimensionMismatch, normalize, stack

#: Deer that detections can be matched to. 'merged' deer are aliases; 'deceased' cannot be re-sighted.
SCORABLE_STATUSES = ("active", "inactive")


def running_mean(profile: np.ndarray, count: int, embeddings: np.ndarray) -> np.ndarray:
    """The profile after adding `embeddings` (k, d) to a profile built from `count` detections."""
    embeddings = np.atleast_2d(np.asarray(embeddings, dtype=np.float32))
    total = np.asarray(profile, dtype=np.float64) * max(count, 0) + embeddings.astype(np.float64).sum(axis=0)
    return normalize(total.astype(np.float32))


def mean_profile(embeddings: np.ndarray) -> np.ndarray:
    return normalize(np.atleast_2d(np.asarray(embeddings, dtype=np.float32)).astype(np.float64).mean(axis=0)
                     .astype(np.float32))


def exemplars_from_bytes(blob: bytes | memoryview | None, dim: int) -> np.ndarray:
    if not blob or dim <= 0:
        return np.zeros((0, max(dim, 0)), dtype=np.float32)
    return np.frombuffer(bytes(blob), dtype=DTYPE).reshape(-1, dim).astype(np.float32)


def exemplars_to_bytes(vectors: np.ndarray) -> bytes:
    return np.asarray(vectors, dtype=DTYPE).tobytes()


@dataclass
class Gallery:
    """Deer ids, sexes, profiles (m, d), counts and exemplars (m, E, d), growable in place."""

    deer_ids: list[int] = field(default_factory=list)
    sexes: list[str] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    dim: int | None = None
    _profiles: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    max_exemplars: int = exemplar_sets.DEFAULT_MAX_EXEMPLARS
    top_k: int = exemplar_sets.DEFAULT_TOP_K
    exemplar_ids: list[list[int]] = field(default_factory=list)
    _exemplars: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0), dtype=np.float32))
    _exemplar_counts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.deer_ids)

    @property
    def profiles(self) -> np.ndarray:
        return self._profiles[: len(self.deer_ids)]

    def exemplars(self, index: int) -> np.ndarray:
        """Deer `index`'s exemplars, (k, d)."""
        return self._exemplars[index, : self._exemplar_counts[index]]

    def index_of(self, deer_id: int) -> int | None:
        try:
            return self.deer_ids.index(deer_id)
        except ValueError:
            return None

    def similarity(self, embeddings: np.ndarray) -> np.ndarray:
        """(n, d) detections -> (n, m) scores: each deer's top-k mean cosine over its exemplars."""
        embeddings = np.atleast_2d(np.asarray(embeddings, dtype=np.float32))
        m = len(self)
        if m and embeddings.size and embeddings.shape[1] != self.dim:
            raise DimensionMismatch(
                f"detection embeddings have {embeddings.shape[1]} dimensions but deer exemplars have "
                f"{self.dim}; re-embed with `deertrack reid embed --all` after changing the model"
            )
        if m == 0 or embeddings.shape[0] == 0:
            return np.zeros((embeddings.shape[0], m), dtype=np.float32)
        return exemplar_sets.top_k_scores(embeddings, self._exemplars[:m], self._exemplar_counts[:m], self.top_k)

    def _grow(self, dim: int) -> None:
        m = len(self.deer_ids)
        if self.dim is None:
            self.dim = dim
            self._profiles = np.zeros((16, dim), dtype=np.float32)
            self._exemplars = np.zeros((16, self.max_exemplars, dim), dtype=np.float32)
            self._exemplar_counts = np.zeros(16, dtype=np.int64)
        elif dim != self.dim:
            raise DimensionMismatch(f"a profile has {dim} dimensions, the gallery {self.dim}")
        if m == self._profiles.shape[0]:
            size = max(16, 2 * m)
            profiles = np.zeros((size, self.dim), dtype=np.float32)
            profiles[:m] = self._profiles[:m]
            exemplars = np.zeros((size, self.max_exemplars, self.dim), dtype=np.float32)
            exemplars[:m] = self._exemplars[:m]
            counts = np.zeros(size, dtype=np.int64)
            counts[:m] = self._exemplar_counts[:m]
            self._profiles, self._exemplars, self._exemplar_counts = profiles, exemplars, counts

    def _set_exemplars(self, index: int, vectors: np.ndarray, ids: Sequence[int]) -> None:
        k = vectors.shape[0]
        self._exemplars[index, :k] = vectors
        self._exemplars[index, k:] = 0.0
        self._exemplar_counts[index] = k
        self.exemplar_ids[index] = list(ids)

    def add(self, deer_id: int, sex: str, profile: np.ndarray, count: int, exemplars: np.ndarray | None = None,
            exemplar_ids: Sequence[int] = ()) -> int:
        """A new deer; with no exemplars its profile stands in as its one exemplar."""
        profile = np.asarray(profile, dtype=np.float32).reshape(-1)
        self._grow(profile.shape[0])
        m = len(self.deer_ids)
        self._profiles[m] = profile
        self.deer_ids.append(int(deer_id))
        self.sexes.append(sex)
        self.counts.append(int(count))
        self.exemplar_ids.append([])
        if exemplars is None or len(exemplars) == 0:
            self._set_exemplars(m, profile[None, :], [])
        else:
            vectors = np.atleast_2d(np.asarray(exemplars, dtype=np.float32))
            if vectors.shape[0] > self.max_exemplars or len(exemplar_ids) != vectors.shape[0]:
                vectors, ids = exemplar_sets.select(vectors, list(exemplar_ids) or [0] * len(vectors),
                                                    self.max_exemplars)
            else:
                ids = list(exemplar_ids)
            self._set_exemplars(m, vectors, ids)
        return m

    def update(self, index: int, embeddings: np.ndarray, detection_ids: Sequence[int] | None = None) -> np.ndarray:
        """Fold new sightings into deer `index`: profile (running mean) and exemplars; returns the profile."""
        embeddings = np.atleast_2d(np.asarray(embeddings, dtype=np.float32))
        ids = list(detection_ids) if detection_ids is not None else [0] * embeddings.shape[0]
        self._profiles[index] = running_mean(self._profiles[index], self.counts[index], embeddings)
        self.counts[index] += embeddings.shape[0]
        kept, kept_ids = exemplar_sets.select(embeddings, ids, self.max_exemplars,
                                              start=(self.exemplars(index).copy(), self.exemplar_ids[index]))
        self._set_exemplars(index, kept, kept_ids)
        return self._profiles[index]


#: The gallery's deer: those that can be matched and have a profile embedding (parameter :statuses).
_SCORABLE = " FROM deer WHERE profile_embedding IS NOT NULL AND status = ANY(CAST(:statuses AS TEXT[]))"


def count_scorable(con: pg8000.native.Connection) -> int:
    """How many deer `load_gallery` would load."""
    return int(con.run("SELECT count(*)" + _SCORABLE, statuses=list(SCORABLE_STATUSES))[0][0])


def empty_gallery() -> Gallery:
    """A gallery with no deer, sized by the settings (REID_MAX_EXEMPLARS, REID_TOP_K)."""
    from deertrack.settings import get_settings

    settings = get_settings()
    return Gallery(max_exemplars=settings.reid_max_exemplars, top_k=settings.reid_top_k)


def load_gallery(con: pg8000.native.Connection) -> Gallery:
    """Every deer that can be matched and has a profile embedding, oldest first, with its exemplars."""
    rows = con.run(
        "SELECT id, sex, profile_embedding, profile_embedding_count, exemplar_embeddings, exemplar_detection_ids"
        + _SCORABLE + " ORDER BY id",
        statuses=list(SCORABLE_STATUSES),
    )
    profiles = stack([r[2] for r in rows], "deer profile embeddings")
    gallery = empty_gallery()
    if not rows:
        return gallery
    dim = profiles.shape[1]
    for row, profile in zip(rows, profiles, strict=True):
        vectors = exemplars_from_bytes(row[4], dim)
        ids = [int(i) for i in (row[5] or [])]
        if len(ids) != len(vectors):
            ids = [0] * len(vectors)
        gallery.add(int(row[0]), row[1], profile, max(int(row[3]), 1), vectors if len(vectors) else None, ids)
    return gallery
