"""One shard of a backfill, the single code path of every trigger: load the stored embeddings of the
shard's detections and the current gallery, re-score, and replace the detections' score rows.

Everything happens in one transaction under the re-ID gallery lock (the same advisory lock the re-ID
worker takes), so a shard never interleaves with a re-ID batch and a detection's rows are replaced
whole or not at all:

* a chunked shard deletes its detections' rows and COPYs the new ones;
* an atomic shard (the whole log at once) TRUNCATEs the log and COPYs every row: in one transaction
  that is as cheap as a COPY into an empty table, and readers see the old log until the commit.

The shard is marked done in the same transaction, so a redelivered message finds it done and skips.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import pg8000.native

from deertrack.backfill import runs
from deertrack.logs import logger
from deertrack.reid.assignment import lock_gallery
from deertrack.reid.gallery import load_gallery
from deertrack.reid.score_log import MATRIX_COLUMNS, copy_chunks
from gpu_batch.backfill.rescore import Rescored, load_detections, rescore

TABLE = "reid_similarity_scores"


class BackfillStopped(Exception):
    """The shard was asked to stop before it committed; nothing of it was written."""


@dataclass(frozen=True)
class ShardResult:
    run_id: str | None
    shard: int
    detections: int
    rows: int
    matched_detections: int
    changed_detections: int
    deer: int
    seconds: float
    skipped: bool = False  # already done (a redelivered message)
    dry_run: bool = False
    run: runs.RunState | None = None

    def as_log(self) -> dict[str, object]:
        return {"run_id": self.run_id, "shard": self.shard, "detections": self.detections, "rows": self.rows,
                "matched_detections": self.matched_detections, "changed_detections": self.changed_detections,
                "deer": self.deer, "seconds": round(self.seconds, 3), "skipped": self.skipped,
                "dry_run": self.dry_run}


def _result(rescored: Rescored | None, run_id: str | None, shard: int, started: float, **extra: object) -> ShardResult:
    return ShardResult(
        run_id=run_id, shard=shard,
        detections=rescored.detections if rescored else 0, rows=rescored.rows if rescored else 0,
        matched_detections=rescored.matched_detections if rescored else 0,
        changed_detections=rescored.changed_detections if rescored else 0,
        deer=len(rescored.deer_ids) if rescored else 0, seconds=time.perf_counter() - started, **extra,  # type: ignore[arg-type]
    )


def _rollback(con: pg8000.native.Connection) -> None:
    try:
        con.run("ROLLBACK")
    except Exception:  # noqa: BLE001 - the connection is broken; closing it aborts the transaction
        logger.warning("rollback failed; the connection will be closed", extra={"db_op": "ROLLBACK"})


def process_shard(
    con: pg8000.native.Connection, *, first: int, last: int, since: datetime | None, threshold: float,
    run_id: str | None = None, shard: int = 0, atomic: bool = False, dry_run: bool = False,
    on_progress: Callable[[int], None] | None = None, abort: Callable[[], bool] | None = None,
) -> ShardResult:
    """Re-score detections first..last (the scope's selection within that range) and replace their rows.

    `on_progress(detections done in this shard)` is called as rows stream to the server; when
    `abort()` turns true the shard stops, rolls back and raises BackfillStopped. `dry_run` computes
    everything in a READ ONLY transaction and writes nothing.
    """
    started = time.perf_counter()
    log = {"run_id": run_id, "shard": shard, "first_detection_id": first, "last_detection_id": last,
           "atomic": atomic}
    if dry_run:
        con.run("START TRANSACTION READ ONLY")
        try:
            rescored = rescore(load_detections(con, first, last, since), load_gallery(con), threshold)
        finally:
            _rollback(con)
        if on_progress is not None:
            on_progress(rescored.detections)
        return _result(rescored, run_id, shard, started, dry_run=True)

    con.run("BEGIN")
    try:
        lock_gallery(con)
        if run_id is not None and runs.shard_is_done(con, run_id, shard):
            con.run("ROLLBACK")
            logger.info("backfill shard already done; skipped", extra=log)
            return _result(None, run_id, shard, started, skipped=True, run=runs.get_run(con, run_id))
        if atomic:
            con.run(f"TRUNCATE {TABLE}")
        rescored = rescore(load_detections(con, first, last, since), load_gallery(con), threshold)
        if not atomic and rescored.detections:
            con.run(f"DELETE FROM {TABLE} WHERE detection_id = ANY(CAST(:ids AS BIGINT[]))",
                    ids=rescored.detection_ids.tolist())
        if rescored.rows:
            copy_chunks(con, rescored.copy_chunks(on_progress, abort), TABLE, MATRIX_COLUMNS)
        if abort is not None and abort():
            raise BackfillStopped(f"shard {shard} stopped before its commit; nothing of it was written")
        state = runs.mark_shard_done(con, run_id, shard, rescored.rows) if run_id is not None else None
        con.run("COMMIT")
    except KeyboardInterrupt:
        # A hard stop may land in the middle of a COPY message: never talk to the server again on this
        # connection; closing it (the caller's job) makes PostgreSQL roll the transaction back.
        raise
    except BaseException:
        _rollback(con)
        raise
    if on_progress is not None and not rescored.rows:
        on_progress(rescored.detections)
    result = _result(rescored, run_id, shard, started, run=state)
    logger.info("backfill shard done", extra={**log, **result.as_log(), "db_op": "TRUNCATE+COPY" if atomic
                                               else "DELETE+COPY"})
    return result
