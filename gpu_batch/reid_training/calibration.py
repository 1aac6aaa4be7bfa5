"""Calibration: the thresholds, chosen by replaying re-identification on calibration individuals.

The calibration individuals are used neither to train the network nor to evaluate it. For each of
their populations the production pipeline is replayed from an empty gallery (evaluation.assign,
then the merge job's rule, evaluation.merged), over a grid of re-ID thresholds and auto-merge
thresholds. Among the settings whose mean open-set geometric mean is within 0.02 of the best, the
one whose deer count is nearest the true number of individuals wins (split animals are what a
reviewer has to merge by hand). The crop gate (deertrack/reid/crop_quality.py: which crops are too
poor to found a new deer) is then chosen by the same rule over a grid of overlap and edge limits,
at those thresholds. The merge-suggestion threshold is the lowest pair score at which at least half of
the suggested pairs are truly one animal. Scores also get a probability of "same individual" by
isotonic regression (pool-adjacent-violators) on cosines of detection pairs from different
sightings, as wildlife-tools calibrates similarity.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from deertrack.reid import merging
from deertrack.reid.crop_quality import CropGate
from gpu_batch.reid import evaluation
from gpu_batch.reid_training.crops import LabelledCrops

REID_GRID = tuple(round(0.35 + 0.05 * i, 2) for i in range(11))
#: Settings within this much of the best geometric mean count as equally accurate; among them the one
#: that splits animals least (deer count nearest the true number of individuals) is chosen.
ACCURACY_TOLERANCE = 0.02
#: Merge thresholds are replayed at the re-ID thresholds within this much of the best geometric mean.
MERGE_SEARCH = 0.05
MERGE_GRID = tuple(round(0.55 + 0.05 * i, 2) for i in range(7))
#: Crop gates tried: overlap limits (1.0: off) x edge margins (0.0: off).
OVERLAP_GRID = (0.2, 0.3, 0.4, 0.5, 1.0)
EDGE_GRID = (0.0, 0.01, 0.02, 0.03)


@dataclass
class Calibration:
    reid_threshold: float
    merge_auto_threshold: float
    merge_suggest_threshold: float
    auto_merge: bool
    crop_max_overlap: float
    crop_edge_margin: float
    populations: list[str]
    individuals: int
    detections: int
    figures: dict[str, Any] = field(default_factory=dict)  # per population, at the chosen thresholds
    sweep: list[dict[str, Any]] = field(default_factory=list)
    probability: list[list[float]] = field(default_factory=list)  # [score, P(same individual)] knots

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def gate(self) -> CropGate:
        return CropGate(self.crop_max_overlap, self.crop_edge_margin)

    def summary(self) -> str:
        """One line for a person: the thresholds and the crop gate."""
        return (f"thresholds: re-ID {self.reid_threshold:.2f}, merge suggestion {self.merge_suggest_threshold:.3f}, "
                f"auto-merge {self.merge_auto_threshold:.3f} ({'on' if self.auto_merge else 'off'}); crop gate: "
                f"{'off' if self.gate.off else f'more than {self.crop_max_overlap:.0%} covered or within '}"
                f"{'' if self.gate.off else f'{self.crop_edge_margin:.0%} of the edge founds no deer'}")

    def thresholds(self) -> dict[str, Any]:
        """The model card's `thresholds` (deertrack/reid/model_card.py reads them)."""
        return {"reid_threshold": self.reid_threshold, "merge_suggest_threshold": self.merge_suggest_threshold,
                "merge_auto_threshold": self.merge_auto_threshold, "auto_merge": self.auto_merge,
                "crop_max_overlap": self.crop_max_overlap, "crop_edge_margin": self.crop_edge_margin,
                "chosen_on": "calibration individuals only (see data.calibration)"}


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else 0.0


def _pair_precision(labelled: list[evaluation.Labelled], assigned: evaluation.Assigned,
                    auto_threshold: float | None) -> list[tuple[float, bool]]:
    """(score, truly one animal) for every allowed deer pair left after the automatic merges."""
    replay = evaluation.merged(labelled, assigned, auto_threshold)
    truth = {item.detection.detection_id: item.individual for item in labelled}
    members: dict[int, Counter[str]] = {}
    for detection_id, deer in replay.deer_of.items():
        members.setdefault(deer, Counter())[truth[detection_id]] += 1
    dominant = {deer: counts.most_common(1)[0][0] for deer, counts in members.items()}
    evidence = evaluation.evidence_of(labelled, assigned)
    if auto_threshold is not None:
        plan, final = merging.plan(evidence, auto_threshold, top_k=assigned.gallery.top_k,
                                   max_exemplars=assigned.gallery.max_exemplars)
        evidence = list(final.values())
    pairs = merging.candidates(evidence, 0.0, top_k=assigned.gallery.top_k)
    return [(p.score, dominant.get(p.kept) == dominant.get(p.merged)) for p in pairs if p.allowed]


