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


#: the routes of every other family that reads or writes PostgreSQL (functions/chalicelib): review, merges,
#: thumbnails, backfill, and the PATCH / camtrap-dp / pdf siblings of the routes above. Some open their
#: connection with db.connection() rather than db.reused(), so here every new connection dies.
MORE_ROUTES = [
    ("PATCH", "/api/detections/1", {"is_valid": False}),
    ("GET", "/api/detections/1/crop", None),
    ("GET", "/api/detections/1/photo", None),
    ("POST", "/api/reid/backfill", {}),
    ("GET", "/api/deer/merges", None),
    ("POST", "/api/deer/2/merge", {"into_deer_id": 1}),
    ("POST", "/api/deer/merges/1/undo", {}),
    ("POST", "/api/deer/2/not-same", {"other_deer_id": 1}),
    ("GET", "/api/review/queue", None),
    ("POST", "/api/reviews/1/undo", {}),
    ("POST", "/api/exports/camtrap-dp", {"detection_ids": [1]}),
    ("POST", "/api/exports/pdf", {"report_type": "deer_profile", "deer_id": 1, "start_date": "2023-09-01",
                                  "end_date": "2023-10-01"}),
]


@pytest.fixture
def every_connection_dies(api, monkeypatch):
    """Every new connection's backend is killed as soon as it is open (nothing kept: each request connects),
    which a server restarting under the request also does (57P01)."""
    real = db.connect

    def dying(url=None, timeout=db.DEFAULT_TIMEOUT_S, **options):  # noqa: ANN001, ANN003, ANN202
        con = real(url, timeout=timeout, **options)
        admin = real()
        try:
            admin.run("SELECT pg_terminate_backend(:p)", p=con.run("SELECT pg_backend_pid()")[0][0])
        finally:
            admin.close()
        return con

    db.drop_reused()
    monkeypatch.setattr(db, "connect", dying)
    monkeypatch.setattr(db, "_take", lambda url: None)  # never hand out a kept one
    yield api
    db.drop_reused()


@pytest.mark.parametrize(("method", "path", "body"), MORE_ROUTES, ids=[f"{m} {p}" for m, p, _ in MORE_ROUTES])
def test_every_route_family_answers_503_when_postgres_goes_away(every_connection_dies, method, path, body) -> None:
    answer = call(method, f"{every_connection_dies}{path}", body)
    assert answer.status == 503, (path, answer.status, answer.body)
    assert answer.body["error"] == "service_unavailable" and answer.body["details"][0]["field"] == "postgres"
    assert int(answer.headers["Retry-After"]) > 0
