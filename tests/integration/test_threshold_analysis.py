"""The threshold analysis on a small score log whose precision and recall are computed by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from deertrack import db
from deertrack.analysis.threshold import analyze
from infra.analysis.report import write_report
from infra.cli import main as cli_main

pytestmark = pytest.mark.integration

# Deer 1 and 2 are does whose detections are truly individuals A and B; deer 3 is a buck nobody
# was assigned to. Detection 5 is individual C, who has no deer.
#
#   detection  truth  assigned  deer 1   deer 2   deer 3 (buck: not sex-eligible)
#       1        A       1       0.90     0.40     0.99
#       2        A       1       0.70     0.60     0.10
#       3        B       2       0.85     0.80     0.10     <- best deer is A's: a wrong match
#       4        B       2       0.30     0.95     0.10
#       5        C       -       0.75     0.50     0.10
SCORES = {1: (0.90, 0.40, 0.99), 2: (0.70, 0.60, 0.10), 3: (0.85, 0.80, 0.10), 4: (0.30, 0.95, 0.10),
          5: (0.75, 0.50, 0.10)}
TRUTH = {1: "A", 2: "A", 3: "B", 4: "B", 5: "C"}
ASSIGNED = {1: 1, 2: 1, 3: 2, 4: 2, 5: None}


@pytest.fixture
def known_log(stack: Any) -> Any:
    with db.connection(stack.database_url) as con:
        con.run("INSERT INTO locations (id, code, name, latitude, longitude) VALUES (1, 'c1', 'Camera 1', 45, -90)")
        con.run("INSERT INTO deer (id, name, sex) VALUES (1, 'Doe A', 'doe'), (2, 'Doe B', 'doe'), (3, 'Buck', 'buck')")
        for d in SCORES:
            con.run("INSERT INTO images (id, s3_key, location_id, captured_at) VALUES (:d, :k, 1, now())",
                    d=d, k=f"img/{d}.jpg")
            con.run("INSERT INTO detections (id, image_id, bbox_x, bbox_y, bbox_width, bbox_height, confidence,"
                    " classification, deer_id) VALUES (:d, :d, 0, 0, 10, 10, 0.9, 'doe', :deer)",
                    d=d, deer=ASSIGNED[d])
            con.run("INSERT INTO detection_truth (detection_id, individual_key, source) VALUES (:d, :k, 'review')",
                    d=d, k=TRUTH[d])
            best = max(range(2), key=lambda j: SCORES[d][j])
            for deer, score in enumerate(SCORES[d], start=1):
                con.run("INSERT INTO reid_similarity_scores (detection_id, deer_id, similarity_score, threshold_used,"
                        " matched, sex_match, detection_classification, deer_sex)"
                        " VALUES (:d, :deer, :s, 0.8, :m, :x, 'doe', :sex)",
                        d=d, deer=deer, s=str(score), m=deer == best + 1 and SCORES[d][best] >= 0.8, x=deer != 3,
                        sex="buck" if deer == 3 else "doe")
        yield con


def test_precision_recall_and_open_set_accuracies_match_the_hand_computation(known_log: Any) -> None:
    analysis = analyze(known_log, thresholds=[0.7, 0.8, 0.9], current_threshold=0.8)
    assert analysis.pairs == 15 and analysis.detections == 5 and analysis.detections_with_truth == 5

    # t = 0.80: assigned 1 (deer 1 = A, right), 3 (deer 1 = A, wrong), 4 (deer 2 = B, right); 2 and 5 are not.
    #   precision 2 right / 3 assigned; recall: 2 right / 4 detections of individuals with a deer (A, B).
    #   new-individual accuracy (best score against other individuals' deer < t): 1 (0.40), 2 (0.60),
    #   4 (0.30) yes, 3 (0.85 vs A's deer) no; 5 (C has no deer) is not assigned: yes -> 4 / 5.
    #   geometric mean sqrt(0.5 * 0.8); assignment rate 3 / 5; new deer: 2 and 5.
    at = analysis.row(0.8)
    assert at is not None
    assert at.assigned == 3 and at.assignment_rate == pytest.approx(0.6) and at.new_deer == 2
    assert at.precision == pytest.approx(2 / 3, abs=1e-4)
    assert at.recall == at.known_accuracy == pytest.approx(0.5)
    assert at.new_accuracy == pytest.approx(0.8)
    assert at.geometric_mean == pytest.approx((0.5 * 0.8) ** 0.5, abs=1e-4)

    # t = 0.70: also 2 (0.70, deer 1 = A, right: a score at the threshold matches) and 5 (0.75 -> deer 1, wrong).
    #   precision 3/5, recall 3/4, new-individual accuracy: 1, 2, 4 yes; 3 no; 5 assigned: no -> 3/5.
    at = analysis.row(0.7)
    assert at is not None
    assert (at.precision, at.recall, at.new_accuracy) == (pytest.approx(0.6), pytest.approx(0.75), pytest.approx(0.6))
    assert at.geometric_mean == pytest.approx((0.75 * 0.6) ** 0.5, abs=1e-4)

    # t = 0.90: only 1 (0.90) and 4 (0.95), both right: precision 1, recall 2/4; everyone would be new: 5/5.
    #   The buck's 0.99 against detection 1 never counts: it is not sex-eligible.
    at = analysis.row(0.9)
    assert at is not None
    assert (at.precision, at.recall, at.new_accuracy) == (1.0, 0.5, 1.0)

    # The best geometric mean of the three is at 0.90 (0.707 > 0.671 > 0.632).
    assert analysis.recommendation.threshold == 0.9 and analysis.recommendation.basis == "open_set"
    assert analysis.matched_pairs.pairs == 3 and analysis.unmatched_pairs.pairs == 12
    assert sum(analysis.histogram.matched) == 3 and sum(analysis.histogram.unmatched) == 12


def test_without_truth_the_recommendation_says_why(known_log: Any) -> None:
    known_log.run("DELETE FROM detection_truth")
    analysis = analyze(known_log)
    assert analysis.detections_with_truth == 0
    assert all(r.precision is None for r in analysis.thresholds)
    assert analysis.recommendation.basis == "otsu" and "no detection has a known true identity" in \
        analysis.recommendation.reason


def test_report_folder_has_markdown_and_plots(known_log: Any, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    report = write_report(analyze(known_log), tmp_path / "direct")
    assert report.read_text().startswith("# Re-ID threshold analysis")
    assert cli_main(["reid", "analyze", "--out", str(tmp_path / "cli")]) == 0
    assert "recommended threshold:" in capsys.readouterr().out
    for name in ("report.md", "analysis.json", "histogram_by_matched.png", "cdf.png", "metrics_vs_threshold.png"):
        data = (tmp_path / "cli" / name).read_bytes()
        assert data, name
        if name.endswith(".png"):
            assert data.startswith(b"\x89PNG")
