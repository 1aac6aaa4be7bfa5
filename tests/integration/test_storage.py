"""Presigned download URLs (deertrack.storage.presigned_get) against the emulator: one that works, reused
while it is fresh, a new one for another object, name, client or lifetime."""

from __future__ import annotations

import urllib.request
from datetime import UTC, datetime, timedelta

import pytest

from deertrack import storage
from deertrack.aws import reset_clients
from deertrack.settings import get_settings

pytestmark = pytest.mark.integration


def test_a_presigned_url_downloads_and_is_reused_while_fresh(stack, monkeypatch: pytest.MonkeyPatch) -> None:
    bucket = get_settings().exports_bucket
    storage.put_bytes(bucket, "exports/t1/report.pdf", b"%PDF-1.4 test")
    first = storage.presigned_get(bucket, "exports/t1/report.pdf", "report.pdf")
    with urllib.request.urlopen(first.url, timeout=10) as answer:
        assert answer.read() == b"%PDF-1.4 test"
        assert 'filename="report.pdf"' in answer.headers["Content-Disposition"]
    lifetime = timedelta(seconds=get_settings().presigned_url_seconds)
    assert abs(first.expires_at - (datetime.now(UTC) + lifetime)) < timedelta(seconds=30)
    assert storage.presigned_get(bucket, "exports/t1/report.pdf", "report.pdf") is first
    assert storage.presigned_get(bucket, "exports/t1/report.pdf", "other.pdf").url != first.url
    assert storage.presigned_get(bucket, "exports/t2/report.pdf", "report.pdf").url != first.url
    monkeypatch.setattr(storage, "PRESIGNED_REUSE_SECONDS", 0.0)
    reset_clients()  # another client (endpoint, keys): never its predecessor's URL
    again = storage.presigned_get(bucket, "exports/t1/report.pdf", "report.pdf")
    assert again is not first
    assert storage.presigned_get(bucket, "exports/t1/report.pdf", "report.pdf") is not again
