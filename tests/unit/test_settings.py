from __future__ import annotations

import pytest

from deertrack.settings import DEFAULT_REID_THRESHOLD, SettingsError, load_settings


def test_defaults_work_here(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "AWS_ENDPOINT_URL", "JOB_TTL_SECONDS", "REID_THRESHOLD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STAGE", "dev")
    settings = load_settings()
    assert settings.job_ttl_seconds == 3600
    assert settings.reid_threshold == DEFAULT_REID_THRESHOLD
    assert settings.exports_queue_name == "deertrack-dev-exports"
    assert settings.requests_bucket == "deertrack-dev-requests"
    assert settings.api_port == 8001


def test_resource_names_follow_stage_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAGE", "prod")
    monkeypatch.setenv("IMAGES_BUCKET", "my-images")
    settings = load_settings()
    assert settings.reid_queue_name == "deertrack-prod-reid"
    assert settings.images_bucket == "my-images"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("JOB_TTL_SECONDS", "abc"),
        ("JOB_TTL_SECONDS", "5"),
        ("REID_THRESHOLD", "1.5"),
        ("DATABASE_URL", "mysql://x"),
        ("REDIS_URL", "http://x"),
        ("AWS_ENDPOINT_URL", "localhost:4566"),
        ("API_PORT", "70000"),
        ("LOG_LEVEL", "LOUD"),
    ],
)
def test_invalid_setting_names_the_variable(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        load_settings()


def test_cli_exits_2_naming_the_variable(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    from deertrack.settings import reset_settings
    from infra.cli import main

    monkeypatch.setenv("JOB_TTL_SECONDS", "never")
    reset_settings()
    try:
        assert main(["migrate", "--no-create"]) == 2
    finally:
        reset_settings()
    assert "JOB_TTL_SECONDS" in capsys.readouterr().err
