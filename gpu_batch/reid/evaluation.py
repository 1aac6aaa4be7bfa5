"""Open-set evaluation of re-identification on detections whose true individual is known.

Re-ID is replayed in time order from an empty gallery, in memory (the stored assignments, deer and
score log are not touched), with exactly the worker's rules (matching.match_batch: bursts, sex
eligibility, threshold, running-mean profiles, the crop gate). Then, per detection, in time order:

* a *new* detection is the first sighting of its individual: correct when it was not matched to a
  known deer (it created a new deer, or matched none and was left for review: the open-set answer
  "not one of the known individuals");
* a *known* detection is of an individual seen before: correct when it went to that individual's
  deer — the deer created at its first sighting, or, when that sighting was wrongly matched to
  another animal's deer or left for review, the deer holding most of the individual's detections
  among those it dominates. Left for review, it is wrong;
* top-1 accuracy counts every detection correct when it went to its individual's deer (so a first
  sighting counts when it created that deer).

Also given, more lenient: known detections assigned to any deer whose detections are mostly
(plurality) of their individual. The summary figure is the geometric mean of the known and new
accuracies. Chance, for comparison: a known detection given a random deer among those existing at
the time.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pg8000.native

from deertrack.db import rows_as_dicts
from deertrack.reid import merging
from deertrack.reid.bursts import Pending
from deertrack.reid.crop_quality import NO_GATE, CropGate, load_geometries
from deertrack.reid.gallery import Gallery, empty_gallery
from deertrack.reid.matching import match_batch
from gpu_batch.reid.embedder import Embedder
from gpu_batch.reid.pipeline import detection_columns, embed_rows


@dataclass(frozen=True)
class Labelled:
    detection: Pending
    individual: str


@dataclass(frozen=True)
class Evaluation:
    threshold: float
    detections: int
    individuals: int
    deer: int  # deer at the end (after merges)
    deer_created: int  # deer re-identification created
    top1: float
    known_accuracy: float
    new_accuracy: float
    known: int
    new: int
    chance_known: float
    known_accuracy_dominated: float
    merges: int = 0
    left_for_review: int = 0  # detections no deer matched whose crop was too poor to found one

    @property
    def geometric_mean(self) -> float:
        return math.sqrt(self.known_accuracy * self.new_accuracy)

    def as_dict(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "detections": self.detections, "individuals": self.individuals,
                "deer": self.deer, "deer_created": self.deer_created, "top1_accuracy": self.top1,
                "known_accuracy": self.known_accuracy, "new_accuracy": self.new_accuracy,
                "geometric_mean": self.geometric_mean, "known_detections": self.known, "new_detections": self.new,
                "chance_known_accuracy": self.chance_known,
                "known_accuracy_dominated": self.known_accuracy_dominated, "merges": self.merges,
                "left_for_review": self.left_for_review}


def load_labelled(con: pg8000.native.Connection, embedder: Embedder) -> tuple[list[Labelled], int, int]:
    """Valid detections with a known individual, embedded (stored embeddings of this model are reused,
    missing ones computed in memory). Returns (labelled, embedded now, not embeddable)."""
    rows = rows_as_dicts(
        con, f"SELECT {detection_columns()}, t.individual_key FROM detections d JOIN images i ON i.id = d.image_id"
             " JOIN detection_truth t ON t.detection_id = d.id WHERE d.is_valid ORDER BY i.captured_at, d.id",
    )
    have = sum(1 for r in rows if r["embedding"] is not None and r["embedding_model"] == embedder.name)
    embeddings, skipped, failed = embed_rows(rows, embedder, reuse=True)
    geometry = load_geometries(con, [r["id"] for r in rows if r["id"] in embeddings])
    labelled = [
        Labelled(Pending(r["id"], r["image_id"], r["location_id"], r["captured_at"], r["classification"],
                         embeddings[r["id"]], geometry.get(r["id"])), r["individual_key"])
        for r in rows if r["id"] in embeddings
    ]
    return labelled, len(embeddings) - have, len(skipped) + len(failed)


@dataclass(frozen=True)
class Replay:
    deer_of: dict[int, int | None]  # detection -> deer, after merges (None: left for review)
    merges: int
    created: int  # deer re-identification created (before merges)


@dataclass
class Assigned:
    """The in-memory replay's assignment, before merges: the gallery it grew and who went where."""

    gallery: Gallery
    deer_of: dict[int, int | None]  # None: left for review (crop_quality.py)
    created: int


def assign(labelled: Sequence[Labelled], threshold: float, gate: CropGate = NO_GATE) -> Assigned:
    """Re-ID in time order from an empty gallery, with the worker's rules (matching.match_batch)."""
    counter = [0]

    def new_deer(sex: str, profile: np.ndarray, count: int, first: datetime, last: datetime) -> int:
        counter[0] += 1
        return counter[0]

    gallery = empty_gallery()
    outcome = match_batch([item.detection for item in labelled], gallery, threshold, new_deer, log_scores=False,
                          gate=gate)
    return Assigned(gallery, {a.detection_id: a.deer_id for a in outcome.assignments}, counter[0])


