"""Sign-in and roles over HTTP, against the local API server (which checks tokens like the HTTP API's JWT
authorizer): every route × {no token, expired, wrong signature, wrong audience, viewer, reviewer, admin},
job ownership, and reviews recording who made them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from deertrack import db
from deertrack.auth import Role
from infra.api_server import load_app_module
from infra.user_pool import UserPool
from tests.auth_tokens import token
from tests.export_api_client import PDF, call, seed

pytestmark = pytest.mark.integration

PUBLIC = {("GET", "/api/health"), ("GET", "/api/openapi.json"), ("GET", "/review"), ("GET", "/review/review.js")}


def _routes() -> list[tuple[str, str, Role | None]]:
    """(METHOD, concrete path, least role) of every route of the app; None for the public ones."""
    app = load_app_module().app
    from chalicelib.access import PUBLIC as PUBLIC_ROLE
    from chalicelib.access import route_roles

    found = []
    for (method, path), role in sorted(route_roles(app).items()):
        concrete = re.sub(r"\{job_id\}", "0" * 32, path).replace("{asset}", "review.js")
        concrete = re.sub(r"\{[^}]+\}", "1", concrete)
        found.append((method, concrete, None if role == PUBLIC_ROLE else Role(role)))
    return found


def _send(api: str, method: str, path: str, tok: str | None) -> tuple[int, dict, dict]:
    body = {} if method in ("POST", "PATCH") else None
    answer = call(method, api + path, body, token=tok)
    return answer.status, answer.headers, answer.body


def _assert_problem(body: dict, error: str) -> None:
    assert body["error"] == error, body
    assert isinstance(body["message"], str) and body["message"]
    assert [set(d) for d in body["details"]] == [{"field", "rule", "message"}], body


def test_every_route_is_enumerated() -> None:
    routes = _routes()
    assert {(m, p) for m, p, role in routes if role is None} == PUBLIC
    assert len(routes) >= 18


def test_without_a_token_every_route_but_health_and_openapi_is_401(api: str) -> None:
    for method, path, role in _routes():
        status, headers, body = _send(api, method, path, None)
        if role is None:
            assert status == 200, (method, path, status, body)
            continue
        assert status == 401, (method, path, status, body)
        _assert_problem(body, "unauthorized")
        assert body["details"][0]["rule"] == "required"
        assert headers["WWW-Authenticate"].startswith("Bearer"), (method, path)


@pytest.fixture
def bad_tokens(tmp_path: Path) -> dict[str, str]:
    foreign = UserPool(tmp_path / "foreign")  # a key the API's JWKS does not hold
    return {
        "expired": token(Role.ADMIN, issued_at=0, ttl_seconds=60),
        "signature": foreign.mint("mallory", Role.ADMIN),
        "audience": token(Role.ADMIN, audience="another-app"),
        "issuer": token(Role.ADMIN, issuer="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other"),
        "not_before": token(Role.ADMIN, not_before=4_000_000_000),
        "valid_token": "not.a.jwt",
        "bearer": "",  # sent as "Bearer " below
    }


def test_expired_foreign_signed_wrong_audience_or_issuer_tokens_are_401(api: str, bad_tokens: dict) -> None:
    for rule, bad in bad_tokens.items():
        for method, path, role in _routes():
            if rule == "bearer":
                answer = call(method, api + path, {} if method in ("POST", "PATCH") else None, token=None,
                              headers={"Authorization": "Basic dXNlcjpwYXNz"})
                status, headers, body = answer.status, answer.headers, answer.body
            else:
                status, headers, body = _send(api, method, path, bad)
            if role is None:
                assert status == 200, (rule, method, path)
                continue
            assert status == 401, (rule, method, path, status, body)
            _assert_problem(body, "unauthorized")
            assert body["details"][0]["rule"] == rule, (rule, body)
            assert 'error="invalid_token"' in headers["WWW-Authenticate"], (rule, headers)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.REVIEWER, Role.ADMIN])
def test_each_role_reaches_what_it_may_and_gets_403_elsewhere(api: str, role: Role) -> None:
    tok = token(role)
    for method, path, needed in _routes():
        status, _, body = _send(api, method, path, tok)
        if needed is None or role.allows(needed):
            assert status not in (401, 403), (role, method, path, status, body)
        else:
            assert status == 403, (role, method, path, status, body)
            _assert_problem(body, "forbidden")
            assert body["details"][0]["rule"] == "role" and needed.value in body["message"]


def test_a_token_without_a_role_group_is_403_everywhere_but_the_public_routes(api: str) -> None:
    tok = token(None, user="nobody")
    for method, path, needed in _routes():
        status, _, body = _send(api, method, path, tok)
        assert status == (200 if needed is None else 403), (method, path, status, body)


def test_a_viewer_cannot_patch_a_detection_and_a_reviewer_can(api: str) -> None:
    s = seed()
    url = f"{api}/api/detections/{s.detection_ids[0]}"
    refused = call("PATCH", url, {"is_valid": False}, token=token(Role.VIEWER))
    assert refused.status == 403 and refused.body["error"] == "forbidden"
    with db.connection() as con:
        assert con.run("SELECT is_valid, reviewed_by FROM detections WHERE id = :i", i=s.detection_ids[0]) == \
            [[True, None]]
    done = call("PATCH", url, {"is_valid": False}, token=token(Role.REVIEWER, user="rita"))
    assert done.status == 200, done.body
    assert done.body["review"]["reviewed_by"] == "rita"
    assert done.body["reviewed"]["by"] == "rita"


def test_review_actions_record_the_user(api: str) -> None:
    s = seed()
    detection = s.detection_ids[4]  # the unassigned fawn
    answer = call("PATCH", f"{api}/api/detections/{detection}",
                  {"corrected_classification": "doe", "deer_id": s.deer_ids[1], "note": "ear notch"},
                  token=token(Role.REVIEWER, user="rita"))
    assert answer.status == 200, answer.body
    with db.connection() as con:
        reviewed_by, reviewed_at, note = con.run(
            "SELECT reviewed_by, reviewed_at, reid_note FROM detections WHERE id = :i", i=detection)[0]
        truth = con.run("SELECT source, recorded_by FROM detection_truth WHERE detection_id = :i", i=detection)
    assert reviewed_by == "rita" and reviewed_at is not None and "review by rita" in note
    assert truth == [["review", "rita"]]
    view = call("GET", f"{api}/api/detections/{detection}", token=token(Role.VIEWER)).body
    assert view["reviewed"]["by"] == "rita" and view["truth"] == {"individual_key": f"deer-{s.deer_ids[1]}",
                                                                  "source": "review"}


def test_a_job_belongs_to_whoever_asked_for_it(api: str) -> None:
    ann, bob = token(Role.VIEWER, user="ann"), token(Role.VIEWER, user="bob")
    created = call("POST", f"{api}/api/exports/pdf", PDF, token=ann)
    assert created.status == 202, created.body
    job = created.body["job_id"]
    mine = call("GET", f"{api}/api/exports/pdf/{job}", token=ann)
    assert mine.status == 200 and mine.body["owner"] == "ann"
    for method, path in (("GET", f"/api/exports/pdf/{job}"), ("DELETE", f"/api/exports/{job}")):
        theirs = call(method, api + path, token=bob)
        assert theirs.status == 404 and theirs.body["error"] == "not_found", (method, theirs.body)
    reviewer = call("GET", f"{api}/api/exports/pdf/{job}", token=token(Role.REVIEWER, user="rita"))
    assert reviewer.status == 404
    admin = call("GET", f"{api}/api/exports/pdf/{job}", token=token(Role.ADMIN, user="ada"))
    assert admin.status == 200 and admin.body["owner"] == "ann"
    assert call("DELETE", f"{api}/api/exports/{job}", token=ann).status == 204
    assert call("GET", f"{api}/api/exports/pdf/{job}", token=token(Role.ADMIN)).status == 404


def test_an_admin_may_cancel_anyones_job(api: str) -> None:
    job = call("POST", f"{api}/api/exports/pdf", PDF, token=token(Role.VIEWER, user="ann")).body["job_id"]
    assert call("DELETE", f"{api}/api/exports/{job}", token=token(Role.ADMIN, user="ada")).status == 204


def test_idempotency_keys_are_each_users_own(api: str) -> None:
    key = {"Idempotency-Key": "season-1"}
    ann = call("POST", f"{api}/api/exports/pdf", PDF, headers=key, token=token(Role.VIEWER, user="ann"))
    again = call("POST", f"{api}/api/exports/pdf", PDF, headers=key, token=token(Role.VIEWER, user="ann"))
    bob = call("POST", f"{api}/api/exports/pdf", PDF, headers=key, token=token(Role.VIEWER, user="bob"))
    assert ann.status == again.status == bob.status == 202
    assert again.body["job_id"] == ann.body["job_id"] != bob.body["job_id"]
    assert call("GET", f"{api}/api/exports/pdf/{bob.body['job_id']}", token=token(Role.VIEWER, user="ann")).status \
        == 404


def test_backfills_are_for_admins_and_their_jobs_are_theirs(api: str) -> None:
    refused = call("POST", f"{api}/api/reid/backfill", {}, token=token(Role.REVIEWER))
    assert refused.status == 403
    started = call("POST", f"{api}/api/reid/backfill", {}, token=token(Role.ADMIN, user="ada"))
    assert started.status == 202, started.body
    job = started.body["job_id"]
    assert call("GET", f"{api}/api/reid/backfill/{job}", token=token(Role.VIEWER, user="ann")).status == 404
    seen = call("GET", f"{api}/api/reid/backfill/{job}", token=token(Role.ADMIN, user="other-admin"))
    assert seen.status == 200 and seen.body["owner"] == "ada"
    with db.connection() as con:
        assert con.run("SELECT requested_by FROM backfill_runs WHERE id = :i", i=job) == [["ada"]]
