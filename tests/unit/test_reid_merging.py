"""Merge rules and the greedy merge plan (deertrack.reid.merging), in memory."""

from __future__ import annotations

import numpy as np

from deertrack.reid import merging
from deertrack.reid.vectors import normalize


def deer(deer_id: int, sex: str, vectors: list[list[float]], images: set[int]) -> merging.DeerEvidence:
    ex = normalize(np.array(vectors, dtype=np.float32))
    return merging.DeerEvidence(deer_id, sex, ex, list(range(deer_id * 10, deer_id * 10 + len(ex))), images,
                                len(ex), normalize(ex.mean(axis=0)))


def test_merges_never_join_incompatible_sexes_or_deer_in_one_photo() -> None:
    same = [[1, 0, 0], [1, 0.05, 0]]
    buck, doe = deer(1, "buck", same, {1}), deer(2, "doe", same, {2})
    assert "incompatible sex" in merging.refusal(buck, doe)
    together = deer(3, "buck", same, {1, 5})
    assert "same photo" in merging.refusal(buck, together)
    plan, _ = merging.plan([buck, doe, together], 0.5)
    assert plan.merges == []


def test_unknown_sex_merges_and_the_kept_deer_takes_the_known_sex() -> None:
    a, b = deer(4, "unknown", [[1, 0, 0]], {1}), deer(9, "doe", [[1, 0.02, 0]], {2})
    plan, final = merging.plan([a, b], 0.9)
    assert [(m.kept, m.merged) for m in plan.merges] == [(4, 9)] and plan.into == {9: 4}
    assert final[4].sex == "doe" and final[4].sightings == 2 and final[4].images == {1, 2}


def test_plan_is_greedy_best_first_and_rescores_after_each_merge() -> None:
    a = deer(1, "doe", [[1, 0, 0]], {1})
    b = deer(2, "doe", [[1, 0.1, 0]], {2})
    c = deer(3, "doe", [[1, 0.5, 0]], {3, 1})  # seen with deer 1: never merged into it
    plan, final = merging.plan([a, b, c], 0.95)
    assert [(m.kept, m.merged) for m in plan.merges] == [(1, 2)]
    assert set(final) == {1, 3}


def test_rejected_pairs_are_not_merged_and_candidates_say_why() -> None:
    a, b = deer(1, "doe", [[1, 0, 0]], {1}), deer(2, "doe", [[1, 0.01, 0]], {2})
    plan, _ = merging.plan([a, b], 0.5, rejected={(1, 2)})
    assert plan.merges == []
    found = merging.candidates([a, b], 0.5, rejected={(1, 2)})
    assert len(found) == 1 and not found[0].allowed and "not the same" in found[0].reason