def suggestion_threshold(pairs: list[tuple[float, bool]], auto_threshold: float, floor: float = 0.3) -> float:
    """The lowest score at which at least half of the pairs scoring that much or more are one animal."""
    ranked = sorted(pairs, key=lambda p: -p[0])
    best = auto_threshold
    same = 0
    for count, (score, is_same) in enumerate(ranked, start=1):
        same += is_same
        if score < floor:
            break
        if same / count >= 0.5:
            best = min(best, score)
    return round(float(best), 4)


def isotonic(scores: np.ndarray, same: np.ndarray, bins: int = 40) -> list[list[float]]:
    """P(same | score) as increasing knots, by pool-adjacent-violators over score bins."""
    if len(scores) == 0:
        return []
    edges = np.quantile(scores, np.linspace(0, 1, bins + 1))
    which = np.clip(np.searchsorted(edges, scores, side="right") - 1, 0, bins - 1)
    blocks = []  # [mean score, positives, count]
    for b in range(bins):
        mask = which == b
        if mask.any():
            blocks.append([float(scores[mask].mean()), float(same[mask].sum()), float(mask.sum())])
    merged_blocks: list[list[float]] = []
    for block in blocks:
        merged_blocks.append(block)
        while len(merged_blocks) > 1 and merged_blocks[-2][1] / merged_blocks[-2][2] > \
                merged_blocks[-1][1] / merged_blocks[-1][2]:
            b2, b1 = merged_blocks.pop(), merged_blocks.pop()
            count = b1[2] + b2[2]
            merged_blocks.append([(b1[0] * b1[2] + b2[0] * b2[2]) / count, b1[1] + b2[1], count])
    return [[round(s, 4), round(p / c, 4)] for s, p, c in merged_blocks]


