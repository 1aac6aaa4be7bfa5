"""One settings object, read from the environment, validated once at start."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from deertrack.reid.crop_quality import CropGate
from deertrack.reid.model_card import thresholds_for

#: The default re-identification threshold (cosine similarity) and merge thresholds: those of the
#: model in use, from its model card (deertrack.reid.model_card; the shipped demo model's card when
#: REID_MODEL_URI is unset). Override with REID_THRESHOLD, REID_MERGE_SUGGEST_THRESHOLD, ….
DEFAULT_THRESHOLDS = thresholds_for(None)
DEFAULT_REID_THRESHOLD = DEFAULT_THRESHOLDS.reid_threshold
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
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore", env_ignore_empty=True)

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
    #: Unset: the model card's value (see DEFAULT_THRESHOLDS); never None once loaded.
    reid_threshold: float | None = Field(None, ge=0.0, le=1.0)
    #: Unset: the shipped demo model; "builtin": the colour/texture embedder; else a TorchScript file or s3://.
    reid_model_uri: str | None = None
    #: The merge job: pairs scoring at least this are suggested, at least that are merged (when on).
    reid_merge_suggest_threshold: float | None = Field(None, ge=0.0, le=1.0)
    reid_merge_auto_threshold: float | None = Field(None, ge=0.0, le=1.0)
    reid_auto_merge: bool | None = None
    #: A deer's gallery of sightings: at most this many exemplar embeddings per deer ...
    reid_max_exemplars: int = Field(16, ge=1, le=256)
    #: ... and a detection's score for a deer is the mean of its this many best cosines to them.
    reid_top_k: int = Field(3, ge=1, le=256)
    #: Detector classes less confident than this count as `unknown` for the re-ID sex rule (reid/classes.py).
    reid_class_min_confidence: float = Field(0.75, ge=0.0, le=1.0)
    #: A track that matches no deer founds none when most of its crops are covered by another box more
    #: than this, or lie nearer a side of the picture than this fraction of it (reid/crop_quality.py).
    reid_crop_max_overlap: float | None = Field(None, ge=0.0, le=1.0)
    reid_crop_edge_margin: float | None = Field(None, ge=0.0, le=0.5)
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
    #: The Cognito hosted sign-in (https://<prefix>.auth.<region>.amazoncognito.com) the review page sends
    #: people to (OAuth code flow with PKCE, client auth_audience); unset, the page asks for a token.
    auth_hosted_ui_url: str | None = None

    api_host: str = "127.0.0.1"
    api_port: Port = 8001
    log_level: str = Field("INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$")

    @model_validator(mode="after")
    def _model_thresholds(self) -> Settings:
        defaults = thresholds_for(self.reid_model_uri or None)
        if self.reid_threshold is None:
            self.reid_threshold = defaults.reid_threshold
        if self.reid_merge_suggest_threshold is None:
            self.reid_merge_suggest_threshold = defaults.merge_suggest_threshold
        if self.reid_merge_auto_threshold is None:
            self.reid_merge_auto_threshold = defaults.merge_auto_threshold
        if self.reid_auto_merge is None:
            self.reid_auto_merge = defaults.auto_merge
        if self.reid_crop_max_overlap is None:
            self.reid_crop_max_overlap = defaults.crop_max_overlap
        if self.reid_crop_edge_margin is None:
            self.reid_crop_edge_margin = defaults.crop_edge_margin
        return self

    @property
    def crop_gate(self) -> CropGate:
        """Which crops are too poor to found a new deer (reid/crop_quality.py)."""
        assert self.reid_crop_max_overlap is not None and self.reid_crop_edge_margin is not None
        return CropGate(self.reid_crop_max_overlap, self.reid_crop_edge_margin)

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
        from deertrack.db import DatabaseAddress  # db reads the settings: imported when they are checked

        DatabaseAddress.parse(value)  # a bad sslmode is named here, at start
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis:// or rediss://")
        return value

    @field_validator("auth_jwks_url", "auth_hosted_ui_url")
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
