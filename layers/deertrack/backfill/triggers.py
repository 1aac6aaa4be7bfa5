"""The queued triggers of a backfill: the nightly schedule and the API job. Both plan a run and put
its shards on the reid queue; the worker does the rest (gpu_batch/backfill/job.py)."""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from pydantic import BaseModel, ConfigDict

from deertrack import db
from deertrack.auth import SCHEDULE_SERVICE
from deertrack.backfill import enqueue, runs
from deertrack.backfill.scope import BackfillScope, ScopeFields
from deertrack.jobs import Job, JobStatus, JobStore, QueuedJobView, new_job_id
from deertrack.logs import logger
from deertrack.settings import get_settings

JOB_TYPE = "backfill"
#: A scheduled run still going after this long is taken for dead and abandoned by the next one.
STALE_AFTER_HOURS = 6


# ------------------------------------------------------------------------------------------ schedule


def start_scheduled_backfill(event: dict[str, Any] | None = None) -> dict[str, Any]:
    """The nightly run: every detection with an embedding, in shards on the reid queue.

    Skipped while the previous scheduled run is still being worked on (updated in the last
    STALE_AFTER_HOURS hours); an older unfinished one is abandoned.
    """
    settings = get_settings()
    fired_at = (event or {}).get("time")
    with db.connection(timeout=enqueue.SOCKET_TIMEOUT_S) as con:
        active = con.run(
            "SELECT id, updated_at > now() - make_interval(hours => :hours) FROM backfill_runs"
            " WHERE trigger = 'schedule' AND status = 'running' ORDER BY started_at DESC",
            hours=STALE_AFTER_HOURS,
        )
        for run_id, fresh in active:
            if fresh:
                logger.warning("nightly backfill skipped: the previous one is still running",
                               extra={"run_id": run_id, "scheduled_time": fired_at})
                return {"skipped": True, "run_id": run_id}
            runs.finish_run(con, run_id, "abandoned", f"no progress for {STALE_AFTER_HOURS} hours")
        state = enqueue.enqueue_run(con, BackfillScope(), trigger="schedule", shard_size=settings.backfill_shard_size,
                                   queue_name=settings.reid_queue_name, requested_by=SCHEDULE_SERVICE)
    # the merge job runs with the nightly backfill (it takes the same gallery lock, so never mid-shard)
    from deertrack.messages import MergeJobMessage
    from deertrack.queues import send

    send(settings.reid_queue_name, MergeJobMessage(trigger="schedule"), run_id=state.run_id)
    logger.info("nightly backfill enqueued", extra={"run_id": state.run_id, "shards": state.total_shards,
                                                    "detections": state.total_detections,
                                                    "threshold": state.threshold, "scheduled_time": fired_at,
                                                    "queue": settings.reid_queue_name})
    return {"skipped": False, "run_id": state.run_id, "shards": state.total_shards,
            "detections": state.total_detections}


# ------------------------------------------------------------------------------------------ API job


def _request_schema(schema: dict[str, Any]) -> None:
    """`since` is a date or a date-time, as a string (validated as JSON: a number is no time)."""
    since = schema["properties"]["since"]
    since["anyOf"] = [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"},
                      {"type": "null"}]


class BackfillRequest(ScopeFields):
    """Body of POST /api/reid/backfill (all optional: an empty body re-scores everything)."""

    model_config = ConfigDict(json_schema_extra=_request_schema)

    def scope(self) -> BackfillScope:
        return BackfillScope.model_validate(dict(self))


class BackfillAccepted(BaseModel):
    job_id: str
    status: JobStatus
    status_url: str
    run_id: str
    total_detections: int
    shards: int
    threshold: float


class BackfillJobView(QueuedJobView):
    """The status of a backfill job."""


def status_url(job_id: str) -> str:
    return f"/api/reid/backfill/{job_id}"


def start_backfill_job(request: BackfillRequest, owner: str, store: JobStore | None = None) -> BackfillAccepted:
    """Plan `owner`'s run, create its job (status in Redis), enqueue its shards. The job id is the run id."""
    store = store or JobStore()
    scope = request.scope()
    job_id = new_job_id()
    settings = get_settings()

    def create_job(state: runs.RunState) -> None:
        store.create(JOB_TYPE, request.model_dump(mode="json"), job_id=job_id, total=state.total_detections,
                     total_detections=state.total_detections, owner=owner)

    try:
        with db.connection(timeout=enqueue.SOCKET_TIMEOUT_S) as con:
            state = enqueue.enqueue_run(con, scope, trigger="api", shard_size=settings.backfill_shard_size,
                                       run_id=job_id, job_id=job_id, queue_name=settings.reid_queue_name,
                                       requested_by=owner,
                                       on_planned=create_job)
    except Exception as exc:
        # The run is marked failed by enqueue_run; its job, if it was created, must not stay queued.
        with suppress(Exception):
            store.transition(job_id, JobStatus.FAILED, error=f"could not enqueue the backfill: {exc}"[:1000])
        raise
    job = store.get(job_id)
    if state.total_shards == 0 and job is not None and not job.is_terminal:
        store.transition(job_id, JobStatus.PROCESSING)
        job = store.transition(job_id, JobStatus.COMPLETED)
    return BackfillAccepted(job_id=job_id, status=job.status if job else JobStatus.QUEUED,
                            status_url=status_url(job_id), run_id=state.run_id, total_detections=state.total_detections,
                            shards=state.total_shards, threshold=state.threshold)


def job_view(job: Job) -> dict[str, Any]:
    return BackfillJobView.model_validate(job, from_attributes=True).model_dump(mode="json")
