"""The demo goes through the real pipeline: `seed --demo` stores pending detections and their pictures,
`reid enqueue` puts them on the reid queue in time order, the re-ID worker assigns them, `reid merge`
runs the merge job; what is stored is exactly what `deertrack reid evaluate` replays in memory, and
its figures come from that replay."""

from __future__ import annotations

import json

import pytest

from deertrack import db
from deertrack.reid import requeue
from deertrack.settings import get_settings
from gpu_batch.reid import evaluation
from gpu_batch.reid.embedder import current_embedder
from infra.cli import main
from infra.demo.seed import seed_demo
from tests.reid_helpers import run_reid_queue

pytestmark = pytest.mark.e2e


def _partition(deer_of: dict[int, int | None]) -> set[frozenset[int]]:
    groups: dict[int, set[int]] = {}
    for detection, deer in deer_of.items():
        if deer is not None:
            groups.setdefault(deer, set()).add(detection)
    return {frozenset(g) for g in groups.values()}


def test_the_demo_assignments_are_the_workers(stack, capsys) -> None:
    seeded = seed_demo()
    assert seeded.inserted and seeded.images_uploaded == seeded.images
    with db.connection() as con:
        assert con.run("SELECT count(*) FROM deer")[0][0] == 0
        batches = requeue.pending_batches(con)
    # what `reid enqueue --wait` does beside a running worker: one batch at a time, in time order
    for number, batch in enumerate(batches):
        requeue.enqueue(batch, f"demo-{number}")
        assert [o.status for o in run_reid_queue()] == ["done"]
    assert main(["reid", "merge", "--json"]) == 0
    merged = json.loads(capsys.readouterr().out)
    with db.connection() as con:
        assert con.run("SELECT count(*) FROM detections WHERE reid_status = 'pending'")[0][0] == 0
        assert con.run("SELECT count(*) FROM detections WHERE reid_note LIKE 'demo%'")[0][0] == 0
        stored = dict(con.run("SELECT id, deer_id FROM detections WHERE deer_id IS NOT NULL"))
        review = {r[0] for r in con.run("SELECT id FROM detections WHERE reid_status = 'needs_review'")}
        names = {r[0] for r in con.run("SELECT name FROM deer")}
        labelled, computed, _ = evaluation.load_labelled(con, current_embedder())
    assert all(name.startswith("Deer-") for name in names)  # named by re-ID, not after the truth
    assert computed == 0  # every embedding is the worker's own
    settings = get_settings()
    merge = settings.reid_merge_auto_threshold if settings.reid_auto_merge else None
    replay = evaluation.replay(labelled, settings.reid_threshold, merge, settings.crop_gate)
    assert replay.merges == merged["merged"]
    assert _partition(replay.deer_of) == _partition(stored)
    assert {d for d, deer in replay.deer_of.items() if deer is None} == review

    assert main(["reid", "evaluate", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)["evaluation"]
    expected = evaluation.score(labelled, replay.deer_of, settings.reid_threshold, replay.merges, replay.created)
    assert figures["geometric_mean"] == pytest.approx(expected.geometric_mean)
    assert figures["deer"] == len(_partition(stored)) and figures["merges"] == merged["merged"]
    assert figures["left_for_review"] == len(review)
