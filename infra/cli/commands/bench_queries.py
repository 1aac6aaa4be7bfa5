"""`deertrack bench queries`: the read routes' queries, prepared against unnamed (infra/bench/queries.py)."""

from __future__ import annotations

import argparse

from infra.cli.commands.bench import add_benchmark


def _configure(parser: argparse.ArgumentParser) -> None:
    from infra.bench.queries import configure

    configure(parser)


def _run(args: argparse.Namespace) -> int:
    from infra.bench.queries import run

    return run(args)


add_benchmark("queries", "the read routes' database work: kept prepared statements against pg8000's unnamed ones",
              _run, _configure)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Nothing at the top level: this module adds `deertrack bench queries` through add_benchmark."""
