"""`deertrack bench load`: the request mix against a running stack (infra/bench/load.py, dev tooling)."""

from __future__ import annotations

import argparse

from infra.cli.commands.bench import add_benchmark


def _configure(parser: argparse.ArgumentParser) -> None:
    from infra.bench.load import configure

    configure(parser)


def _run(args: argparse.Namespace) -> int:
    from infra.bench.load import run

    return run(args)


add_benchmark("load", "throughput and p50/p99 of a request mix against the running stack at concurrency 1, 8, 32",
              _run, _configure)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Nothing at the top level: this module adds `deertrack bench load` through add_benchmark."""
