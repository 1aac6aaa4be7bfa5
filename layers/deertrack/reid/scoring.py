"""Re-ID scoring maths, pure functions: cosine similarity as one matrix product, sex eligibility,
the threshold rule and the assignment decision. Shared by the worker, the evaluation and the backfill.

Decision rule (one place): scores are compared at the precision they are logged with
(`NUMERIC(5,4)`: rounded to 4 decimal places), against the threshold rounded the same way, so a
logged score equal to the logged `threshold_used` is a match, and re-deciding from the score log
always gives the same answer as the worker gave.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from deertrack.classifications import CLASSIFICATIONS
from deertrack.reid.score_log import ScoreBlock
from deertrack.reid.vectors import DimensionMismatch

SEXES = CLASSIFICATIONS
UNKNOWN = "unknown"
#: Decimal places of similarity_score / threshold_used in the score log.
SCORE_DECIMALS = 4

_SEX_CODE = {sex: code for code, sex in enumerate(SEXES)}
_UNKNOWN_CODE = _SEX_CODE[UNKNOWN]


def sex_match(classification: str, deer_sex: str) -> bool:
    """buck↔buck, doe↔doe, fawn↔fawn; 'unknown' on either side matches anything."""
    return UNKNOWN in (classification, deer_sex) or classification == deer_sex


def sex_codes(values: Sequence[str]) -> np.ndarray:
    try:
        return np.fromiter((_SEX_CODE[v] for v in values), dtype=np.int8, count=len(values))
    except KeyError as exc:
        raise ValueError(f"unknown sex/classification {exc.args[0]!r}; expected one of {SEXES}") from None


def sex_match_matrix(classifications: Sequence[str], deer_sexes: Sequence[str]) -> np.ndarray:
    """(n, m) bool: whether detection i may be matched to deer j (sex_match for every pair)."""
    det = sex_codes(classifications)[:, None]
    deer = sex_codes(deer_sexes)[None, :]
    return (det == _UNKNOWN_CODE) | (deer == _UNKNOWN_CODE) | (det == deer)


def similarity(embeddings: np.ndarray, profiles: np.ndarray) -> np.ndarray:
    """Cosine similarity of L2-normalized rows: (n, d) x (m, d) -> (n, m), one matrix product."""
    embeddings = np.asarray(embeddings, dtype=np.float32)
    profiles = np.asarray(profiles, dtype=np.float32)
    n, m = embeddings.shape[0], profiles.shape[0]
    if m == 0 or n == 0:
        return np.zeros((n, m), dtype=np.float32)
    if embeddings.shape[1] != profiles.shape[1]:
        raise DimensionMismatch(
            f"detection embeddings have {embeddings.shape[1]} dimensions but deer profiles have "
            f"{profiles.shape[1]}; re-embed with `deertrack reid embed --all` after changing the model"
        )
    return np.clip(embeddings @ profiles.T, -1.0, 1.0)


def round_scores(scores: np.ndarray | float) -> np.ndarray:
    """Scores at the precision they are logged with (float64, 4 decimal places)."""
    return np.round(np.asarray(scores, dtype=np.float64), SCORE_DECIMALS)


def round_threshold(threshold: float) -> float:
    return float(np.round(float(threshold), SCORE_DECIMALS))


def is_match(score: np.ndarray | float, threshold: float) -> np.ndarray:
    """score >= threshold at logged precision (a score exactly at the threshold matches): the one
    threshold rule, used by every decision below."""
    return round_scores(score) >= round_threshold(threshold)


@dataclass(frozen=True)
class Decision:
    """Outcome of scoring one detection (or one burst) against the gallery."""

    index: int | None  # gallery column of the best eligible deer, None when none is eligible
    score: float | None  # its score (rounded to logged precision)
    matched: bool  # score >= threshold: assign index; otherwise a new deer

    @property
    def assigned_index(self) -> int | None:
        return self.index if self.matched else None


def best_eligible(scores: np.ndarray, eligible: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: (index of the best eligible column, its rounded score, whether any column is eligible).

    Ties at logged precision go to the higher raw score, then to the lower column (the older deer).
    Rows without an eligible column get index -1 and score NaN.
    """
    n, m = scores.shape
    if m == 0:
        return np.full(n, -1, dtype=np.int64), np.full(n, np.nan), np.zeros(n, dtype=bool)
    masked = np.where(eligible, np.asarray(scores, dtype=np.float64), -np.inf)
    index = np.argmax(masked, axis=1)  # argmax keeps the first of equal raw values
    any_eligible = eligible.any(axis=1)
    best = np.where(any_eligible, round_scores(masked[np.arange(n), index]), np.nan)
    return np.where(any_eligible, index, -1).astype(np.int64), best, any_eligible


