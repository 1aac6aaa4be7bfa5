"""One settings object, read from the environment, validated once at start."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The one default re-identification threshold (cosine similarity). Tuned for the built-in embedder
#: on the demo data set with `deertrack reid evaluate --sweep` (best open-set geometric mean among
#: thresholds that do not multiply deer far beyond the true count); override with REID_THRESHOLD.
DEFAULT_REID_THRESHOLD = 0.85
#: template.yaml's BackfillSchedule default (a test keeps the two equal).
DEFAULT_BACKFILL_SCHEDULE = "cron(0 3 * * ? *)"

#: The issuer and audience of the local user pool's tokens (infra/user_pool.py).
DEFAULT_AUTH_ISSUER = "https://deertrack.local/user-pool"
DEFAULT_AUTH_AUDIENCE = "deertrack-local"

#: settings field -> the suffix template.yaml gives that resource's name.
RESOURCE_SUFFIXES = {
    "exports_queue_name": "exports",
    "reid_queue_name": "reid",
    "export_requests_queue_name": "export-requests",
    "image_events_queue_name": "image-events",
    "exports_dead_letter_queue_name": "exports-dlq",
    "images_bucket": "images",
    "exports_bucket": "exports",
    "requests_bucket": "requests",
}

Port = Annotated[int, Field(ge=1, le=65535)]


class SettingsError(RuntimeError):
    """Raised when an environment variable has an invalid value; the message names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    stage: str = Field("dev", pattern=r"^[a-z0-9-]{1,20}$")

    database_url: str = "postgresql://deertrack@127.0.0.1:5432/deer_tracking"
    #: Superuser connection used only to create the role and database when they are missing.
    database_admin_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"

    redis_url: str = "redis://127.0.0.1:6379/0"
    #: Prepended to every Redis key; tests use it to share a server without collisions.
    redis_key_prefix: str = ""
    job_ttl_seconds: int = Field(3600, ge=60, le=7 * 24 * 3600)

    aws_endpoint_url: str | None = None
    aws_region: str = "us-east-1"

    # Resource names default to template.yaml's names for STAGE ("deertrack-{stage}-<what>").
    exports_queue_name: str = ""
    reid_queue_name: str = ""
    export_requests_queue_name: str = ""
    image_events_queue_name: str = ""
    exports_dead_letter_queue_name: str = ""
    images_bucket: str = ""
    exports_bucket: str = ""
    requests_bucket: str = ""

    presigned_url_seconds: int = Field(900, ge=60, le=7 * 24 * 3600)
    reid_threshold: float = Field(DEFAULT_REID_THRESHOLD, ge=0.0, le=1.0)
    reid_model_uri: str | None = None
    #: When the nightly backfill re-scores detections (EventBridge rate(...) / cron(...), UTC); the
    #: default is template.yaml's BackfillSchedule default.
    backfill_schedule: str = Field(DEFAULT_BACKFILL_SCHEDULE, pattern=r"^(rate|cron)\(.+\)$")
    #: Detections per backfill shard (one reid.backfill message, one transaction each).
    backfill_shard_size: int = Field(500, ge=1, le=10_000)

    #: Sign-in: the tokens the API accepts (the Cognito user pool's issuer and app client in AWS; the local
    #: user pool's locally, infra/user_pool.py) and where their signing keys are published.
    auth_issuer: str = Field(DEFAULT_AUTH_ISSUER, min_length=1)
    auth_audience: str = Field(DEFAULT_AUTH_AUDIENCE, min_length=1)
    auth_jwks_url: str | None = None

    api_host: str = "127.0.0.1"
    api_port: Port = 8001
    log_level: str = Field("INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$")

    @model_validator(mode="after")
    def _default_resource_names(self) -> Settings:
        for field, suffix in RESOURCE_SUFFIXES.items():
            if not getattr(self, field):
                setattr(self, field, f"deertrack-{self.stage}-{suffix}")
        return self

    @field_validator("database_url", "database_admin_url")
    @classmethod
    def _postgres_scheme(cls, value: str) -> str:
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must start with postgresql://")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis:// or rediss://")
        return value

    @field_validator("auth_jwks_url")
    @classmethod
    def _jwks_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("aws_endpoint_url")
    @classmethod
    def _http_endpoint(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")


def load_settings() -> Settings:
    """Read the environment; on a bad value raise SettingsError naming each variable and its rule."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = str(err["loc"][0]).upper() if err["loc"] else "?"
            problems.append(f"{name}: {err['msg']} (got {err.get('input')!r})")
        raise SettingsError("invalid settings: " + "; ".join(problems)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


def reset_settings() -> None:
    """Forget the cached settings (tests change the environment)."""
    get_settings.cache_clear()
