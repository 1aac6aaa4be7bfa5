"""Backfill run state in PostgreSQL (backfill_runs, backfill_shards): progress and resume.

A shard is marked done in the same transaction that replaces its detections' score rows, so the
state can never claim more than the score log holds; a resumed run processes exactly the shards
that are not done.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

import pg8000.native

from deertrack.backfill.plan import ShardPlan
from deertrack.backfill.scope import BackfillScope
from deertrack.db import transaction
from deertrack.jobs import new_job_id

Trigger = Literal["cli", "api", "schedule", "bench"]


@dataclass(frozen=True)
class RunState:
    run_id: str
    trigger: str
    atomic: bool
    since: datetime | None
    limit: int | None
    threshold: float
    status: str
    job_id: str | None
    total_shards: int
    done_shards: int
    total_detections: int
    done_detections: int
    rows_written: int
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.status != "running"


def create_run(con: pg8000.native.Connection, scope: BackfillScope, shards: list[ShardPlan], *,
               trigger: Trigger, atomic: bool = False, run_id: str | None = None,
               job_id: str | None = None, requested_by: str | None = None) -> RunState:
    """Record a planned run and its shards (one transaction), and who asked for it (a user or a service
    identity). A run without shards is completed."""
    run_id = run_id or new_job_id()  # the same form as a job id: an API run takes its job's
    total = sum(s.detections for s in shards)
    with transaction(con):
        con.run(
            "INSERT INTO backfill_runs (id, trigger, atomic, since, detection_limit, threshold, job_id, status,"
            " total_detections, total_shards, requested_by, finished_at)"
            " VALUES (:id, :trigger, :atomic, :since, :limit, :threshold, :job, :status, :total, :shards, :by,"
            "         CASE WHEN :status = 'completed' THEN now() END)",
            id=run_id, trigger=trigger, atomic=atomic, since=scope.since, limit=scope.limit,
            threshold=Decimal(f"{scope.resolved_threshold():.4f}"), job=job_id,
            status="running" if shards else "completed", total=total, shards=len(shards), by=requested_by,
        )
        if shards:
            con.run(
                "INSERT INTO backfill_shards (run_id, shard, first_detection_id, last_detection_id, detections)"
                " SELECT :id, s, f, l, n FROM unnest(CAST(:s AS INTEGER[]), CAST(:f AS BIGINT[]),"
                "                                     CAST(:l AS BIGINT[]), CAST(:n AS INTEGER[])) AS t(s, f, l, n)",
                id=run_id, s=[p.shard for p in shards], f=[p.first_detection_id for p in shards],
                l=[p.last_detection_id for p in shards], n=[p.detections for p in shards],
            )
    state = get_run(con, run_id)
    assert state is not None
    return state


_STATE_SQL = (
    "SELECT r.id, r.trigger, r.atomic, r.since, r.detection_limit, r.threshold, r.status, r.job_id,"
    " r.total_shards, count(s.done_at), r.total_detections,"
    " coalesce(sum(s.detections) FILTER (WHERE s.done_at IS NOT NULL), 0),"
    " coalesce(sum(s.rows_written), 0), r.error"
    " FROM backfill_runs r LEFT JOIN backfill_shards s ON s.run_id = r.id"
)


def _state(row: list) -> RunState:
    return RunState(
        run_id=row[0], trigger=row[1], atomic=row[2], since=row[3], limit=row[4], threshold=float(row[5]),
        status=row[6], job_id=row[7], total_shards=int(row[8]), done_shards=int(row[9]),
        total_detections=int(row[10]), done_detections=int(row[11]), rows_written=int(row[12]), error=row[13],
    )


def get_run(con: pg8000.native.Connection, run_id: str) -> RunState | None:
    rows = con.run(_STATE_SQL + " WHERE r.id = :id GROUP BY r.id", id=run_id)
    return _state(rows[0]) if rows else None


def find_resumable(con: pg8000.native.Connection, scope: BackfillScope, *, atomic: bool,
                   trigger: Trigger = "cli") -> RunState | None:
    """The latest unfinished run of `trigger` with exactly this scope (since, limit, threshold, mode)."""
    rows = con.run(
        _STATE_SQL + " WHERE r.status = 'running' AND r.trigger = :trigger AND r.atomic = :atomic"
        " AND r.since IS NOT DISTINCT FROM CAST(:since AS TIMESTAMPTZ)"
        " AND r.detection_limit IS NOT DISTINCT FROM CAST(:limit AS INTEGER)"
        " AND r.threshold = CAST(:threshold AS NUMERIC)"
        " GROUP BY r.id ORDER BY r.started_at DESC LIMIT 1",
        trigger=trigger, atomic=atomic, since=scope.since, limit=scope.limit,
        threshold=f"{scope.resolved_threshold():.4f}",
    )
    return _state(rows[0]) if rows else None


def pending_shards(con: pg8000.native.Connection, run_id: str) -> list[ShardPlan]:
    rows = con.run(
        "SELECT shard, first_detection_id, last_detection_id, detections FROM backfill_shards"
        " WHERE run_id = :id AND done_at IS NULL ORDER BY shard", id=run_id,
    )
    return [ShardPlan(int(s), int(f), int(last), int(n)) for s, f, last, n in rows]


def shard_is_done(con: pg8000.native.Connection, run_id: str, shard: int) -> bool:
    rows = con.run("SELECT done_at FROM backfill_shards WHERE run_id = :id AND shard = :shard", id=run_id, shard=shard)
    return bool(rows) and rows[0][0] is not None


def mark_shard_done(con: pg8000.native.Connection, run_id: str, shard: int, rows_written: int) -> RunState:
    """Inside the shard's transaction: mark it done; the run completes with its last shard.

    The run row is locked first, so two shards finishing at once are counted one after the other and
    exactly one of them sees the run complete.
    """
    con.run("SELECT id FROM backfill_runs WHERE id = :id FOR UPDATE", id=run_id)
    con.run(
        "UPDATE backfill_shards SET done_at = now(), rows_written = :rows"
        " WHERE run_id = :id AND shard = :shard AND done_at IS NULL",
        id=run_id, shard=shard, rows=rows_written,
    )
    con.run(
        "UPDATE backfill_runs SET updated_at = now(),"
        " status = CASE WHEN status = 'running' AND NOT EXISTS"
        "   (SELECT 1 FROM backfill_shards WHERE run_id = :id AND done_at IS NULL) THEN 'completed' ELSE status END,"
        " finished_at = CASE WHEN status = 'running' AND NOT EXISTS"
        "   (SELECT 1 FROM backfill_shards WHERE run_id = :id AND done_at IS NULL) THEN now() ELSE finished_at END"
        " WHERE id = :id",
        id=run_id,
    )
    state = get_run(con, run_id)
    assert state is not None
    return state


def finish_run(con: pg8000.native.Connection, run_id: str, status: Literal["failed", "abandoned"],
               error: str | None = None) -> None:
    """A run that will not go on: failed (an error retrying cannot fix) or abandoned (--restart)."""
    con.run(
        "UPDATE backfill_runs SET status = :status, error = :error, updated_at = now(), finished_at = now()"
        " WHERE id = :id AND status = 'running'",
        id=run_id, status=status, error=(error or "")[:2000] or None,
    )
