"""Bursts: detections of one camera within a few seconds of each other share one assignment.

Images at the same location whose capture times are at most BURST_SECONDS apart (chained: each
image within BURST_SECONDS of the previous one) form a burst. Inside a burst, detections are linked
into tracks, one detection per image per track, so a doe and her fawn photographed together are
never merged: each detection joins the open track (same burst, no detection of its image yet, last
seen at most BURST_SECONDS before, compatible sex) whose last embedding is most similar, or starts
a new track. A track's `burst_group` names it; every detection of a track gets the same deer.

Detections processed earlier (`Linked`) seed the tracks they belong to, so a burst split across
two messages still ends with one assignment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from deertrack.reid.crop_quality import CropGeometry
from deertrack.reid.scoring import UNKNOWN, sex_match

BURST_SECONDS = 5.0


@dataclass(frozen=True)
class Pending:
    """A detection to re-identify, with its embedding."""

    detection_id: int
    image_id: int
    location_id: int
    captured_at: datetime
    classification: str
    embedding: np.ndarray
    geometry: CropGeometry | None = None  # its box among the photo's others (crop_quality.py); None: not measured


@dataclass(frozen=True)
class Linked:
    """A detection re-identified earlier, near enough in time to share a burst."""

    detection_id: int
    image_id: int
    location_id: int
    captured_at: datetime
    classification: str
    embedding: np.ndarray | None
    burst_group: str
    deer_id: int | None


@dataclass
class Track:
    burst_group: str
    members: list[Pending] = field(default_factory=list)
    linked: list[Linked] = field(default_factory=list)
    image_ids: set[int] = field(default_factory=set)
    seen: list[tuple[datetime, np.ndarray | None]] = field(default_factory=list)
    sex: str = UNKNOWN

    @property
    def deer_id(self) -> int | None:
        """The deer an earlier part of this track was given (the latest one that has a deer)."""
        linked = self.linked_to
        return linked.deer_id if linked else None

    @property
    def linked_to(self) -> Linked | None:
        with_deer = [linked for linked in self.linked if linked.deer_id is not None]
        return max(with_deer, key=_sort_key) if with_deer else None

    @property
    def first_seen(self) -> datetime:
        return min(m.captured_at for m in self.members)

    def gap_to(self, captured_at: datetime) -> timedelta:
        return min(abs(captured_at - t) for t, _ in self.seen)

    def embedding_near(self, captured_at: datetime) -> np.ndarray | None:
        """The embedding of the member closest in time that has one."""
        with_embedding = [(abs(captured_at - t), e) for t, e in self.seen if e is not None]
        return min(with_embedding, key=lambda pair: pair[0])[1] if with_embedding else None

    def add(self, item: Pending | Linked) -> None:
        if isinstance(item, Linked):
            self.linked.append(item)
        else:
            self.members.append(item)
        self.image_ids.add(item.image_id)
        self.seen.append((item.captured_at, item.embedding))
        if self.sex == UNKNOWN and item.classification != UNKNOWN:
            self.sex = item.classification


def _sort_key(item: Pending | Linked) -> tuple[datetime, int, int]:
    return item.captured_at, item.image_id, item.detection_id


def form_tracks(pending: Sequence[Pending], linked: Sequence[Linked] = (),
                burst_seconds: float = BURST_SECONDS) -> list[Track]:
    """Tracks holding every pending detection, ordered by their first pending detection's time."""
    gap = timedelta(seconds=burst_seconds)
    by_location: dict[int, list[Pending | Linked]] = {}
    for item in [*pending, *linked]:
        by_location.setdefault(item.location_id, []).append(item)
    tracks: list[Track] = []
    for items in by_location.values():
        items.sort(key=_sort_key)
        burst: list[Pending | Linked] = []
        for item in items:
            if burst and item.captured_at - burst[-1].captured_at > gap:
                tracks.extend(_tracks_of_burst(burst, gap))
                burst = []
            burst.append(item)
        if burst:
            tracks.extend(_tracks_of_burst(burst, gap))
    tracks = [t for t in tracks if t.members]
    tracks.sort(key=lambda t: (t.first_seen, min(m.detection_id for m in t.members)))
    return tracks


def _tracks_of_burst(burst: list[Pending | Linked], gap: timedelta) -> list[Track]:
    """Link one burst's detections into tracks. Earlier-processed detections form their tracks first
    (they may be later in time than pending ones: photos do not always arrive in order)."""
    tracks: list[Track] = []
    by_group: dict[str, Track] = {}
    for item in burst:
        if isinstance(item, Linked):
            track = by_group.get(item.burst_group)
            if track is None:
                track = by_group[item.burst_group] = Track(burst_group=item.burst_group)
                tracks.append(track)
            track.add(item)
    images: dict[int, list[Pending]] = {}
    for item in burst:  # in time order
        if isinstance(item, Pending):
            images.setdefault(item.image_id, []).append(item)
    for image_id, fresh in images.items():
        captured_at = fresh[0].captured_at
        open_tracks = [t for t in tracks if image_id not in t.image_ids and t.gap_to(captured_at) <= gap]
        pairs: list[tuple[float, int, int]] = []
        for i, item in enumerate(fresh):
            for j, track in enumerate(open_tracks):
                if not sex_match(item.classification, track.sex):
                    continue
                near = track.embedding_near(captured_at)
                pairs.append((float(np.dot(item.embedding, near)) if near is not None else -2.0, i, j))
        pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
        placed: dict[int, Track] = {}
        used: set[int] = set()
        for _, i, j in pairs:
            if i in placed or j in used:
                continue
            placed[i] = open_tracks[j]
            used.add(j)
        for i, item in enumerate(fresh):
            track = placed.get(i)
            if track is None:
                track = Track(burst_group=f"burst-{item.detection_id}")
                tracks.append(track)
            track.add(item)
    return tracks
