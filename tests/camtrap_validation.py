"""Validate a Camtrap DP 1.0.2 package offline with frictionless: datapackage.json against the Camtrap DP
profile, and every CSV table against its table schema (types, formats, constraints, primary and foreign
keys across the three tables), as frictionless validates any Data Package.

The schemas live in ../shared/camtrap-dp-1.0.2 beside the repository (CI clones it there). No network:
frictionless fetches remote profiles and schemas through its HTTP session, and the one used here
answers the Camtrap DP URLs from those local files, the GeoJSON schema from the copy frictionless
ships, the Data Package base profile with an empty (permissive) schema (frictionless checks the Data
Package rules itself), and refuses every other URL.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
CAMTRAP_DIR = REPO_ROOT.parent / "shared" / "camtrap-dp-1.0.2"
CAMTRAP_URL = "https://raw.githubusercontent.com/tdwg/camtrap-dp/1.0.2/"
#: A remote "$ref" of the profile -> what answers it offline (a local file, or None for a permissive {}).
OTHER_URLS: dict[str, Path | None] = {
    "https://specs.frictionlessdata.io/schemas/data-package.json": None,
}


def camtrap_dir() -> Path:
    if not (CAMTRAP_DIR / "camtrap-dp-profile.json").is_file():
        pytest.skip(f"Camtrap DP 1.0.2 schemas not found at {CAMTRAP_DIR} (clone shared/ beside the repository)")
    return CAMTRAP_DIR


def _local(url: str) -> bytes:
    """The offline answer for `url`; anything not mapped is refused (the validation must not go online)."""
    if url.startswith(CAMTRAP_URL):
        path = camtrap_dir() / url[len(CAMTRAP_URL):]
        if path.is_file():
            return path.read_bytes()
    if url == "http://json.schemastore.org/geojson.json":
        import frictionless

        return (Path(frictionless.__file__).parent / "assets" / "profiles" / "geojson.json").read_bytes()
    if url in OTHER_URLS:
        target = OTHER_URLS[url]
        return target.read_bytes() if target else b"{}"
    raise ConnectionError(f"offline validation: no local copy of {url}")


def _offline_session() -> Any:
    import requests
    from requests.adapters import BaseAdapter
    from urllib3 import HTTPResponse

    class LocalFiles(BaseAdapter):
        def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
            body = _local(str(request.url))
            response = requests.Response()
            response.status_code = 200
            response.url = str(request.url)
            response.request = request
            response.raw = HTTPResponse(body=io.BytesIO(body), preload_content=False, status=200)
            return response

        def close(self) -> None:
            return None

    session = requests.Session()
    session.mount("http://", LocalFiles())
    session.mount("https://", LocalFiles())
    return session


def _temporal_errors(package: dict[str, Any]) -> list[str]:
    """The profile's `format: date` on temporal start/end (JSON Schema draft 4 leaves formats unasserted)."""
    errors = []
    for key in ("start", "end"):
        value = package.get("temporal", {}).get(key)
        try:
            date.fromisoformat(value)
        except (TypeError, ValueError):
            errors.append(f"package-error: temporal/{key}: {value!r} is not a YYYY-MM-DD date")
    return errors


def directory_errors(path: Path) -> list[str]:
    """Every error frictionless finds in the package at `path`, as '<error type>: <message>' lines."""
    from frictionless import Package, system
    from frictionless.exception import FrictionlessException

    descriptor = json.loads((path / "datapackage.json").read_text())
    with system.use_context(http_session=_offline_session()):
        try:
            report = Package(descriptor, basepath=str(path)).validate()
        except FrictionlessException as exc:  # a descriptor that breaks the profile: its tables are not read
            return [f"{exc.error.type}: {exc.error.message}"] + [f"{r.type}: {r.message}" for r in exc.reasons]
    errors = [f"{e.type}: {e.message}" for e in report.errors]
    for task in report.tasks:
        errors += [f"{e.type}: {task.name}: {e.message}" for e in task.errors]
    return errors + _temporal_errors(descriptor)


def zip_errors(archive: zipfile.ZipFile) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="camtrap-dp-") as folder:
        archive.extractall(folder)
        return directory_errors(Path(folder))
