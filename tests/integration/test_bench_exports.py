"""`deertrack bench exports` runs end to end on a small season and prints its figures (no timing
assertions: the figures are for people, the machines are noisy)."""

from __future__ import annotations

import pytest

from infra.cli import main

pytestmark = pytest.mark.integration


def test_bench_exports_prints_every_figure(stack, capsys) -> None:
    assert main(["bench", "exports", "--synthetic", "--detections", "200", "--crops", "30", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert "PDF seasonal_activity, 2023-09-01 to 2024-01-31 by month (200 detections" in out
    assert "POST /api/exports/pdf -> worker -> S3 -> GET completed:" in out
    assert "ZIP of 30 crops" in out and "ratio writer / bare = " in out
