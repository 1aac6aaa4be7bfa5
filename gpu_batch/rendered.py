"""What an export renderer made: the file's name and content type, and a summary logged with the job."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Rendered:
    filename: str
    content_type: str
    summary: dict[str, Any] = field(default_factory=dict)  # logged with the completed job
