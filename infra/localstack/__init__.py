"""The embedded LocalStack: its pinned open-source core in a virtualenv of its own, run in host mode."""

from infra.localstack.runtime import LocalStackRuntime, LocalStackUnavailable, locked_version
from infra.localstack.server import EmbeddedLocalStack, localstack_health

__all__ = ["EmbeddedLocalStack", "LocalStackRuntime", "LocalStackUnavailable", "localstack_health", "locked_version"]
