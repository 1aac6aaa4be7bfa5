"""The crop gate: which crops may found a new deer, and what re-ID and the evaluation do with the others."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from deertrack.reid import crop_quality
from deertrack.reid.bursts import Pending
from deertrack.reid.crop_quality import NO_GATE, CropGate, CropGeometry, measure, measure_photo
from deertrack.reid.gallery import empty_gallery
from deertrack.reid.matching import match_batch
from deertrack.reid.vectors import normalize
from gpu_batch.reid import evaluation

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def test_overlap_is_the_share_of_the_box_another_box_covers() -> None:
    assert crop_quality.covered((0, 0, 10, 10), (5, 0, 10, 10)) == 0.5
    assert crop_quality.covered((0, 0, 10, 10), (20, 0, 10, 10)) == 0.0
    # a small box inside a big one is fully covered; the big one only by the small one's area
    photo = measure_photo({1: (0, 0, 100, 100), 2: (10, 10, 20, 20)}, (1000, 500))
    assert photo[2].overlap == 1.0 and photo[2].overlapped_by == 1
    assert photo[1].overlap == 0.04 and photo[1].overlapped_by == 2


def test_edge_gap_is_the_nearest_side_as_a_fraction_of_it() -> None:
    assert measure((0, 100, 50, 50), (1000, 500), []).edge_gap == 0.0
    assert measure((100, 100, 50, 50), (1000, 500), []).edge_gap == 0.1  # left: 100 / 1000
    assert measure((400, 10, 50, 50), (1000, 500), []).edge_gap == 0.02  # top: 10 / 500
    assert measure((400, 10, 50, 50), None, []).edge_gap == float("inf")  # size unknown: never near


def test_gate_names_the_rule_a_poor_crop_breaks() -> None:
    gate = CropGate(max_overlap=0.3, edge_margin=0.02)
    assert gate.reason(CropGeometry(0.31, 0.5, 7)) == "31% of its box is covered by detection 7 (limit 30%)"
    assert "cut off at the picture's edge" in (gate.reason(CropGeometry(0.0, 0.01)) or "")
    assert gate.reason(CropGeometry(0.3, 0.02)) is None
    assert gate.reason(None) is None
    assert NO_GATE.off and NO_GATE.reason(CropGeometry(1.0, 0.0)) is None


def _pending(detection_id: int, vector: np.ndarray, minutes: int, geometry: CropGeometry | None,
             classification: str = "doe") -> Pending:
    return Pending(detection_id, detection_id, 1, T0 + timedelta(minutes=minutes), classification,
                   normalize(vector.astype(np.float32)), geometry)


def test_a_poor_crop_that_matches_no_deer_founds_none_but_one_that_matches_is_assigned() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=32), rng.normal(size=32)
    poor = CropGeometry(0.8, 0.4, 99)
    counter = iter(range(1, 100))
    gallery = empty_gallery()
    outcome = match_batch(
        [_pending(1, a, 0, None), _pending(2, b, 10, poor), _pending(3, a + 0.01 * b, 20, poor)],
        gallery, 0.8, lambda *args: next(counter), gate=CropGate(0.5, 0.0),
    )
    by_id = {x.detection_id: x for x in outcome.assignments}
    assert by_id[1].status == "new_deer" and by_id[1].deer_id == 1
    assert by_id[2].status == "needs_review" and by_id[2].deer_id is None
    assert "crop too poor to found a new deer: 80% of its box is covered by detection 99" in by_id[2].note
    assert by_id[3].status == "assigned" and by_id[3].deer_id == 1
    assert gallery.deer_ids == [1] and set(outcome.deer) == {1}
    # the review detection's scores are logged too, matched to no deer
    block = outcome.score_block(0.8)
    assert 2 in set(block.detection_ids.tolist())


def test_without_the_gate_the_same_poor_crop_founds_a_deer() -> None:
    rng = np.random.default_rng(0)
    counter = iter(range(1, 100))
    outcome = match_batch([_pending(1, rng.normal(size=32), 0, CropGeometry(0.8, 0.4))], empty_gallery(), 0.8,
                          lambda *args: next(counter))
    assert outcome.assignments[0].status == "new_deer"


def test_evaluation_counts_review_right_for_a_first_sighting_and_wrong_for_a_known_one() -> None:
    vec = np.zeros(4, np.float32)
    labelled = [evaluation.Labelled(_pending(i, vec, i, None), individual)
                for i, individual in [(1, "x"), (2, "x"), (3, "y"), (4, "y"), (5, "y")]]
    # x: founded, then left for review (wrong); y: first sighting left for review (right), then founded
    deer_of: dict[int, int | None] = {1: 10, 2: None, 3: None, 4: 20, 5: 20}
    e = evaluation.score(labelled, deer_of, 0.5)
    assert e.new == 2 and e.new_accuracy == 1.0
    assert e.known == 3 and e.known_accuracy == 2 / 3
    assert e.left_for_review == 2 and e.deer == 2
    assert e.top1 == 3 / 5
