"""Planning: the detections a scope selects, cut into shards of contiguous detection ids."""

from __future__ import annotations

from dataclasses import dataclass

import pg8000.native

from deertrack.backfill.scope import BackfillScope

#: Detections per shard: ~50,000 score rows at 100 deer, one short transaction and one SQS message each.
DEFAULT_SHARD_SIZE = 500

#: The selection, shared by planning and by the shard (which re-applies it within its id range).
SELECTED = (
    " FROM detections d JOIN images i ON i.id = d.image_id"
    " WHERE d.embedding IS NOT NULL"
    "   AND (CAST(:since AS TIMESTAMPTZ) IS NULL OR i.captured_at >= CAST(:since AS TIMESTAMPTZ))"
)


@dataclass(frozen=True)
class ShardPlan:
    shard: int
    first_detection_id: int
    last_detection_id: int
    detections: int


def plan_shards(con: pg8000.native.Connection, scope: BackfillScope,
                shard_size: int = DEFAULT_SHARD_SIZE) -> list[ShardPlan]:
    """Shards covering exactly the selected detections, in id order, `shard_size` detections each."""
    if shard_size < 1:
        raise ValueError("shard_size must be at least 1")
    rows = con.run(
        "WITH selected AS (SELECT d.id" + SELECTED + " ORDER BY d.id LIMIT CAST(:limit AS BIGINT)),"
        " numbered AS (SELECT id, (row_number() OVER (ORDER BY id) - 1) / :size AS shard FROM selected)"
        " SELECT shard, min(id), max(id), count(*) FROM numbered GROUP BY shard ORDER BY shard",
        since=scope.since, limit=scope.limit, size=shard_size,
    )
    return [ShardPlan(int(s), int(first), int(last), int(n)) for s, first, last, n in rows]


#: The id range of an atomic shard: every detection, including those added after the plan was made
#: (an atomic shard TRUNCATEs the whole log, so it must re-score everything there is when it runs).
ALL_IDS = (1, 2**63 - 1)


def one_shard(con: pg8000.native.Connection, scope: BackfillScope) -> list[ShardPlan]:
    """The whole selection as a single shard over every id (an atomic run); its count is for progress."""
    count = int(con.run("SELECT count(*)" + SELECTED, since=scope.since)[0][0])
    return [] if not count else [ShardPlan(0, ALL_IDS[0], ALL_IDS[1], count)]
