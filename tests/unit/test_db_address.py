"""DATABASE_URL: where TLS is used (sslmode, as libpq reads it)."""

from __future__ import annotations

import ssl

import pytest

from deertrack.db import DatabaseAddress


def test_loopback_has_no_tls_and_other_hosts_try_it_unless_told() -> None:
    assert DatabaseAddress.parse("postgresql://u@127.0.0.1:5432/d").ssl_context() is False
    assert DatabaseAddress.parse("postgresql://u@localhost/d").ssl_context() is False
    assert DatabaseAddress.parse("postgresql://u@db.example.org/d").ssl_context() is None  # prefer
    assert DatabaseAddress.parse("postgresql://u@db.example.org/d?sslmode=disable").ssl_context() is False
    assert DatabaseAddress.parse("postgresql://u@127.0.0.1/d?sslmode=prefer").ssl_context() is None


def test_require_encrypts_without_verifying_and_verify_full_checks_the_host() -> None:
    required = DatabaseAddress.parse("postgresql://u@x.rds.amazonaws.com/d?sslmode=require").ssl_context()
    assert isinstance(required, ssl.SSLContext) and required.verify_mode == ssl.CERT_NONE
    full = DatabaseAddress.parse("postgresql://u@x.rds.amazonaws.com/d?sslmode=verify-full").ssl_context()
    assert isinstance(full, ssl.SSLContext) and full.check_hostname and full.verify_mode == ssl.CERT_REQUIRED
    ca = DatabaseAddress.parse("postgresql://u@x/d?sslmode=verify-ca").ssl_context()
    assert isinstance(ca, ssl.SSLContext) and not ca.check_hostname and ca.verify_mode == ssl.CERT_REQUIRED


def test_the_url_keeps_its_tls_options_and_a_bad_mode_is_named() -> None:
    address = DatabaseAddress.parse("postgresql://u:p%40ss@h:6432/d?sslmode=require&sslrootcert=/ca.pem")
    assert address.password == "p@ss" and address.sslrootcert == "/ca.pem"
    assert address.with_database("other").url() == "postgresql://u:p@ss@h:6432/other?sslmode=require&sslrootcert=/ca.pem"
    with pytest.raises(ValueError, match="sslmode must be one of disable, allow, prefer, require"):
        DatabaseAddress.parse("postgresql://u@h/d?sslmode=always")


def test_settings_name_a_bad_sslmode_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from deertrack.settings import Settings

    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/d?sslmode=sometimes")
    with pytest.raises(ValidationError, match="sslmode"):
        Settings()
