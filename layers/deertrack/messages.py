"""SQS message schemas. Every message is JSON with a `type` and a `version`; consumers are idempotent."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: Literal[1] = 1


class ExportJobMessage(_Message):
    """One export job to render: the worker reads the job's status from Redis by job_id.

    It carries everything the status was created with, so that a worker finding no status and no
    tombstone (Redis lost its data) rebuilds the status from it and finishes the job (jobs.py)."""

    type: Literal["export.requested"] = "export.requested"
    job_id: str = Field(min_length=1, max_length=64)
    export_type: Literal["pdf", "zip", "camtrap-dp"]
    request: dict[str, Any]
    created_at: datetime | None = None  # None: a message from before they carried it
    owner: str | None = None
    total_detections: int | None = None


class ReidBatchMessage(_Message):
    """A batch of new detections to embed, score against every deer and assign."""

    type: Literal["reid.batch"] = "reid.batch"
    batch_id: str = Field(min_length=1, max_length=64)
    detection_ids: list[int] = Field(min_length=1, max_length=10_000)


class BackfillShardMessage(_Message):
    """One shard of a backfill run: re-score the stored embeddings of detections first..last (ids,
    inclusive) that have an embedding (and were captured at or after `since`) against the current
    gallery, and replace their score rows. Idempotent: a shard already done is skipped."""

    type: Literal["reid.backfill"] = "reid.backfill"
    run_id: str = Field(min_length=1, max_length=64)
    shard: int = Field(ge=0)
    first_detection_id: int = Field(ge=1)
    last_detection_id: int = Field(ge=1)
    since: datetime | None = None
    threshold: float = Field(ge=0.0, le=1.0)
    #: The Redis job (API-triggered runs) whose progress the shard reports, if any.
    job_id: str | None = Field(None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _range(self) -> BackfillShardMessage:
        if self.last_detection_id < self.first_detection_id:
            raise ValueError("last_detection_id must be >= first_detection_id")
        return self


class MergeJobMessage(_Message):
    """Run the merge job (auto-merge above its threshold, then store the suggestions). Idempotent: a
    second run finds nothing left above the auto-merge threshold."""

    type: Literal["reid.merge"] = "reid.merge"
    #: The Redis job (API-triggered runs) whose status the worker keeps, if any.
    job_id: str | None = Field(None, min_length=1, max_length=64)
    auto: bool | None = None
    dry_run: bool = False
    trigger: Literal["api", "schedule", "cli"] = "api"


Message = Annotated[ExportJobMessage | ReidBatchMessage | BackfillShardMessage | MergeJobMessage,
                    Field(discriminator="type")]
message_adapter: TypeAdapter[Message] = TypeAdapter(Message)


def parse_message(body: str) -> ExportJobMessage | ReidBatchMessage | BackfillShardMessage | MergeJobMessage:
    """Parse an SQS body; raises pydantic.ValidationError for anything malformed."""
    return message_adapter.validate_json(body)
