"""PostgreSQL going away in the middle of a request answers 503 with Retry-After on every route family,
never 500 (the decorator every view has maps it, deertrack/outages.py)."""

from __future__ import annotations

import pytest

from deertrack import db
from tests.export_api_client import call

pytestmark = pytest.mark.integration

#: one route of each family that reads or writes PostgreSQL
ROUTES = [
    ("GET", "/api/deer?limit=5", None),
    ("GET", "/api/deer/1", None),
    ("GET", "/api/detections/1", None),
    ("POST", "/api/detections", {"images": [{"image_key": "a.jpg", "captured_at": "2023-10-01T06:00:00Z",
                                             "location_code": "C1", "boxes": []}]}),
    ("GET", "/api/reid/analysis", None),
    ("GET", "/api/reid/scores?detection_id=1", None),
    ("GET", "/api/deer/merge-candidates", None),
    ("POST", "/api/exports/zip", {"detection_ids": [1, 2]}),  # the ids are looked up
]


@pytest.fixture
def postgres_dies_mid_request(api, monkeypatch):
    """Every reused connection's backend is killed just before its first statement of a request."""
    real = db.reused

    def killing(url=None):  # noqa: ANN001, ANN202
        context = real(url)
        con = context.__enter__()
        with db.connection() as admin:
            admin.run("SELECT pg_terminate_backend(:p)", p=con.run("SELECT pg_backend_pid()")[0][0])

        class Dying:
            def __enter__(self):  # noqa: ANN204
                return con

            def __exit__(self, *exc):  # noqa: ANN002, ANN204
                return context.__exit__(*exc)

        return Dying()

    monkeypatch.setattr(db, "reused", killing)
    return api


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_postgres_lost_mid_request_is_503_with_retry_after(postgres_dies_mid_request, method, path, body) -> None:
    answer = call(method, f"{postgres_dies_mid_request}{path}", body)
    assert answer.status == 503, (path, answer.status, answer.body)
    assert answer.body["error"] == "service_unavailable" and answer.body["details"][0]["field"] == "postgres"
    assert int(answer.headers["Retry-After"]) > 0
