"""Threshold analysis of the score log (reid_similarity_scores), valid detections only.

Definitions (each candidate threshold t, scores compared at logged precision):

* best score of a detection: its highest score against a deer it may be matched to (sex_match);
  it is *assigned* at t when that score is >= t (the re-ID rule, per detection).
* assignment rate: assigned detections / detections.
* new deer: burst tracks (a burst_group, or a detection without one) in which no detection is
  assigned at t — each would start a new deer.

Where true identities are known (detection_truth: the demo generator, or a person's review), a
deer stands for the individual most of its detections truly are, and for those detections:

* precision: assignments to a deer of the right individual / assignments.
* recall (= accuracy on known individuals): right assignments / detections whose individual has a
  deer in the gallery.
* accuracy on new individuals: the share of detections that would correctly start a new deer if
  their individual were not in the gallery — leave-individual-out: the best score against deer of
  *other* individuals is < t (and, for individuals with no deer at all, the best score is < t).
* geometric mean of the two accuracies: the open-set measure the recommendation maximises.

Without true identities the recommendation is the threshold that best separates the two modes of
the best-score distribution (Otsu's method), and says so.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pg8000.native
from pydantic import BaseModel, ConfigDict, Field

from deertrack.reid.scoring import round_threshold
from deertrack.settings import get_settings

#: Histogram of pair scores: 100 bins of 0.02 over [-1, 1].
BINS = 100
DEFAULT_THRESHOLDS = tuple(round(0.5 + 0.01 * i, 2) for i in range(50))  # 0.50 … 0.99


class Histogram(BaseModel):
    bin_edges: list[float] = Field(description="BINS + 1 edges over [-1, 1]")
    matched: list[int] = Field(description="pairs with matched = true, per bin")
    unmatched: list[int] = Field(description="pairs with matched = false, per bin")


class ScoreSummary(BaseModel):
    pairs: int
    mean: float | None
    p05: float | None
    p50: float | None
    p95: float | None


class ThresholdRow(BaseModel):
    threshold: float
    assigned: int
    assignment_rate: float
    new_deer: int
    precision: float | None = None
    recall: float | None = None
    known_accuracy: float | None = None
    new_accuracy: float | None = None
    geometric_mean: float | None = None


class AnalysisQuery(BaseModel):
    """GET /api/reid/analysis query parameters."""

    model_config = ConfigDict(extra="forbid")
    threshold: float | None = Field(None, ge=0.0, le=1.0, allow_inf_nan=False,
                                    description="the threshold to compare with (default REID_THRESHOLD)")


class Recommendation(BaseModel):
    threshold: float | None
    basis: str = Field(description="open_set (true identities), otsu (score distribution) or none")
    reason: str


class ThresholdAnalysis(BaseModel):
    generated_at: datetime
    current_threshold: float
    pairs: int
    detections: int
    tracks: int
    deer: int
    detections_with_truth: int
    individuals_with_truth: int
    matched_pairs: ScoreSummary
    unmatched_pairs: ScoreSummary
    best_scores: ScoreSummary
    histogram: Histogram
    thresholds: list[ThresholdRow]
    recommendation: Recommendation

    def row(self, threshold: float) -> ThresholdRow | None:
        for row in self.thresholds:
            if abs(row.threshold - threshold) < 5e-5:
                return row
        return None


# ------------------------------------------------------------------------------------------ data


class DetectionBest:
    """Per valid detection that has score rows: best eligible score and deer, burst track, truth."""

    def __init__(self, rows: list[list], deer_individual: dict[int, str]) -> None:
        n = len(rows)
        self.ids = np.array([r[0] for r in rows], dtype=np.int64)
        _, self.tracks = np.unique(np.array([r[1] for r in rows], dtype=object).astype(str), return_inverse=True)
        self.tracks = self.tracks.reshape(n)
        self.truth = [r[2] for r in rows]
        self.best = np.array([np.nan if r[3] is None else float(r[3]) for r in rows], dtype=np.float64)
        self.best_deer = np.array([-1 if r[4] is None else int(r[4]) for r in rows], dtype=np.int64)
        self.best_other = np.array([np.nan if r[5] is None else float(r[5]) for r in rows], dtype=np.float64)
        self.known = np.array([bool(r[6]) for r in rows], dtype=bool)
        self.has_truth = np.array([t is not None for t in self.truth], dtype=bool)
        self.correct_deer = np.array(
            [t is not None and deer_individual.get(int(d)) == t
             for t, d in zip(self.truth, self.best_deer, strict=True)],
            dtype=bool,
        )

    def __len__(self) -> int:
        return int(self.ids.shape[0])


_DEER_INDIVIDUAL = (
    "SELECT DISTINCT ON (d.deer_id) d.deer_id, t.individual_key"
    " FROM detections d JOIN detection_truth t ON t.detection_id = d.id"
    " WHERE d.deer_id IS NOT NULL AND d.is_valid"
    " GROUP BY d.deer_id, t.individual_key ORDER BY d.deer_id, count(*) DESC, t.individual_key"
)


def load_detection_best(con: pg8000.native.Connection) -> DetectionBest:
    mapping = {int(deer): key for deer, key in con.run(_DEER_INDIVIDUAL)}
    rows = con.run(
        "WITH deer_individual AS (" + _DEER_INDIVIDUAL + ")"
        " SELECT s.detection_id, coalesce(d.burst_group, 'detection-' || d.id), t.individual_key,"
        " max(s.similarity_score) FILTER (WHERE s.sex_match),"
        # the best eligible deer, ties to the lowest deer id; NULL when no deer is eligible
        " (array_agg(s.deer_id ORDER BY s.similarity_score DESC, s.deer_id) FILTER (WHERE s.sex_match))[1],"
        " max(s.similarity_score) FILTER (WHERE s.sex_match AND di.individual_key IS DISTINCT FROM t.individual_key),"
        " coalesce(bool_or(di.individual_key = t.individual_key), false)"
        " FROM reid_similarity_scores s"
        " JOIN detections d ON d.id = s.detection_id AND d.is_valid"
        " LEFT JOIN detection_truth t ON t.detection_id = s.detection_id"
        " LEFT JOIN deer_individual di ON di.deer_id = s.deer_id"
        " GROUP BY s.detection_id, d.burst_group, d.id, t.individual_key ORDER BY s.detection_id"
    )
    return DetectionBest(rows, mapping)


#: Fine bins the pair statistics are computed from (0.001 wide): one scan of the log for everything.
FINE_BINS = 2000


def _fine_summary(counts: np.ndarray, sums: float) -> ScoreSummary:
    total = int(counts.sum())
    if total == 0:
        return ScoreSummary(pairs=0, mean=None, p05=None, p50=None, p95=None)
    centres = -1.0 + (np.arange(FINE_BINS) + 0.5) * (2.0 / FINE_BINS)
    cumulative = np.cumsum(counts)

    def quantile(q: float) -> float:
        return round(float(centres[int(np.searchsorted(cumulative, q * total))]), 3)

    return ScoreSummary(pairs=total, mean=round(sums / total, 4), p05=quantile(0.05), p50=quantile(0.5),
                        p95=quantile(0.95))


def load_pair_statistics(con: pg8000.native.Connection) -> tuple[Histogram, ScoreSummary, ScoreSummary]:
    """Histogram (BINS) and summaries (count, mean, 5/50/95 % to 0.001) of matched and unmatched pairs."""
    rows = con.run(
        "SELECT s.matched, width_bucket(s.similarity_score, -1.0, 1.0, :bins), count(*), sum(s.similarity_score)"
        " FROM reid_similarity_scores s JOIN detections d ON d.id = s.detection_id AND d.is_valid"
        " GROUP BY 1, 2",
        bins=FINE_BINS,
    )
    fine = {True: np.zeros(FINE_BINS, dtype=np.int64), False: np.zeros(FINE_BINS, dtype=np.int64)}
    sums = {True: 0.0, False: 0.0}
    for is_matched, bucket, count, total in rows:
        index = min(max(int(bucket), 1), FINE_BINS) - 1  # 1.0 falls in bucket FINE_BINS + 1: the last bin
        fine[bool(is_matched)][index] += int(count)
        sums[bool(is_matched)] += float(total)
    factor = FINE_BINS // BINS
    edges = [round(-1.0 + 2.0 * i / BINS, 4) for i in range(BINS + 1)]
    histogram = Histogram(
        bin_edges=edges,
        matched=fine[True].reshape(BINS, factor).sum(axis=1).tolist(),
        unmatched=fine[False].reshape(BINS, factor).sum(axis=1).tolist(),
    )
    return histogram, _fine_summary(fine[True], sums[True]), _fine_summary(fine[False], sums[False])


# ------------------------------------------------------------------------------------------ metrics


def _ratio(numerator: int, denominator: int) -> float | None:
    return None if denominator == 0 else round(numerator / denominator, 4)


def sweep(data: DetectionBest, thresholds: list[float]) -> list[ThresholdRow]:
    rows: list[ThresholdRow] = []
    n = len(data)
    tracks = int(data.tracks.max()) + 1 if n else 0
    truth = data.has_truth
    known = truth & data.known
    unknown = truth & ~data.known
    with np.errstate(invalid="ignore"):
        for t in thresholds:
            t = round_threshold(t)
            assigned = data.best >= t  # NaN (no eligible deer) compares False: a new deer
            tracks_assigned = np.zeros(tracks, dtype=bool)
            np.logical_or.at(tracks_assigned, data.tracks, assigned)
            row = ThresholdRow(threshold=t, assigned=int(assigned.sum()), assignment_rate=_ratio(int(assigned.sum()), n)
                               or 0.0, new_deer=int(tracks - tracks_assigned.sum()))
            if truth.any():
                right = assigned & data.correct_deer & truth
                made = assigned & truth
                row.precision = _ratio(int(right.sum()), int(made.sum()))
                row.recall = row.known_accuracy = _ratio(int((right & known).sum()), int(known.sum()))
                # Leave-individual-out: a known individual's detection is correctly new when no other
                # individual's deer reaches t; an individual without a deer needs no deer to reach t.
                new_ok = (known & ~(data.best_other >= t)) | (unknown & ~assigned)
                row.new_accuracy = _ratio(int(new_ok.sum()), int(truth.sum()))
                if row.known_accuracy is not None and row.new_accuracy is not None:
                    row.geometric_mean = round(float(np.sqrt(row.known_accuracy * row.new_accuracy)), 4)
            rows.append(row)
    return rows


def otsu(values: np.ndarray, bins: int = 200) -> float | None:
    """The cut that maximises the between-class variance of `values` (finite ones)."""
    values = values[np.isfinite(values)]
    if values.size < 2 or values.min() == values.max():
        return None
    counts, edges = np.histogram(values, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    weight = np.cumsum(counts)
    total = weight[-1]
    mean = np.cumsum(counts * centres)
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mean[-1] * weight / total - mean) ** 2 / (weight * (total - weight))
    between = np.nan_to_num(between[:-1], nan=-1.0)
    return float(edges[int(np.argmax(between)) + 1])


def recommend(rows: list[ThresholdRow], data: DetectionBest) -> Recommendation:
    scored = [r for r in rows if r.geometric_mean is not None]
    if scored:
        best = max(r.geometric_mean or 0.0 for r in scored)
        plateau = [r for r in scored if (r.geometric_mean or 0.0) >= best - 1e-9]
        pick = plateau[len(plateau) // 2]  # the middle of a plateau: the most margin on both sides
        truth = int(data.has_truth.sum())
        span = (f" (equally good from {plateau[0].threshold:.2f} to {plateau[-1].threshold:.2f}; the middle is taken)"
                if len(plateau) > 1 else "")
        return Recommendation(
            threshold=pick.threshold, basis="open_set",
            reason=(f"{pick.threshold:.2f} maximises the geometric mean ({pick.geometric_mean:.3f}) of the accuracy on "
                    f"known individuals ({pick.known_accuracy:.3f}) and on new individuals ({pick.new_accuracy:.3f}) "
                    f"over the {truth:,} detections whose true identity is known{span}; there, precision is "
                    f"{pick.precision if pick.precision is not None else float('nan'):.3f} and "
                    f"{pick.assignment_rate:.1%} of detections are assigned to a known deer"),
        )
    cut = otsu(data.best)
    if cut is None:
        return Recommendation(threshold=None, basis="none",
                              reason="the score log holds too few scores to suggest a threshold")
    cut = round(cut, 2)
    return Recommendation(
        threshold=cut, basis="otsu",
        reason=(f"no detection has a known true identity, so accuracy cannot be measured; {cut:.2f} best separates "
                "the two modes of the detections' best scores (Otsu's method): sightings of a known deer above, "
                "new individuals below. Review some detections (or load truth) to tune it on accuracy instead."),
    )


def _summary(values: np.ndarray) -> ScoreSummary:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return ScoreSummary(pairs=0, mean=None, p05=None, p50=None, p95=None)
    p05, p50, p95 = np.percentile(values, [5, 50, 95])
    return ScoreSummary(pairs=int(values.size), mean=round(float(values.mean()), 4), p05=round(float(p05), 4),
                        p50=round(float(p50), 4), p95=round(float(p95), 4))


def analyze(con: pg8000.native.Connection, thresholds: list[float] | None = None,
            current_threshold: float | None = None) -> ThresholdAnalysis:
    current = round_threshold(get_settings().reid_threshold if current_threshold is None else current_threshold)
    candidates = sorted({round_threshold(t) for t in (thresholds or DEFAULT_THRESHOLDS)} | {current})
    data = load_detection_best(con)
    rows = sweep(data, candidates)
    histogram, matched, unmatched = load_pair_statistics(con)
    deer = int(con.run("SELECT count(DISTINCT deer_id) FROM reid_similarity_scores")[0][0])
    return ThresholdAnalysis(
        generated_at=datetime.now(UTC), current_threshold=current,
        pairs=matched.pairs + unmatched.pairs, detections=len(data),
        tracks=int(data.tracks.max()) + 1 if len(data) else 0, deer=deer,
        detections_with_truth=int(data.has_truth.sum()),
        individuals_with_truth=len({t for t in data.truth if t is not None}),
        matched_pairs=matched, unmatched_pairs=unmatched, best_scores=_summary(data.best),
        histogram=histogram, thresholds=rows, recommendation=recommend(rows, data),
    )
