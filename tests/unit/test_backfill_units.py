"""Backfill pieces without a database: burst decisions, scope, progress bar, Otsu."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import numpy as np
import pytest
from pydantic import ValidationError

from deertrack.analysis.threshold import otsu
from deertrack.backfill.scope import BackfillScope
from deertrack.messages import BackfillShardMessage, parse_message
from deertrack.reid import scoring
from gpu_batch.backfill.progress import ProgressBar, clock


def test_decide_groups_is_decide_for_each_group() -> None:
    rng = np.random.default_rng(11)
    scores = rng.uniform(-1, 1, (200, 15))
    eligible = rng.random((200, 15)) > 0.25
    groups = rng.integers(0, 70, 200)
    assigned, best = scoring.decide_groups(scores, eligible, groups, 0.4)
    for g in np.unique(groups):
        rows = np.flatnonzero(groups == g)
        decision = scoring.decide(scores[rows], eligible[rows], 0.4)
        assert set(assigned[rows]) == {decision.index if decision.matched else -1}
        if decision.score is None:
            assert np.isnan(best[rows]).all()
        else:
            assert np.allclose(best[rows], decision.score)


def test_a_burst_is_decided_on_its_mean_score() -> None:
    # Two detections of one burst: 0.9 and 0.72 against deer 0 (mean 0.81 >= 0.8): both matched,
    # although 0.72 alone would not be; a lone detection at 0.79 is not.
    scores = np.array([[0.9, 0.1], [0.72, 0.2], [0.79, 0.3]])
    eligible = np.ones((3, 2), dtype=bool)
    assigned, _ = scoring.decide_groups(scores, eligible, np.array([5, 5, 6]), 0.8)
    assert assigned.tolist() == [0, 0, -1]


def test_scope_reads_dates_as_utc_midnight_and_resolves_the_threshold() -> None:
    scope = BackfillScope(since=date(2024, 10, 1), limit=10, threshold=0.75)
    assert scope.since == datetime(2024, 10, 1, tzinfo=UTC)
    assert not scope.whole_log
    assert scope.resolved_threshold() == 0.75
    assert BackfillScope().whole_log
    with pytest.raises(ValidationError):
        BackfillScope(limit=0)
    with pytest.raises(ValidationError):
        BackfillScope(threshold=1.5)


def test_shard_message_round_trips_and_checks_its_range() -> None:
    message = BackfillShardMessage(run_id="r1", shard=3, first_detection_id=10, last_detection_id=20, threshold=0.8)
    assert parse_message(message.model_dump_json()) == message
    with pytest.raises(ValidationError):
        BackfillShardMessage(run_id="r1", shard=0, first_detection_id=20, last_detection_id=10, threshold=0.8)


def test_progress_line_has_rate_and_eta() -> None:
    bar = ProgressBar(stream=io.StringIO(), rows_per_item=53)
    bar._started = 100.0
    bar.line(0, 1000, now=100.0)
    line = bar.line(250, 1000, now=110.0)  # 25 detections/s, 750 to go: 30 s
    assert "250/1,000 detections" in line and "25/s" in line and "1,325 rows/s" in line and "ETA 0:30" in line
    assert clock(3725) == "1:02:05"


def test_progress_without_a_terminal_prints_a_line_per_tenth() -> None:
    out = io.StringIO()
    bar = ProgressBar(stream=out)
    for done in range(0, 101):
        bar.update(done, 100)
    assert len(out.getvalue().splitlines()) == 11


def test_otsu_finds_the_gap_between_two_modes() -> None:
    rng = np.random.default_rng(1)
    values = np.r_[rng.normal(0.3, 0.05, 5000), rng.normal(0.85, 0.04, 500)]
    assert 0.45 < otsu(values) < 0.75
    assert otsu(np.array([0.5])) is None
