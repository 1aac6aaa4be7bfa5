"""Re-ID maths: cosine scores as one matrix product, sex eligibility, the threshold rule, decisions,
score blocks, running-mean profiles, bursts and batch matching (all in memory)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from deertrack.reid import scoring
from deertrack.reid.bursts import Linked, Pending, form_tracks
from deertrack.reid.gallery import Gallery, mean_profile, running_mean
from deertrack.reid.matching import match_batch
from deertrack.reid.score_log import ScoreBlock, to_copy_text
from deertrack.reid.vectors import normalize

T0 = datetime(2024, 6, 1, tzinfo=UTC)


def unit(*values: float) -> np.ndarray:
    return normalize(np.array(values, dtype=np.float32))


def test_similarity_is_cosine_of_every_pair() -> None:
    e = np.stack([unit(1, 0, 0), unit(0, 1, 0), unit(1, 1, 0)])
    p = np.stack([unit(1, 0, 0), unit(0, 0, 1)])
    s = scoring.similarity(e, p)
    assert s.shape == (3, 2)
    assert np.allclose(s, [[1, 0], [0, 0], [np.sqrt(0.5), 0]], atol=1e-6)
    assert scoring.similarity(e, np.zeros((0, 3))).shape == (3, 0)
    with pytest.raises(scoring.DimensionMismatch, match="reid embed --all"):
        scoring.similarity(e, np.ones((1, 4), dtype=np.float32))


def test_sex_eligibility() -> None:
    classes = ["buck", "doe", "fawn", "unknown"]
    m = scoring.sex_match_matrix(classes, classes)
    expected = np.array([[1, 0, 0, 1], [0, 1, 0, 1], [0, 0, 1, 1], [1, 1, 1, 1]], dtype=bool)
    assert (m == expected).all()
    assert all(scoring.sex_match(a, b) == expected[i, j] for i, a in enumerate(classes) for j, b in enumerate(classes))
    with pytest.raises(ValueError, match="moose"):
        scoring.sex_match_matrix(["moose"], ["doe"])


def test_threshold_compares_at_logged_precision_and_equal_matches() -> None:
    assert scoring.is_match(0.8, 0.8)
    assert scoring.is_match(np.float32(0.79999995), 0.8)  # float32 noise of an exact 0.8
    assert scoring.is_match(0.80004, 0.8)
    assert not scoring.is_match(0.79994, 0.8)
    assert not scoring.is_match(0.8, 0.8001)


def test_decision_takes_the_best_eligible_deer() -> None:
    scores = np.array([[0.95, 0.90, 0.70]])
    eligible = np.array([[False, True, True]])
    d = scoring.decide(scores, eligible, 0.85)
    assert (d.index, d.score, d.matched) == (1, 0.9, True)
    d = scoring.decide(scores, eligible, 0.91)
    assert (d.index, d.matched, d.assigned_index) == (1, False, None)
    d = scoring.decide(scores, np.zeros_like(eligible), 0.5)
    assert (d.index, d.score, d.matched) == (None, None, False)
    d = scoring.decide(np.zeros((1, 0)), np.zeros((1, 0), bool), 0.5)
    assert d.index is None


def test_burst_decision_uses_the_members_mean_score_and_all_members_eligibility() -> None:
    scores = np.array([[0.9, 0.6], [0.7, 0.95]])
    eligible = np.array([[True, True], [True, True]])
    d = scoring.decide(scores, eligible, 0.7)
    assert (d.index, d.score) == (0, 0.8)  # means: 0.8 and 0.775
    eligible[1, 0] = False  # deer 0 is not eligible for the second member: not for the burst
    d = scoring.decide(scores, eligible, 0.7)
    assert (d.index, d.score, d.matched) == (1, 0.775, True)


def test_vectorized_decisions_match_one_by_one() -> None:
    rng = np.random.default_rng(1)
    scores = rng.uniform(-1, 1, (40, 7))
    eligible = rng.random((40, 7)) < 0.7
    assigned, best = scoring.decide_each(scores, eligible, 0.3)
    for i in range(40):
        d = scoring.decide(scores[i:i + 1], eligible[i:i + 1], 0.3)
        assert assigned[i] == (d.index if d.matched else -1)
        assert (np.isnan(best[i]) and d.score is None) or best[i] == d.score


def test_score_block_is_row_major_and_copy_text_rounds() -> None:
    scores = np.array([[0.123456, 1.0], [-0.5, 0.8]])
    eligible = np.array([[True, False], [True, True]])
    matched = scoring.matched_mask(2, 2, np.array([1, -1]))
    block = ScoreBlock.from_matrix([10, 11], [1, 2], scores, matched, eligible, ["doe", "unknown"], ["doe", "buck"],
                                   scoring.round_threshold(0.8))
    assert len(block) == 4
    assert block.detection_ids.tolist() == [10, 10, 11, 11] and block.deer_ids.tolist() == [1, 2, 1, 2]
    assert block.matched.tolist() == [False, True, False, False]
    lines = to_copy_text(block).decode().splitlines()
    assert lines[0].split("\t") == ["10", "1", "0.1235", "0.8000", "f", "t", "doe", "doe"]
    assert lines[1].split("\t")[:6] == ["10", "2", "1.0000", "0.8000", "t", "f"]
    both = scoring.concat_blocks([block, block], 0.8)
    assert len(both) == 8 and len(scoring.concat_blocks([], 0.8)) == 0


def test_consensus_sex() -> None:
    assert scoring.consensus_sex(["unknown", "doe", "doe", "fawn"]) == "doe"
    assert scoring.consensus_sex(["unknown"]) == "unknown"
    assert scoring.consensus_sex(["doe", "buck"]) == "unknown"


def test_normalized_running_mean() -> None:
    rng = np.random.default_rng(2)
    vectors = normalize(rng.normal(size=(6, 8)).astype(np.float32))
    profile = mean_profile(vectors[:2])
    assert np.allclose(profile, normalize(vectors[:2].mean(axis=0)), atol=1e-6)
    updated = running_mean(profile, 2, vectors[2:5])
    assert np.allclose(updated, normalize(2 * profile + vectors[2:5].sum(axis=0)), atol=1e-6)
    assert abs(np.linalg.norm(updated) - 1) < 1e-6
    # close to the normalized mean of everything (exact when the first profile was one embedding)
    assert float(np.dot(updated, normalize(vectors[:5].mean(axis=0)))) > 0.98
    gallery = Gallery()
    i = gallery.add(7, "doe", vectors[0], 1)
    gallery.update(i, vectors[1:3])
    assert gallery.counts == [3] and np.allclose(gallery.profiles[0], normalize(vectors[:3].sum(axis=0)), atol=1e-5)
    for k in range(40):  # grows past its initial capacity
        gallery.add(100 + k, "unknown", vectors[k % 6], 1)
    assert len(gallery) == 41 and gallery.profiles.shape == (41, 8) and gallery.index_of(139) == 40


def pending(i: int, seconds: float, embedding: np.ndarray, location: int = 1, image: int | None = None,
            cls: str = "unknown") -> Pending:
    return Pending(i, image if image is not None else i, location, T0 + timedelta(seconds=seconds), cls, embedding)


def test_bursts_chain_within_five_seconds_per_location() -> None:
    a = unit(1, 0)
    items = [pending(1, 0, a), pending(2, 4, a), pending(3, 8.5, a), pending(4, 14, a), pending(5, 1, a, location=2)]
    tracks = form_tracks(items)
    groups = sorted(sorted(m.detection_id for m in t.members) for t in tracks)
    assert groups == [[1, 2, 3], [4], [5]]
    assert {t.burst_group for t in tracks} == {"burst-1", "burst-4", "burst-5"}


def test_two_animals_in_one_photo_get_two_tracks_followed_by_similarity() -> None:
    doe, fawn = unit(1, 0.1), unit(0.1, 1)
    items = [pending(1, 0, doe, image=10), pending(2, 0, fawn, image=10),
             pending(3, 2, fawn, image=11), pending(4, 2, doe, image=11)]
    tracks = form_tracks(items)
    assert sorted(sorted(m.detection_id for m in t.members) for t in tracks) == [[1, 4], [2, 3]]


def test_sex_keeps_tracks_apart_and_earlier_detections_seed_tracks() -> None:
    a = unit(1, 0)
    tracks = form_tracks([pending(1, 0, a, cls="buck"), pending(2, 2, a, cls="doe")])
    assert len(tracks) == 2
    earlier = Linked(9, 99, 1, T0 + timedelta(seconds=3), "unknown", a, "burst-9", 42)
    tracks = form_tracks([pending(1, 0, a)], [earlier])  # arrived later, happened earlier
    assert len(tracks) == 1 and tracks[0].burst_group == "burst-9" and tracks[0].deer_id == 42


def test_match_batch_creates_matches_and_shares_burst_assignments() -> None:
    a, a2, b = unit(1, 0, 0), unit(1, 0.1, 0), unit(0, 1, 0)
    made: list[tuple] = []

    def new_deer(sex, profile, count, first, last):  # noqa: ANN001, ANN202
        made.append((sex, count))
        return 100 + len(made)

    gallery = Gallery()
    items = [pending(1, 0, a, cls="doe"), pending(2, 3, a2), pending(3, 60, a), pending(4, 120, a, cls="buck"),
             pending(5, 180, b)]
    outcome = match_batch(items, gallery, 0.9, new_deer)
    by_id = {x.detection_id: x for x in outcome.assignments}
    # 1 and 2 are one burst: one new deer from both; 3 matches it; 4 (buck) may not join a doe
    assert by_id[1].deer_id == by_id[2].deer_id == by_id[3].deer_id == 101
    assert by_id[1].status == "new_deer" and by_id[3].status == "assigned"
    assert by_id[4].deer_id == 102 and by_id[4].status == "new_deer"
    assert by_id[5].deer_id == 103 and "best score" in by_id[5].note
    assert made == [("doe", 2), ("buck", 1), ("unknown", 1)]
    assert outcome.deer[101].added == 3 and outcome.deer[101].created
    assert gallery.counts == [3, 1, 1]
    block = outcome.score_block(0.9)
    # 1,2 met an empty gallery; 3 was scored against deer 101; 4 against 101 (sex mismatch logged);
    # 5 against both
    assert block.detection_ids.tolist() == [3, 4, 5, 5] and block.deer_ids.tolist() == [101, 101, 101, 102]
    assert block.matched.tolist() == [True, False, False, False]
    assert block.sex_match.tolist() == [True, False, True, True]
