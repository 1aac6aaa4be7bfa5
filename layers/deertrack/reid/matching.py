"""Re-identify a batch of embedded detections against a gallery, in memory.

Tracks (bursts, see bursts.py) are taken in time order; each is scored against the gallery as it is
at that moment, so a new deer created by an earlier track of the same batch can be matched by a
later one. The caller persists the outcome (assignment.py) or just measures it (evaluation.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from deertrack.reid import scoring
from deertrack.reid.bursts import BURST_SECONDS, Linked, Pending, form_tracks
from deertrack.reid.crop_quality import NEEDS_REVIEW, NO_GATE, CropGate
from deertrack.reid.gallery import Gallery, mean_profile
from deertrack.reid.score_log import ScoreBlock

#: Called to create a deer: (sex, profile, count, first_seen, last_seen) -> new deer id.
NewDeer = Callable[[str, np.ndarray, int, datetime, datetime], int]


@dataclass(frozen=True)
class Assignment:
    detection_id: int
    deer_id: int | None  # None: left for review (crop_quality.NEEDS_REVIEW)
    burst_group: str
    status: str  # 'assigned' | 'new_deer' | 'needs_review'
    note: str
    best_score: float | None


@dataclass
class DeerChange:
    """What a batch adds to one deer (new or known): sightings and the span they cover."""

    deer_id: int
    added: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    created: bool = False

    def see(self, times: Sequence[datetime]) -> None:
        self.added += len(times)
        lo, hi = min(times), max(times)
        self.first_seen = lo if self.first_seen is None else min(self.first_seen, lo)
        self.last_seen = hi if self.last_seen is None else max(self.last_seen, hi)


@dataclass
class BatchOutcome:
    assignments: list[Assignment] = field(default_factory=list)
    deer: dict[int, DeerChange] = field(default_factory=dict)
    blocks: list[ScoreBlock] = field(default_factory=list)

    def score_block(self, threshold: float) -> ScoreBlock:
        return scoring.concat_blocks(self.blocks, threshold)

    @property
    def score_rows(self) -> int:
        return sum(len(b) for b in self.blocks)


def match_batch(
    pending: Sequence[Pending], gallery: Gallery, threshold: float, new_deer: NewDeer,
    linked: Sequence[Linked] = (), burst_seconds: float = BURST_SECONDS, log_scores: bool = True,
    gate: CropGate = NO_GATE,
) -> BatchOutcome:
    """Assign every pending detection; updates `gallery` in place (profiles, new deer).

    A track that matches no deer founds a new one, unless most of its crops are too poor for that
    (`gate`, crop_quality.py): then its detections are left `needs_review`, with no deer."""
    outcome = BatchOutcome()
    for track in form_tracks(pending, linked, burst_seconds):
        members = track.members
        ids = [m.detection_id for m in members]
        classes = [m.classification for m in members]
        embeddings = np.stack([m.embedding for m in members]).astype(np.float32)
        scores = gallery.similarity(embeddings)
        eligible = scoring.sex_match_matrix(classes, gallery.sexes)
        m = len(gallery)
        inherited = track.deer_id
        index = gallery.index_of(inherited) if inherited is not None else None
        best: float | None = None
        if index is not None:
            linked_to = track.linked_to
            status = "assigned"
            note = f"{track.burst_group}: same burst as detection {linked_to.detection_id if linked_to else '?'}"
            best = float(scoring.round_scores(scores[:, index].mean())) if m else None
        else:
            decision = scoring.decide(scores, eligible, threshold)
            best = decision.score
            if decision.matched:
                index = decision.index
                status = "assigned"
                note = f"score {decision.score:.4f} >= threshold {scoring.round_threshold(threshold):.4f}"
            else:
                poor = [r for r in (gate.reason(mm.geometry) for mm in members) if r is not None]
                status = NEEDS_REVIEW if 2 * len(poor) > len(members) else "new_deer"
                note = (
                    "no deer in the gallery" if m == 0 else
                    f"no eligible deer of sex {scoring.consensus_sex(classes)}" if decision.index is None else
                    f"best score {decision.score:.4f} < threshold {scoring.round_threshold(threshold):.4f}"
                )
                if status == NEEDS_REVIEW:
                    note += f"; crop too poor to found a new deer: {poor[0]}"
        times = [mm.captured_at for mm in members]
        deer_id: int | None = None
        assigned_column = -1
        if status == "assigned" and index is not None:
            deer_id = gallery.deer_ids[index]
            gallery.update(index, embeddings, ids)
            assigned_column = index
        elif status == "new_deer":
            sex = scoring.consensus_sex(classes)
            profile = mean_profile(embeddings)
            deer_id = new_deer(sex, profile, len(members), min(times), max(times))
            gallery.add(deer_id, sex, profile, len(members), embeddings, ids)
        if deer_id is not None:
            change = outcome.deer.get(deer_id)
            if change is None:
                change = outcome.deer[deer_id] = DeerChange(deer_id, created=status == "new_deer")
            change.see(times)
        if len(members) > 1:
            note += f"; burst of {len(members)}"
        for member in members:
            outcome.assignments.append(Assignment(member.detection_id, deer_id, track.burst_group, status, note, best))
        if log_scores and m:
            matched = scoring.matched_mask(len(members), m, np.full(len(members), assigned_column))
            outcome.blocks.append(ScoreBlock.from_matrix(
                ids, gallery.deer_ids[:m], scores, matched, eligible, classes, gallery.sexes[:m],
                scoring.round_threshold(threshold),
            ))
    return outcome
