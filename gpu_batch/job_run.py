"""One export job while it renders: cancellation checkpoints, batched progress, heartbeats.

A renderer calls `checkpoint(name)` between phases and `progress(done, total)` as it goes. Both
stop the job (JobCancelled) as soon as it is no longer `processing` in Redis: cancelled through
DELETE, or gone. Progress is written at most every `progress_every` items or `heartbeat_seconds`,
and every write is also the job's heartbeat (`heartbeat_at`) and extends the SQS message's
visibility, so a live worker never has its message handed to another one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from deertrack.jobs import InvalidTransition, JobNotFound, JobStatus, JobStore
from deertrack.logs import logger


class JobCancelled(Exception):
    """The job was cancelled or deleted while rendering: stop, write nothing."""


class ExportFailed(Exception):
    """A failure retrying cannot fix; the message says what a person can do about it."""


Request = TypeVar("Request", bound=BaseModel)


def stored_request(model: type[Request], data: dict[str, Any], label: str | None = None) -> Request:
    """The job's stored request as `model`; one that no longer parses fails the export (ExportFailed).
    `label` names the request in the reason (default: the model's export type)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        label = label or getattr(model, "export_type", model.__name__)
        raise ExportFailed(f"the stored request is not a valid {label} request ({exc.error_count()} problems: "
                           f"{first['loc']} {first['msg']}); submit the export again") from exc


#: Called at every checkpoint with (checkpoint name, job id); tests use it to act mid-render.
CheckpointHook = Callable[[str, str], None]


@dataclass
class JobRun:
    store: JobStore
    job_id: str
    on_checkpoint: CheckpointHook | None = None
    #: Rebuilds the status when it vanished without a tombstone (Redis lost its data, jobs.py).
    on_lost: Callable[[], None] | None = None
    progress_every: int = 200
    heartbeat_seconds: float = 10.0
    total: int = 0
    processed: int = 0
    _last_write: float = field(default_factory=time.monotonic)
    _last_written: int = -1

    def checkpoint(self, name: str) -> None:
        if self.on_checkpoint is not None:
            self.on_checkpoint(name, self.job_id)
        job = self.store.get(self.job_id)
        if job is None and self._recovered():
            job = self.store.get(self.job_id)
        if job is None or job.status is not JobStatus.PROCESSING:
            state = job.status.value if job else "gone"
            logger.info("export stopped at checkpoint", extra={"job_id": self.job_id, "checkpoint": name,
                                                                "status": state})
            raise JobCancelled(f"job {self.job_id} is {state}")

    def progress(self, processed: int, total: int | None = None, *, force: bool = False) -> None:
        """Record progress when a batch is done or the heartbeat is due (or `force`)."""
        self.processed = processed
        if total is not None:
            self.total = total
        now = time.monotonic()
        if not force:
            batch_done = processed - self._last_written >= self.progress_every
            heartbeat_due = now - self._last_write >= self.heartbeat_seconds
            if not (batch_done or heartbeat_due):
                return
        try:
            try:
                self.store.progress(self.job_id, processed, self.total)
            except JobNotFound:
                if not self._recovered():
                    raise
                self.store.progress(self.job_id, processed, self.total)
        except (InvalidTransition, JobNotFound) as exc:
            logger.info("export stopped: job no longer processing", extra={"job_id": self.job_id, "error": str(exc)})
            raise JobCancelled(str(exc)) from exc
        self._last_write, self._last_written = now, processed

    def _recovered(self) -> bool:
        """The status is gone: True when it was lost (no tombstone) and has been rebuilt, False when the job
        was deleted or cancelled on purpose."""
        if self.on_lost is None or self.store.tombstone(self.job_id) is not None:
            return False
        self.on_lost()
        logger.warning("export job status lost mid-render; rebuilt, the job goes on", extra={"job_id": self.job_id})
        return True
