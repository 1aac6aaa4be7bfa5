"""The deer gallery: every scorable deer's profile embedding as one matrix, in memory or from PostgreSQL.

A profile is the normalized running mean of its detections' embeddings:
    profile' = normalize(profile * count + sum(new embeddings)),  count' = count + len(new)
and can always be rebuilt exactly as normalize(mean(embeddings of the deer's valid detections)).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pg8000.native

from deertrack.reid.vectors import DimensionMismatch, normalize, stack

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


@dataclass
class Gallery:
    """Deer ids, sexes, profile matrix (m, d) and profile counts, growable in place."""

    deer_ids: list[int] = field(default_factory=list)
    sexes: list[str] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    dim: int | None = None
    _profiles: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))

    def __len__(self) -> int:
        return len(self.deer_ids)

    @property
    def profiles(self) -> np.ndarray:
        return self._profiles[: len(self.deer_ids)]

    def index_of(self, deer_id: int) -> int | None:
        try:
            return self.deer_ids.index(deer_id)
        except ValueError:
            return None

    def add(self, deer_id: int, sex: str, profile: np.ndarray, count: int) -> int:
        profile = np.asarray(profile, dtype=np.float32).reshape(-1)
        if self.dim is None:
            self.dim = profile.shape[0]
            self._profiles = np.zeros((16, self.dim), dtype=np.float32)
        elif profile.shape[0] != self.dim:
            raise DimensionMismatch(f"deer {deer_id}: profile has {profile.shape[0]} dimensions, gallery {self.dim}")
        m = len(self.deer_ids)
        if m == self._profiles.shape[0]:
            grown = np.zeros((max(16, 2 * m), self.dim), dtype=np.float32)
            grown[:m] = self._profiles[:m]
            self._profiles = grown
        self._profiles[m] = profile
        self.deer_ids.append(int(deer_id))
        self.sexes.append(sex)
        self.counts.append(int(count))
        return m

    def update(self, index: int, embeddings: np.ndarray) -> np.ndarray:
        """Fold new embeddings into deer `index`'s profile (normalized running mean); returns the profile."""
        embeddings = np.atleast_2d(embeddings)
        self._profiles[index] = running_mean(self._profiles[index], self.counts[index], embeddings)
        self.counts[index] += embeddings.shape[0]
        return self._profiles[index]


#: The gallery's deer: those that can be matched and have a profile embedding (parameter :statuses).
_SCORABLE = " FROM deer WHERE profile_embedding IS NOT NULL AND status = ANY(CAST(:statuses AS TEXT[]))"


def count_scorable(con: pg8000.native.Connection) -> int:
    """How many deer `load_gallery` would load."""
    return int(con.run("SELECT count(*)" + _SCORABLE, statuses=list(SCORABLE_STATUSES))[0][0])


def load_gallery(con: pg8000.native.Connection) -> Gallery:
    """Every deer that can be matched and has a profile embedding, oldest first."""
    rows = con.run(
        "SELECT id, sex, profile_embedding, profile_embedding_count" + _SCORABLE + " ORDER BY id",
        statuses=list(SCORABLE_STATUSES),
    )
    profiles = stack([r[2] for r in rows], "deer profile embeddings")
    return Gallery(
        deer_ids=[int(r[0]) for r in rows], sexes=[r[1] for r in rows], counts=[max(int(r[3]), 1) for r in rows],
        dim=profiles.shape[1] if rows else None, _profiles=profiles,
    )