def _pair_sample(data: LabelledCrops, embeddings: np.ndarray, limit: int = 400_000,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = len(data)
    i, j = rng.integers(0, n, limit), rng.integers(0, n, limit)
    populations = np.array(data.populations)
    keep = (i != j) & (populations[i] == populations[j])
    # different sightings only: a burst's frames are near-duplicates
    times = np.array([t.timestamp() for t in data.captured_at])
    keep &= (data.location_ids[i] != data.location_ids[j]) | (np.abs(times[i] - times[j]) > 60)
    i, j = i[keep], j[keep]
    individuals = np.array(data.individuals)
    scores = np.einsum("nd,nd->n", embeddings[i], embeddings[j])
    return scores, individuals[i] == individuals[j]


def calibrate(data: LabelledCrops, embeddings: np.ndarray, reid_grid: tuple[float, ...] = REID_GRID,
              merge_grid: tuple[float, ...] = MERGE_GRID, progress: Any = None) -> Calibration:
    """Choose the thresholds on `data` (calibration individuals only), embedded by the trained model."""
    populations = data.by_population()
    rows_of = {name: [i for i, p in enumerate(data.populations) if p == name] for name in populations}
    labelled = {name: crops.labelled(embeddings[rows_of[name]]) for name, crops in populations.items()}
    individuals = {name: len(crops.individual_keys) for name, crops in populations.items()}

    def figures(replay: evaluation.Replay, name: str, threshold: float) -> evaluation.Evaluation:
        return evaluation.score(labelled[name], replay.deer_of, threshold, replay.merges, replay.created)

    sweep: list[dict[str, Any]] = []
    assigned: dict[float, dict[str, evaluation.Assigned]] = {}

    def assign_all(threshold: float) -> float:
        assigned[threshold] = {name: evaluation.assign(labelled[name], threshold) for name in populations}
        results = [figures(evaluation.merged(labelled[n], assigned[threshold][n], None), n, threshold)
                   for n in populations]
        gm = _mean([r.geometric_mean for r in results])
        sweep.append({"reid_threshold": threshold, "merge_threshold": None, "geometric_mean": round(gm, 4),
                      "deer_off": round(_mean([abs(r.deer - r.individuals) for r in results]), 1)})
        if progress:
            progress(f"re-ID threshold {threshold:.2f}: geometric mean {gm:.3f}")
        return gm

    coarse = {t: assign_all(t) for t in reid_grid}
    best_t = max(coarse, key=lambda t: coarse[t])
    for t in (best_t - 0.02, best_t + 0.02, best_t + 0.04, best_t + 0.06):
        t = round(t, 2)
        if t not in assigned and 0 < t < 1:
            assign_all(t)
    options: list[tuple[float, float, float | None]] = []  # (score, -deer_off, threshold, merge)
    for entry in sweep:
        options.append((entry["geometric_mean"], -entry["deer_off"], entry["reid_threshold"], None))
    best_plain = max(e["geometric_mean"] for e in sweep)
    near = sorted({e["reid_threshold"] for e in sweep if e["geometric_mean"] >= best_plain - MERGE_SEARCH})
    for t in near:
        for m in merge_grid:
            results = [figures(evaluation.merged(labelled[n], assigned[t][n], m), n, t) for n in populations]
            gm = _mean([r.geometric_mean for r in results])
            off = _mean([abs(r.deer - r.individuals) for r in results])
            sweep.append({"reid_threshold": t, "merge_threshold": m, "geometric_mean": round(gm, 4),
                          "deer_off": round(off, 1)})
            options.append((round(gm, 4), -round(off, 1), t, m))
        if progress:
            progress(f"re-ID threshold {t:.2f} with merges: best geometric mean "
                     f"{max(o[0] for o in options if o[2] == t):.3f}")
    # as accurate as the best (within ACCURACY_TOLERANCE), and of those the one that splits animals least
    top = max(o[0] for o in options)
    score, _, threshold, merge = max((o for o in options if o[0] >= top - ACCURACY_TOLERANCE),
                                     key=lambda o: (o[1], o[0]))
    auto = merge is not None
    auto_threshold = merge if merge is not None else max(merge_grid)
    gate, gated = _choose_gate(labelled, populations, threshold, merge, sweep, progress)
    assigned_at = {n: gated[n] for n in populations}
    pairs = [p for n in populations for p in _pair_precision(labelled[n], assigned_at[n], merge)]
    suggest = suggestion_threshold(pairs, auto_threshold)
    chosen = {}
    for n in populations:
        e = figures(evaluation.merged(labelled[n], assigned_at[n], merge), n, threshold)
        chosen[n] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in e.as_dict().items()}
    pair_scores, same = _pair_sample(data, embeddings)
    return Calibration(
        reid_threshold=float(threshold), merge_auto_threshold=float(auto_threshold),
        merge_suggest_threshold=float(min(suggest, auto_threshold)), auto_merge=auto,
        crop_max_overlap=gate.max_overlap, crop_edge_margin=gate.edge_margin,
        populations=sorted(populations), individuals=sum(individuals.values()), detections=len(data),
        figures=chosen, sweep=sweep, probability=isotonic(pair_scores, same.astype(np.float64)),
    )



def _choose_gate(labelled: dict[str, list[evaluation.Labelled]], populations: dict[str, Any], threshold: float,
                 merge: float | None, sweep: list[dict[str, Any]],
                 progress: Any = None) -> tuple[CropGate, dict[str, evaluation.Assigned]]:
    """The crop gate, by the thresholds' rule (within ACCURACY_TOLERANCE of the best geometric mean, the
    deer count nearest the truth), at the chosen thresholds; with each population's replay under it."""
    options = []
    for overlap in OVERLAP_GRID:
        for edge in EDGE_GRID:
            gate = CropGate(overlap, edge)
            assigned = {n: evaluation.assign(labelled[n], threshold, gate) for n in populations}
            results = [evaluation.score(labelled[n], (r := evaluation.merged(labelled[n], assigned[n], merge)).deer_of,
                                        threshold, r.merges, r.created) for n in populations]
            gm = round(_mean([e.geometric_mean for e in results]), 4)
            off = round(_mean([abs(e.deer - e.individuals) for e in results]), 1)
            review = round(_mean([e.left_for_review for e in results]), 1)
            sweep.append({"reid_threshold": threshold, "merge_threshold": merge, "crop_max_overlap": overlap,
                          "crop_edge_margin": edge, "geometric_mean": gm, "deer_off": off,
                          "left_for_review": review})
            options.append((gm, -off, -review, gate, assigned))
        if progress:
            progress(f"crop gate, overlap limit {overlap:.0%}: best geometric mean "
                     f"{max(o[0] for o in options if o[3].max_overlap == overlap):.3f}")
    top = max(o[0] for o in options)
    best = max((o for o in options if o[0] >= top - ACCURACY_TOLERANCE), key=lambda o: (o[1], o[0], o[2]))
    return best[3], best[4]
