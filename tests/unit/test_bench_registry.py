"""`deertrack bench`: one parser group that every module can add a benchmark to; `bench all` runs them."""

from __future__ import annotations

import argparse

import pytest

from infra.cli import build_parser, main
from infra.cli.commands import bench


@pytest.fixture
def registry(monkeypatch):
    """An empty registry for the test (the real benchmarks are put back afterwards)."""
    monkeypatch.setattr(bench, "_BENCHMARKS", {})
    monkeypatch.setattr(bench, "_group", None)
    return bench


def test_the_api_benchmark_is_registered() -> None:
    parser = build_parser()
    args = parser.parse_args(["bench", "api", "--requests", "50"])
    assert args.requests == 50 and callable(args.func)
    assert "api" in {b.name for b in bench.benchmarks()}


def test_bench_all_runs_every_benchmark_with_its_defaults_and_goes_on_after_a_failure(registry, capsys) -> None:
    ran: list[tuple[str, int]] = []

    def configure(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--rounds", type=int, default=3)

    def good(args: argparse.Namespace) -> int:
        ran.append(("good", args.rounds))
        return 0

    def broken(args: argparse.Namespace) -> int:
        ran.append(("broken", 0))
        raise RuntimeError("boom")

    registry.add_benchmark("zeta", "a good one", good, configure)
    registry.add_benchmark("alpha", "a broken one", broken)
    parser = argparse.ArgumentParser()
    registry.register(parser.add_subparsers(dest="command"))
    late = []
    registry.add_benchmark("late", "added after the parser exists", lambda a: late.append(a) or 0)

    args = parser.parse_args(["bench", "all"])
    assert args.func(args) == 1  # alpha failed
    assert ran == [("broken", 0), ("good", 3)] and len(late) == 1
    out = capsys.readouterr().out
    assert "bench alpha: FAILED" in out and "bench zeta: ok" in out

    args = parser.parse_args(["bench", "zeta", "--rounds", "7"])
    assert args.func(args) == 0 and ran[-1] == ("good", 7)
    args = parser.parse_args(["bench", "all", "--skip", "alpha"])
    assert args.func(args) == 0


def test_names_are_checked(registry) -> None:
    with pytest.raises(ValueError):
        registry.add_benchmark("all", "reserved", lambda a: 0)
    with pytest.raises(ValueError):
        registry.add_benchmark("two words", "bad", lambda a: 0)


def test_bad_request_count_is_refused(capsys) -> None:
    assert main(["bench", "api", "--requests", "5"]) == 2
    assert "--requests must be" in capsys.readouterr().err
