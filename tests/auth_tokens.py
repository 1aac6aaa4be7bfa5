"""Tokens for the tests, signed by the test session's local user pool (tests/conftest.py starts it).

`tests.export_api_client.call` sends `default_token()` (an admin's) unless a test passes its own `token=`
(or `token=None` for none at all).
"""

from __future__ import annotations

from typing import Any

from deertrack.auth import Role
from infra.user_pool import UserPool

DEFAULT_USER = "test-admin"
_pool: UserPool | None = None


def use_pool(pool: UserPool | None) -> None:
    global _pool
    _pool = pool


def pool() -> UserPool:
    if _pool is None:
        raise RuntimeError("no user pool: use a fixture that starts the API (tests/conftest.py)")
    return _pool


def token(role: Role | str | None = Role.ADMIN, user: str | None = None, **claims: Any) -> str:
    """A valid token of `user` (default: named after the role) in the group `role`."""
    name = user or (f"test-{Role(role).value}" if role is not None else "test-nobody")
    return pool().mint(name, role, **claims)


def default_token() -> str | None:
    return token(Role.ADMIN, DEFAULT_USER) if _pool is not None else None


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}
