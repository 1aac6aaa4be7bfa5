"""`deertrack bench queries`: the read routes' queries, prepared against unnamed (infra/bench/queries.py)."""

from __future__ import annotations

import argparse

from infra.cli.commands.bench import add_lazy_benchmark

add_lazy_benchmark("queries", "the read routes' database work: kept prepared statements against pg8000's unnamed ones",
                   "infra.bench.queries")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Nothing at the top level: this module adds `deertrack bench queries` through add_lazy_benchmark."""
