"""`deertrack bench load`: the request mix against a running stack (infra/bench/load.py, dev tooling)."""

from __future__ import annotations

import argparse

from infra.cli.commands.bench import add_lazy_benchmark

add_lazy_benchmark("load", "throughput and p50/p99 of a request mix against the running stack at concurrency 1, 8, 32",
                   "infra.bench.load")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Nothing at the top level: this module adds `deertrack bench load` through add_lazy_benchmark."""
