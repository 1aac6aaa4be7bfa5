"""The local JWT authorizer remembers a token it verified (never past its expiry, never one it refused),
against a user pool's JWKS served over HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from deertrack.auth import Role
from deertrack.problems import Unauthorized
from deertrack.settings import get_settings
from infra import authorizer as authorizer_module
from infra.authorizer import JwtAuthorizer
from infra.user_pool import UserPool

pytestmark = pytest.mark.integration


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[UserPool]:
    users = UserPool(tmp_path / "auth")
    users.serve()
    yield users
    users.stop()


def _counting(authorizer: JwtAuthorizer) -> list[str]:
    """The tokens that get the full check (signature and claims), in order."""
    checked: list[str] = []
    full = authorizer._verify

    def verify(token: str) -> dict:
        checked.append(token)
        return full(token)

    authorizer._verify = verify  # type: ignore[method-assign]
    return checked


def test_a_verified_token_is_taken_on_trust_for_a_while(pool: UserPool) -> None:
    settings = get_settings()
    jwt = JwtAuthorizer(pool.jwks_url, settings.auth_issuer, settings.auth_audience)
    checked = _counting(jwt)
    ann, bob = pool.mint("ann", Role.VIEWER), pool.mint("bob", Role.ADMIN)
    for _ in range(3):
        assert jwt.verify(f"Bearer {ann}")["cognito:username"] == "ann"
        assert jwt.verify(f"Bearer {bob}")["cognito:username"] == "bob"
    assert checked == [ann, bob]  # each once


def test_a_refused_token_is_refused_every_time(pool: UserPool, tmp_path: Path) -> None:
    settings = get_settings()
    jwt = JwtAuthorizer(pool.jwks_url, settings.auth_issuer, settings.auth_audience)
    checked = _counting(jwt)
    stranger = UserPool(tmp_path / "other").mint("eve", Role.ADMIN)  # signed by a key the JWKS lacks
    wrong_audience = pool.mint("ann", Role.VIEWER, audience="another-app")
    for _ in range(2):
        with pytest.raises(Unauthorized) as refused:
            jwt.verify(f"Bearer {stranger}")
        assert refused.value.rule == "signature"
        with pytest.raises(Unauthorized) as refused:
            jwt.verify(f"Bearer {wrong_audience}")
        assert refused.value.rule == "audience"
    assert checked == [stranger, wrong_audience] * 2


def test_a_remembered_token_still_expires_on_time(pool: UserPool) -> None:
    settings = get_settings()
    jwt = JwtAuthorizer(pool.jwks_url, settings.auth_issuer, settings.auth_audience)
    short = pool.mint("ann", Role.VIEWER, ttl_seconds=2)
    assert jwt.verify(f"Bearer {short}")["cognito:username"] == "ann"
    deadline = time.time() + 10
    while time.time() < deadline:  # verified again once its exp has passed, and refused
        try:
            jwt.verify(f"Bearer {short}")
        except Unauthorized as refused:
            assert refused.rule == "expired"
            break
        time.sleep(0.2)
    else:
        pytest.fail("a token past its exp was still accepted")


def test_trust_ends_after_its_time_and_the_token_is_checked_again(pool: UserPool,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    settings = get_settings()
    monkeypatch.setattr(authorizer_module, "VERIFIED_FOR_SECONDS", 0.0)
    jwt = JwtAuthorizer(pool.jwks_url, settings.auth_issuer, settings.auth_audience)
    checked = _counting(jwt)
    ann = pool.mint("ann", Role.VIEWER)
    jwt.verify(f"Bearer {ann}")
    jwt.verify(f"Bearer {ann}")
    assert checked == [ann, ann]
