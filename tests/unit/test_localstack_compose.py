"""localstack-compose.yml (read as YAML; no Docker here): LocalStack, Redis and PostgreSQL with health
checks, named volumes, and the ports the README and the default settings name.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from deertrack.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "localstack-compose.yml").read_text())


def default(field: str) -> str:
    """The built-in default (not whatever the environment of this test run says)."""
    return str(Settings.model_fields[field].default)


def published(service: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(host address, default host port, container port) of each `ports:` entry."""
    found = []
    for entry in service["ports"]:
        match = re.fullmatch(r"(?:([\d.]+):)?(?:\$\{\w+:-(\d+)\}|(\d+)):(\d+)", entry)
        assert match, entry
        address, variable_default, literal, container = match.groups()
        found.append((address or "0.0.0.0", int(variable_default or literal), int(container)))
    return found


def test_the_three_services_with_health_checks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"localstack", "redis", "postgres"}
    for name, service in services.items():
        check = service["healthcheck"]
        assert check["test"][0] in ("CMD", "CMD-SHELL") and len(check["test"]) > 1, name
        assert int(check["retries"]) >= 3
    assert "_localstack/health" in " ".join(services["localstack"]["healthcheck"]["test"])
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])


def test_ports_are_the_defaults_the_readme_and_settings_name_on_loopback(compose: dict[str, Any]) -> None:
    services = compose["services"]
    expected = {
        "localstack": 4566,
        "redis": urlsplit(default("redis_url")).port,
        "postgres": urlsplit(default("database_url")).port,
    }
    assert expected == {"localstack": 4566, "redis": 6379, "postgres": 5432}
    readme = (ROOT / "README.md").read_text()
    for name, port in expected.items():
        assert published(services[name]) == [("127.0.0.1", port, port)], name
        assert str(port) in readme, f"README does not mention port {port}"


def test_postgres_has_the_role_and_database_the_defaults_use(compose: dict[str, Any]) -> None:
    environment = compose["services"]["postgres"]["environment"]
    url = urlsplit(default("database_url"))
    assert environment["POSTGRES_USER"] == url.username == "deertrack"
    assert environment["POSTGRES_DB"] == url.path.lstrip("/") == "deer_tracking"


def test_named_volumes_keep_the_data(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    mounts = {name: service.get("volumes", []) for name, service in compose["services"].items()}
    for name, volumes in mounts.items():
        named = [v.split(":")[0] for v in volumes if not v.startswith(("/", "."))]
        assert named and set(named) <= declared, name
    assert any(v.endswith(":/var/lib/postgresql/data") for v in mounts["postgres"])
    assert any(v.endswith(":/data") for v in mounts["redis"])


def test_localstack_requires_its_auth_token(compose: dict[str, Any]) -> None:
    token = compose["services"]["localstack"]["environment"]["LOCALSTACK_AUTH_TOKEN"]
    assert token.startswith("${LOCALSTACK_AUTH_TOKEN:?"), "compose must refuse to start without the token"
    services = compose["services"]["localstack"]["environment"]["SERVICES"].split(",")
    assert {"s3", "sqs", "events"} <= set(services)
