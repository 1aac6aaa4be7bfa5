"""deertrack.snapshot_cache over a real PostgreSQL: a kept answer is handed out again only while no
transaction has ended since it was computed, and the review queue answers from it."""

from __future__ import annotations

import pg8000.native
import pytest

from deertrack import db
from deertrack.reid import review_queue
from deertrack.snapshot_cache import SNAPSHOT_SQL, SnapshotCache, current_snapshot

pytestmark = pytest.mark.integration


def _counting(con: pg8000.native.Connection, computed: list[int]) -> tuple[int, str]:
    count, snapshot = con.run(f"SELECT count(*), {SNAPSHOT_SQL} FROM snapshot_cache_rows")[0]
    computed.append(count)
    return count, snapshot


def test_an_answer_is_kept_until_any_transaction_ends(stack) -> None:
    cache: SnapshotCache[int] = SnapshotCache(size=4)
    computed: list[int] = []
    with db.connection() as con, db.connection() as other:
        con.run("CREATE TABLE snapshot_cache_rows (id int)")
        try:
            assert cache.answer(con, "n", lambda c: _counting(c, computed)) == 0
            assert cache.answer(con, "n", lambda c: _counting(c, computed)) == 0
            assert computed == [0]  # the second was the kept answer
            other.run("INSERT INTO snapshot_cache_rows VALUES (1)")  # another connection commits a row
            assert cache.answer(con, "n", lambda c: _counting(c, computed)) == 1
            assert computed == [0, 1]
            with db.transaction(other):  # a transaction still open is invisible, and so is its row
                other.run("INSERT INTO snapshot_cache_rows VALUES (2)")
                assert cache.answer(con, "n", lambda c: _counting(c, computed)) == 1
                kept = current_snapshot(con)
            assert current_snapshot(con) != kept  # its commit ends the kept answer
            assert cache.answer(con, "n", lambda c: _counting(c, computed)) == 2
            assert cache.stats()["hits"] >= 1
        finally:
            con.run("DROP TABLE snapshot_cache_rows")


def test_the_tag_names_the_database_and_server(stack) -> None:
    with db.connection() as con:
        tag = current_snapshot(con)
        database, port = con.run("SELECT current_database(), inet_server_port()")[0]
    assert f"/{database}/{port}/" in tag


def test_only_the_most_recent_answers_are_kept(stack) -> None:
    cache: SnapshotCache[str] = SnapshotCache(size=2)
    with db.connection() as con:
        for key in ("a", "b", "c"):
            cache.answer(con, key, lambda c, k=key: (k, current_snapshot(c)))
        assert cache.stats()["entries"] == 2
        recomputed: list[str] = []
        cache.answer(con, "a", lambda c: (recomputed.append("a") or "a", current_snapshot(c)))
        assert recomputed == ["a"]


def test_the_review_queue_answers_a_repeated_page_from_the_cache_and_sees_a_review(stack) -> None:
    from deertrack.reid.review import DetectionPatch, apply_patch
    from tests.review_helpers import seed_reviewable

    seed_reviewable(images=30)
    query = review_queue.QueueQuery(limit=200)
    with db.connection() as con:
        first = review_queue.review_queue(con, query)
        hits = review_queue.ANSWERS.stats()["hits"]
        assert review_queue.review_queue(con, query) == first
        assert review_queue.ANSWERS.stats()["hits"] == hits + 1
        item = next(i for i in first["items"] if i["kind"] != "merge_candidate" and i["deer_id"] is not None)
        apply_patch(con, item["detection_id"], DetectionPatch(deer_id=item["deer_id"]), actor="cache-test")
        after = review_queue.review_queue(con, query)
    assert after["total"] == first["total"] - 1  # the confirmed detection left the queue at once
    assert item["detection_id"] not in {i.get("detection_id") for i in after["items"]}
