"""`deertrack bench load`: its request mix, its arguments and its report (the run itself is tested in
tests/integration/test_bench_load.py)."""

from __future__ import annotations

import argparse
from collections import Counter

import pytest

from infra.bench.load import MIX, Level, concurrency_levels, percentile, report, request_mix
from infra.cli import build_parser


@pytest.mark.parametrize("count", [1, 7, 10, 2000, 2001])
def test_the_mix_holds_the_issue_shares(count: int) -> None:
    kinds = Counter(request_mix(count))
    assert sum(kinds.values()) == count
    for kind, share in MIX.items():
        assert abs(kinds[kind] - count * share / 100) <= 1
    assert request_mix(50) == request_mix(50) and request_mix(50, seed=1) != request_mix(50, seed=2)


def test_concurrency_levels_are_checked() -> None:
    assert concurrency_levels("1,8,32") == [1, 8, 32]
    for bad in ("", "0", "1,x", "1000"):
        with pytest.raises(argparse.ArgumentTypeError):
            concurrency_levels(bad)


def test_the_benchmark_is_registered_with_the_issue_defaults() -> None:
    args = build_parser().parse_args(["bench", "load"])
    assert args.concurrency == [1, 8, 32] and args.requests == 2000 and args.url is None and callable(args.func)


def test_the_report_gives_each_kind_and_the_errors_of_each_level() -> None:
    level = Level(8, seconds=2.0, client_cpu_seconds=0.5)
    level.samples_ms = {"status": [1.0, 2.0, 3.0], "pdf": [10.0], "deer": [4.0, 5.0]}
    level.errors = Counter({"connection refused": 1})
    shown = level.as_dict()
    assert shown["requests"] == 7 and shown["requests_per_s"] == 3.5 and shown["client_cpu_percent"] == 25.0
    assert shown["kinds"]["status"] == {"route": "GET /api/exports/pdf/{job_id}", "ok": 3, "p50_ms": 2.0,
                                        "p99_ms": 3.0}
    assert shown["errors"] == 1 and shown["error_kinds"] == {"connection refused": 1}
    text = report([level])
    assert "POST /api/exports/pdf" in text and "errors: 1 (1 connection refused)" in text
    assert percentile([], 50) == 0.0