def evidence_of(labelled: Sequence[Labelled], assigned: Assigned) -> list[merging.DeerEvidence]:
    """The merge rules' view of the replay's deer (what merges.load_evidence reads from PostgreSQL)."""
    gallery = assigned.gallery
    image_of = {item.detection.detection_id: item.detection.image_id for item in labelled}
    images: dict[int, set[int]] = {}
    for detection_id, deer_id in assigned.deer_of.items():
        if deer_id is not None:
            images.setdefault(deer_id, set()).add(image_of[detection_id])
    return [
        merging.DeerEvidence(deer_id=deer_id, sex=gallery.sexes[i], exemplars=gallery.exemplars(i).copy(),
                             exemplar_ids=list(gallery.exemplar_ids[i]), images=images.get(deer_id, set()),
                             sightings=gallery.counts[i], profile=gallery.profiles[i].copy())
        for i, deer_id in enumerate(gallery.deer_ids)
    ]


def merged(labelled: Sequence[Labelled], assigned: Assigned, merge_threshold: float | None) -> Replay:
    """The merge job's automatic merges applied to a replay (none when merge_threshold is None)."""
    if merge_threshold is None:
        return Replay(dict(assigned.deer_of), 0, assigned.created)
    plan, _ = merging.plan(evidence_of(labelled, assigned), merge_threshold, top_k=assigned.gallery.top_k,
                           max_exemplars=assigned.gallery.max_exemplars)
    return Replay({d: None if deer is None else plan.into.get(deer, deer) for d, deer in assigned.deer_of.items()},
                  len(plan.merges), assigned.created)


def replay(labelled: Sequence[Labelled], threshold: float, merge_threshold: float | None = None,
           gate: CropGate = NO_GATE) -> Replay:
    """Re-ID in time order from an empty gallery, then (merge_threshold given) the merge job's
    automatic merges, exactly as production runs them (matching.match_batch, then merging.plan)."""
    return merged(labelled, assign(labelled, threshold, gate), merge_threshold)


def score(labelled: Sequence[Labelled], deer_of: Mapping[int, int | None], threshold: float, merges: int = 0,
          created: int | None = None) -> Evaluation:
    """Open-set figures of a final assignment (after merges). A detection was taken for a new
    individual when it is the earliest detection of its deer; a detection left for review (deer None:
    no deer matched and its crop too poor to found one) was taken for no known deer, which is right
    for a first sighting and wrong for any later one."""
    ordered = sorted(labelled, key=lambda item: (item.detection.captured_at, item.detection.detection_id))
    truth = {item.detection.detection_id: item.individual for item in ordered}
    members: dict[int, Counter[str]] = {}
    earliest: dict[int, int] = {}
    for item in ordered:
        d = item.detection.detection_id
        deer = deer_of[d]
        if deer is not None:
            members.setdefault(deer, Counter())[truth[d]] += 1
            earliest.setdefault(deer, d)
    status = {d: "review" if deer is None else "new_deer" if earliest[deer] == d else "assigned"
              for d, deer in deer_of.items()}
    dominant = {deer: counts.most_common(1)[0][0] for deer, counts in members.items()}

    first_deer: dict[str, int | None] = {}
    for item in ordered:
        d = item.detection.detection_id
        if item.individual not in first_deer:
            first_deer[item.individual] = deer_of[d] if status[d] == "new_deer" else None
    for individual, deer in first_deer.items():
        if deer is None:  # the first sighting joined another animal's deer or was left for review:
            own = [(counts[individual], deer_id) for deer_id, counts in members.items()  # its best own cluster
                   if dominant[deer_id] == individual]
            first_deer[individual] = max(own)[1] if own else None

    seen: set[str] = set()
    known_total = known_correct = known_dominated = new_total = new_correct = top1 = review = 0
    chance = 0.0
    created_before = 0
    created_ids: set[int] = set()
    for item in ordered:
        d = item.detection.detection_id
        deer = deer_of[d]
        right = deer is not None and deer == first_deer[item.individual]
        top1 += right
        review += deer is None
        if item.individual in seen:
            known_total += 1
            known_correct += right
            known_dominated += deer is not None and dominant[deer] == item.individual
            chance += 1.0 / max(created_before, 1)
        else:
            seen.add(item.individual)
            new_total += 1
            new_correct += status[d] in ("new_deer", "review")
        if deer is not None and deer not in created_ids:
            created_ids.add(deer)
            created_before += 1
    n = len(ordered)
    return Evaluation(
        threshold=threshold, detections=n, individuals=len(seen), deer=len(members),
        deer_created=len(members) + merges if created is None else created,
        top1=top1 / n if n else 0.0,
        known_accuracy=known_correct / known_total if known_total else 0.0,
        new_accuracy=new_correct / new_total if new_total else 0.0,
        known=known_total, new=new_total, chance_known=chance / known_total if known_total else 0.0,
        known_accuracy_dominated=known_dominated / known_total if known_total else 0.0, merges=merges,
        left_for_review=review,
    )


def evaluate(labelled: Sequence[Labelled], threshold: float, merge_threshold: float | None = None,
             gate: CropGate = NO_GATE) -> Evaluation:
    result = replay(labelled, threshold, merge_threshold, gate)
    return score(labelled, result.deer_of, threshold, result.merges, result.created)


def sweep(labelled: Sequence[Labelled], thresholds: Sequence[float],
          merge_threshold: float | None = None, gate: CropGate = NO_GATE) -> list[Evaluation]:
    return [evaluate(labelled, t, merge_threshold, gate) for t in thresholds]
