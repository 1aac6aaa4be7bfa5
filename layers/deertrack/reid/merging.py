"""Which deer are probably one animal: pair scores, the rules a merge must keep, and a greedy merge plan.

Re-identification makes a new deer whenever it is unsure, so one animal can end up as several deer.
Two deer may be merged when

* their sexes are compatible (equal, or either `unknown`),
* they were never seen in the same photo (one animal is never twice in one picture),
* nobody said they are not the same animal,

and their sightings galleries are alike: the pair score is the mean, over both deer's exemplars, of
each exemplar's top-k score against the other deer (the score a detection gets, `exemplars.py`).

`plan` merges greedily, best pair first, re-scoring the merged deer against the rest after each
merge, until no allowed pair reaches the threshold. It is pure: the merge job runs it on the deer
loaded from PostgreSQL, and the evaluation on the deer its in-memory replay made, so both follow
exactly the same rule. The deer with the lower id (the older one) is kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from deertrack.reid import exemplars as exemplar_sets
from deertrack.reid.scoring import UNKNOWN, round_scores, sex_match


@dataclass
class DeerEvidence:
    """What the merge rules need of one deer."""

    deer_id: int
    sex: str
    exemplars: np.ndarray  # (k, d)
    exemplar_ids: list[int]
    images: set[int]
    sightings: int
    profile: np.ndarray | None = None
    #: every deer id this one stands for (itself, and what merged into it during a plan)
    members: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        if not self.members:
            self.members = frozenset({self.deer_id})


@dataclass(frozen=True)
class PairScore:
    kept: int  # lower id
    merged: int
    score: float
    reason: str | None = None  # why it may not be merged, None when it may

    @property
    def allowed(self) -> bool:
        return self.reason is None


@dataclass
class Plan:
    merges: list[PairScore] = field(default_factory=list)
    #: deer id -> the deer it ended up in (only deer that were merged)
    into: dict[int, int] = field(default_factory=dict)


def pair_key(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def pair_score(a: DeerEvidence, b: DeerEvidence, top_k: int = exemplar_sets.DEFAULT_TOP_K) -> float:
    """The mean of every exemplar's top-k score against the other deer, over both deer."""
    if a.exemplars.size == 0 or b.exemplars.size == 0:
        return float("nan")
    ab = exemplar_sets.top_k_scores(a.exemplars, b.exemplars[None], np.array([len(b.exemplars)]), top_k)[:, 0]
    ba = exemplar_sets.top_k_scores(b.exemplars, a.exemplars[None], np.array([len(a.exemplars)]), top_k)[:, 0]
    return float(round_scores(np.concatenate([ab, ba]).mean()))


def refusal(a: DeerEvidence, b: DeerEvidence, rejected: set[tuple[int, int]] = frozenset()) -> str | None:  # type: ignore[assignment]
    """Why deer a and b may not be merged, or None."""
    if a.deer_id == b.deer_id:
        return "a deer cannot be merged with itself"
    if not sex_match(a.sex, b.sex):
        return f"incompatible sex: {a.sex} and {b.sex}"
    shared = a.images & b.images
    if shared:
        return f"seen together in the same photo ({len(shared)} photo(s), e.g. image {min(shared)})"
    if any(pair_key(x, y) in rejected for x in a.members for y in b.members):
        return "a reviewer said they are not the same animal"
    return None


def union(kept: DeerEvidence, merged: DeerEvidence, max_exemplars: int) -> DeerEvidence:
    """The deer `kept` becomes when `merged` joins it."""
    vectors = np.vstack([kept.exemplars, merged.exemplars]) if kept.exemplars.size else merged.exemplars
    ids = [*kept.exemplar_ids, *merged.exemplar_ids]
    exemplars, exemplar_ids = exemplar_sets.select(vectors, ids, max_exemplars)
    profile = None
    if kept.profile is not None and merged.profile is not None:
        total = kept.profile.astype(np.float64) * kept.sightings + merged.profile.astype(np.float64) * merged.sightings
        profile = (total / max(np.linalg.norm(total), 1e-12)).astype(np.float32)
    return DeerEvidence(
        deer_id=kept.deer_id, sex=kept.sex if kept.sex != UNKNOWN else merged.sex, exemplars=exemplars,
        exemplar_ids=exemplar_ids, images=kept.images | merged.images, sightings=kept.sightings + merged.sightings,
        profile=profile, members=kept.members | merged.members,
    )


def candidates(deer: Sequence[DeerEvidence], threshold: float, top_k: int = exemplar_sets.DEFAULT_TOP_K,
               rejected: set[tuple[int, int]] = frozenset()) -> list[PairScore]:  # type: ignore[assignment]
    """Every pair scoring at or above `threshold`, best first, each with the reason it may not merge."""
    out = []
    for i, a in enumerate(deer):
        for b in deer[i + 1:]:
            score = pair_score(a, b, top_k)
            if np.isnan(score) or score < round(threshold, 4):
                continue
            kept, merged = (a, b) if a.deer_id < b.deer_id else (b, a)
            out.append(PairScore(kept.deer_id, merged.deer_id, score, refusal(a, b, rejected)))
    out.sort(key=lambda p: (-p.score, p.kept, p.merged))
    return out


def plan(deer: Iterable[DeerEvidence], threshold: float, *, top_k: int = exemplar_sets.DEFAULT_TOP_K,
         max_exemplars: int = exemplar_sets.DEFAULT_MAX_EXEMPLARS,
         rejected: set[tuple[int, int]] = frozenset()) -> tuple[Plan, dict[int, DeerEvidence]]:  # type: ignore[assignment]
    """Greedy merges at or above `threshold`; returns the plan and the deer as they end up (by id)."""
    current = {d.deer_id: d for d in deer}
    result = Plan()
    cutoff = round(float(threshold), 4)
    #: allowed pairs -> score (refused or below the threshold: absent); refreshed around each merge
    allowed: dict[tuple[int, int], float] = {}

    def consider(a: DeerEvidence, b: DeerEvidence) -> None:
        if refusal(a, b, rejected) is None:
            score = pair_score(a, b, top_k)
            if not np.isnan(score) and score >= cutoff:
                allowed[pair_key(a.deer_id, b.deer_id)] = score

    ids = sorted(current)
    for i, a_id in enumerate(ids):
        for b_id in ids[i + 1:]:
            consider(current[a_id], current[b_id])
    while allowed:
        (kept_id, merged_id), score = min(allowed.items(), key=lambda item: (-item[1], item[0]))
        merged = current.pop(merged_id)
        current[kept_id] = union(current[kept_id], merged, max_exemplars)
        for key in [k for k in allowed if kept_id in k or merged_id in k]:
            del allowed[key]
        for other_id, other in current.items():
            if other_id != kept_id:
                consider(current[kept_id], other)
        result.merges.append(PairScore(kept_id, merged_id, score))
        result.into[merged_id] = kept_id
        for source, target in list(result.into.items()):
            if target == merged_id:
                result.into[source] = kept_id
    return result, current