def decide_each(scores: np.ndarray, eligible: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Vectorized per-detection decision: (assigned column or -1, best eligible rounded score or NaN)."""
    index, best, any_eligible = best_eligible(scores, eligible)
    with np.errstate(invalid="ignore"):
        matched = any_eligible & is_match(best, threshold)
    return np.where(matched, index, -1), best


def decide(scores: np.ndarray, eligible: np.ndarray, threshold: float) -> Decision:
    """One decision for a group of detections seen together (a burst track), shape (k, m).

    The group's score for a deer is the mean of its members' scores; a deer is eligible when it is
    eligible for every member. With k == 1 this is the plain per-detection rule.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim == 1:
        scores, eligible = scores[None, :], np.asarray(eligible)[None, :]
    group_scores = scores.mean(axis=0, keepdims=True)
    group_eligible = np.asarray(eligible, dtype=bool).all(axis=0, keepdims=True)
    index, best, any_eligible = best_eligible(group_scores, group_eligible)
    if not any_eligible[0]:
        return Decision(None, None, False)
    score = float(best[0])
    return Decision(int(index[0]), score, bool(is_match(score, threshold)))


def decide_groups(scores: np.ndarray, eligible: np.ndarray, groups: np.ndarray,
                  threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """`decide` for many groups at once (the backfill's whole-gallery variant), vectorized.

    scores / eligible: (n, m); groups: (n,) int codes, rows with the same code form one group (a
    burst track). Returns per row: (assigned column or -1, its group's best eligible rounded score or
    NaN), exactly as `decide` on each group's rows would.
    """
    scores = np.asarray(scores, dtype=np.float64)
    eligible = np.asarray(eligible, dtype=bool)
    n, m = scores.shape
    groups = np.asarray(groups, dtype=np.int64).reshape(n)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    _, codes = np.unique(groups, return_inverse=True)
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    sizes = np.diff(np.r_[starts, n])
    if m == 0:
        return np.full(n, -1, dtype=np.int64), np.full(n, np.nan)
    group_scores = np.add.reduceat(scores[order], starts, axis=0) / sizes[:, None]
    group_eligible = np.logical_and.reduceat(eligible[order], starts, axis=0)
    assigned, best = decide_each(group_scores, group_eligible, threshold)
    return assigned[codes], best[codes]


def matched_mask(n: int, m: int, assigned: np.ndarray) -> np.ndarray:
    """(n, m) bool, True where column == assigned[i] (assigned -1: no column matched)."""
    assigned = np.asarray(assigned, dtype=np.int64).reshape(n)
    return (np.arange(m)[None, :] == assigned[:, None]) & (assigned[:, None] >= 0)


def concat_blocks(blocks: Sequence[ScoreBlock], threshold: float) -> ScoreBlock:
    """Many blocks (same threshold) as one, for a single COPY."""
    blocks = [b for b in blocks if len(b)]
    if not blocks:
        empty_i = np.zeros(0, dtype=np.int64)
        return ScoreBlock(empty_i, empty_i, np.zeros(0), np.zeros(0, bool), np.zeros(0, bool), [], [],
                          round_threshold(threshold))
    return ScoreBlock(
        detection_ids=np.concatenate([b.detection_ids for b in blocks]),
        deer_ids=np.concatenate([b.deer_ids for b in blocks]),
        scores=np.concatenate([np.asarray(b.scores, dtype=np.float64) for b in blocks]),
        matched=np.concatenate([b.matched for b in blocks]),
        sex_match=np.concatenate([b.sex_match for b in blocks]),
        detection_classifications=[c for b in blocks for c in b.detection_classifications],
        deer_sexes=[s for b in blocks for s in b.deer_sexes],
        threshold=round_threshold(threshold),
    )


def consensus_sex(classifications: Sequence[str]) -> str:
    """The sex of a new deer made from these detections: the most common known class, else unknown."""
    known = [c for c in classifications if c != UNKNOWN]
    if not known:
        return UNKNOWN
    counts = {sex: known.count(sex) for sex in SEXES if sex != UNKNOWN}
    best = max(counts.values())
    winners = [sex for sex, count in counts.items() if count == best]
    return winners[0] if len(winners) == 1 else UNKNOWN
