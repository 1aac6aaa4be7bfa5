"""SQS message schemas. Every message is JSON with a `type` and a `version`; consumers are idempotent."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: Literal[1] = 1


class ExportJobMessage(_Message):
    """One export job to render: the worker reads the job's status from Redis by job_id."""

    type: Literal["export.requested"] = "export.requested"
    job_id: str = Field(min_length=1, max_length=64)
    export_type: Literal["pdf", "zip", "camtrap-dp"]
    request: dict[str, Any]


class ReidBatchMessage(_Message):
    """A batch of new detections to embed, score against every deer and assign."""

    type: Literal["reid.batch"] = "reid.batch"
    batch_id: str = Field(min_length=1, max_length=64)
    detection_ids: list[int] = Field(min_length=1, max_length=10_000)


Message = Annotated[ExportJobMessage | ReidBatchMessage, Field(discriminator="type")]
message_adapter: TypeAdapter[Message] = TypeAdapter(Message)


def parse_message(body: str) -> ExportJobMessage | ReidBatchMessage:
    """Parse an SQS body; raises pydantic.ValidationError for anything malformed."""
    return message_adapter.validate_json(body)
