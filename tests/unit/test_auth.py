"""deertrack.auth (roles, principal from claims) and infra/authorizer.py (the local JWT authorizer)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from deertrack.auth import Principal, Role, principal_from_claims, role_of_groups
from deertrack.auth.principal import groups_of
from deertrack.problems import Unauthorized
from infra.authorizer import JwtAuthorizer, gateway_claims
from infra.user_pool import UserPool

ISSUER, AUDIENCE = "https://issuer.test/pool", "app-client"


def test_roles_are_ordered_viewer_reviewer_admin() -> None:
    assert Role.ADMIN.allows(Role.REVIEWER) and Role.REVIEWER.allows(Role.VIEWER)
    assert not Role.VIEWER.allows(Role.REVIEWER) and not Role.REVIEWER.allows(Role.ADMIN)
    assert role_of_groups(["viewer", "admin", "birders"]) is Role.ADMIN
    assert role_of_groups(["birders"]) is None


@pytest.mark.parametrize("value, groups", [
    (["reviewer", "viewer"], ["reviewer", "viewer"]),  # a decoded token
    ("[reviewer viewer]", ["reviewer", "viewer"]),  # API Gateway's string form
    ("[admin]", ["admin"]), ("viewer", ["viewer"]), (None, []), ("[]", []),
])
def test_groups_claim_in_either_form(value: object, groups: list[str]) -> None:
    assert groups_of(value) == groups


def test_principal_from_claims() -> None:
    found = principal_from_claims({"sub": "u-1", "cognito:username": "ann", "cognito:groups": "[reviewer]"})
    assert found == Principal(user="ann", role=Role.REVIEWER, subject="u-1")
    assert principal_from_claims({"sub": "u-2"}) == Principal(user="u-2", role=None, subject="u-2")
    assert principal_from_claims({}) is None


def test_a_job_is_seen_by_its_owner_and_admins() -> None:
    ann, bob = Principal(user="ann", role=Role.VIEWER), Principal(user="bob", role=Role.REVIEWER)
    ada = Principal(user="ada", role=Role.ADMIN)
    assert ann.sees("ann") and not bob.sees("ann") and ada.sees("ann")
    assert not ann.sees(None) and ada.sees(None)


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UserPool]:
    pool = UserPool(tmp_path_factory.mktemp("pool"))
    pool.serve()
    yield pool
    pool.stop()


@pytest.fixture(scope="module")
def authorizer(pool: UserPool) -> JwtAuthorizer:
    return JwtAuthorizer(pool.jwks_url, ISSUER, AUDIENCE)


def _mint(pool: UserPool, **kwargs: object) -> str:
    return pool.mint("ann", Role.VIEWER, **{"issuer": ISSUER, "audience": AUDIENCE, **kwargs})  # type: ignore[arg-type]


def test_a_good_token_gives_its_claims(pool: UserPool, authorizer: JwtAuthorizer) -> None:
    claims = authorizer.verify(f"Bearer {_mint(pool)}")
    assert claims["cognito:username"] == "ann" and claims["cognito:groups"] == ["viewer"]
    shown = gateway_claims(claims)
    assert shown["cognito:groups"] == "[viewer]" and shown["exp"] == str(claims["exp"])
    assert principal_from_claims(shown) == Principal(user="ann", role=Role.VIEWER, subject=claims["sub"])


def test_the_same_key_is_kept_in_the_state_directory(pool: UserPool, authorizer: JwtAuthorizer) -> None:
    again = UserPool(pool.directory)
    assert again.key_id == pool.key_id
    assert authorizer.verify(f"Bearer {_mint(again)}")["cognito:username"] == "ann"


@pytest.mark.parametrize("case, rule", [
    ("missing", "required"), ("basic", "bearer"), ("expired", "expired"), ("not_before", "not_before"),
    ("issuer", "issuer"), ("audience", "audience"), ("foreign", "signature"), ("garbage", "valid_token"),
])
def test_bad_tokens_are_refused_naming_why(pool: UserPool, authorizer: JwtAuthorizer, tmp_path: Path,
                                           case: str, rule: str) -> None:
    headers = {
        "missing": None,
        "basic": "Basic dXNlcjpwYXNz",
        "expired": f"Bearer {_mint(pool, issued_at=time.time() - 7200, ttl_seconds=3600)}",
        "not_before": f"Bearer {_mint(pool, not_before=time.time() + 600)}",
        "issuer": f"Bearer {_mint(pool, issuer='https://elsewhere')}",
        "audience": f"Bearer {_mint(pool, audience='another-client')}",
        "foreign": f"Bearer {_mint(UserPool(tmp_path))}",
        "garbage": "Bearer abc.def.ghi",
    }
    with pytest.raises(Unauthorized) as refused:
        authorizer.verify(headers[case])
    assert refused.value.status == 401 and refused.value.rule == rule
    assert refused.value.headers()["WWW-Authenticate"].startswith('Bearer realm="deertrack"')


def test_without_a_jwks_nothing_is_accepted(pool: UserPool) -> None:
    with pytest.raises(Unauthorized) as refused:
        JwtAuthorizer(None, ISSUER, AUDIENCE).verify(f"Bearer {_mint(pool)}")
    assert refused.value.rule == "configured"


def test_deertrack_token_prints_the_token_alone_on_its_last_line(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from deertrack.settings import get_settings
    from infra.cli import main

    assert main(["token", "--user", "ann", "--role", "reviewer", "--ttl", "120", "--state-dir", str(tmp_path)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    pool = UserPool(tmp_path / "auth")  # the key the command made, as `deertrack up` would publish it
    pool.serve()
    try:
        settings = get_settings()
        claims = JwtAuthorizer(pool.jwks_url, settings.auth_issuer, settings.auth_audience).verify(f"Bearer {last}")
    finally:
        pool.stop()
    assert claims["cognito:username"] == "ann" and claims["cognito:groups"] == ["reviewer"]
    assert claims["exp"] - claims["iat"] == 120
    assert main(["token", "--user", "ann", "--role", "viewer", "--ttl", "0", "--state-dir", str(tmp_path)]) == 2
