"""Merge requests from people and schedules: the request schemas, the queued merge job and its status.

`POST /api/deer/merge-job` and the nightly schedule put a `reid.merge` message on the reid queue;
the re-ID worker runs the merge job (merges.run_merge_job) and, for API runs, keeps its status in
Redis like every job. Hand merges, undos and "not the same" answers run at once (one deer pair).
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from deertrack import db
from deertrack.inputs import INT4_MAX, JsonInt
from deertrack.jobs import Job, JobStatus, JobStore, QueuedJobView, new_job_id
from deertrack.logs import logger
from deertrack.messages import MergeJobMessage
from deertrack.problems import Problem, RequestInvalid
from deertrack.queues import send
from deertrack.settings import get_settings

JOB_TYPE = "merge"


#: What the hand-merge routes check that their schemas cannot say.
PAIR_BEYOND_SCHEMA: Final = {"distinct": "the body's deer is another deer than the path's deer_id",
                             "exists": "both deer exist (404 names the missing one)"}


class MergeRequest(BaseModel):
    """Body of POST /api/deer/{deer_id}/merge: this deer is merged into `into_deer_id`."""

    model_config = ConfigDict(extra="forbid")
    into_deer_id: JsonInt = Field(ge=1, le=INT4_MAX, description="the deer that is kept; the path's deer joins it")
    reason: StrictStr | None = Field(None, max_length=500, description="why (kept with the merge record)")


class NotSameRequest(BaseModel):
    """Body of POST /api/deer/{deer_id}/not-same: a reviewer's answer that two deer are two animals."""

    model_config = ConfigDict(extra="forbid")
    other_deer_id: JsonInt = Field(ge=1, le=INT4_MAX)
    note: StrictStr | None = Field(None, max_length=500)


def distinct(field: str, other: int, deer_id: int) -> None:
    """RequestInvalid unless the body's deer (`field`) is another deer than the path's."""
    if other == deer_id:
        raise RequestInvalid([Problem(field, "distinct", f"{field} must be another deer than deer_id")])


class MergeJobRequest(BaseModel):
    """Body of POST /api/deer/merge-job (all optional: an empty body is `{}`)."""

    model_config = ConfigDict(extra="forbid")
    auto: StrictBool | None = Field(None, description="merge above the auto-merge threshold (default REID_AUTO_MERGE)")
    dry_run: StrictBool = Field(False, description="report what it would merge and suggest; change nothing")


class CandidateQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(50, ge=1, le=500, description="page size")
    offset: int = Field(0, ge=0, le=INT4_MAX, description="rows to skip; the answer's next_offset gives the next page")


class MergeHistoryQuery(CandidateQuery):
    deer_id: int | None = Field(None, ge=1, le=INT4_MAX, description="only merges that kept or merged this deer")


class MergeJobAccepted(BaseModel):
    job_id: str
    status: JobStatus
    status_url: str


class MergeJobView(QueuedJobView):
    """The status of a merge job; `result` is its summary once completed."""

    result: dict[str, Any] | None = None


def status_url(job_id: str) -> str:
    return f"/api/deer/merge-job/{job_id}"


def start_merge_job(request: MergeJobRequest, store: JobStore | None = None,
                    owner: str | None = None) -> MergeJobAccepted:
    store = store or JobStore()
    job = store.create(JOB_TYPE, request.model_dump(mode="json"), job_id=new_job_id(), total=1, owner=owner)
    try:
        send(get_settings().reid_queue_name, MergeJobMessage(job_id=job.job_id, auto=request.auto,
                                                             dry_run=request.dry_run, trigger="api"),
             job_id=job.job_id)
    except Exception as exc:
        store.transition(job.job_id, JobStatus.FAILED, error=f"could not enqueue the merge job: {exc}"[:1000])
        raise
    return MergeJobAccepted(job_id=job.job_id, status=job.status, status_url=status_url(job.job_id))


def job_view(job: Job) -> dict[str, Any]:
    return MergeJobView.model_validate(job, from_attributes=True).model_dump(mode="json")


def run_merge_message(message: MergeJobMessage, store: JobStore | None = None) -> dict[str, Any] | None:
    """The worker's side: run the job, keep its status. Returns the summary (None when cancelled/gone)."""
    from deertrack.reid.merges import SERVICE_ACTOR, run_merge_job

    store = store or (JobStore() if message.job_id else None)
    job = None
    if store is not None and message.job_id:
        job = store.get(message.job_id)
        if job is None or job.is_terminal:
            logger.info("merge job already finished or gone", extra={"job_id": message.job_id})
            return None
        if job.status == JobStatus.QUEUED:
            store.transition(message.job_id, JobStatus.PROCESSING)
    try:
        with db.connection() as con:
            owner = job.owner if job is not None else None
            actor = f"{SERVICE_ACTOR} (run by {owner})" if owner and message.trigger != "schedule" else SERVICE_ACTOR
            summary = run_merge_job(con, auto=message.auto, dry_run=message.dry_run, actor=actor)
    except Exception as exc:
        if store is not None and message.job_id:
            store.transition(message.job_id, JobStatus.FAILED, error=f"merge job failed: {exc}"[:1000])
        raise
    result = summary.as_dict()
    if store is not None and message.job_id:
        store.progress(message.job_id, 1, 1)
        store.transition(message.job_id, JobStatus.COMPLETED, result=result)
    return result
