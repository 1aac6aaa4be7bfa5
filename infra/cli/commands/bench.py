"""`deertrack bench NAME`: the benchmarks, one subcommand each, and `deertrack bench all`.

A benchmark is added from any module in infra/cli/commands (they are all imported before the
`bench` parser is built), at import time or from its register():

    from infra.cli.commands.bench import add_benchmark

    def configure(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--rounds", type=int, default=100)

    def run(args: argparse.Namespace) -> int: ...

    add_benchmark("exports", "PDF render and ZIP throughput", run, configure)

    def register(subparsers: argparse._SubParsersAction) -> None:
        \"\"\"Nothing at the top level: `deertrack bench exports` is added by add_benchmark.\"\"\"

`deertrack bench all` runs every registered benchmark in name order with its defaults, goes on
after a failure, and exits non-zero if any failed. Benchmarks print their figures beside a baseline
measured in the same run (ratios), never absolute pass/fail thresholds.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

BenchFunc = Callable[[argparse.Namespace], "int | None"]
Configure = Callable[[argparse.ArgumentParser], None]


@dataclass(frozen=True)
class Benchmark:
    name: str
    help: str
    func: BenchFunc
    configure: Configure | None = None

    def defaults(self) -> argparse.Namespace:
        """The arguments this benchmark gets when run by `bench all`."""
        parser = argparse.ArgumentParser(prog=f"deertrack bench {self.name}")
        if self.configure:
            self.configure(parser)
        return parser.parse_args([])


_BENCHMARKS: dict[str, Benchmark] = {}
_group: argparse._SubParsersAction | None = None  # the `bench` subcommands, once the parser exists
RESERVED = frozenset({"all"})


def add_benchmark(name: str, help: str, func: BenchFunc, configure: Configure | None = None) -> Benchmark:
    """Register `deertrack bench NAME`. Registering the same name again replaces it (module reloads)."""
    if name in RESERVED or not name.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"invalid benchmark name {name!r}")
    benchmark = Benchmark(name, help, func, configure)
    _BENCHMARKS[name] = benchmark
    if _group is not None and name not in _group.choices:
        _add_parser(_group, benchmark)
    return benchmark


def add_lazy_benchmark(name: str, help: str, module: str) -> Benchmark:
    """Register `deertrack bench NAME` whose `configure(parser)` and `run(args)` live in `module`, imported only
    when the parser is built or the benchmark runs (dev tooling that `deertrack --help` need not load)."""

    def configure(parser: argparse.ArgumentParser) -> None:
        importlib.import_module(module).configure(parser)

    def run(args: argparse.Namespace) -> int | None:
        return importlib.import_module(module).run(args)

    return add_benchmark(name, help, run, configure)


def benchmarks() -> list[Benchmark]:
    return [_BENCHMARKS[name] for name in sorted(_BENCHMARKS)]


def _add_parser(group: argparse._SubParsersAction, benchmark: Benchmark) -> None:
    parser = group.add_parser(benchmark.name, help=benchmark.help, description=benchmark.help)
    if benchmark.configure:
        benchmark.configure(parser)
    parser.set_defaults(func=lambda args, b=benchmark: b.func(args))


def _import_command_modules() -> None:
    from infra.cli import commands

    for info in pkgutil.iter_modules(commands.__path__):
        if info.name != __name__.rsplit(".", 1)[1]:
            importlib.import_module(f"{commands.__name__}.{info.name}")


def register(subparsers: argparse._SubParsersAction) -> None:
    global _group
    _import_command_modules()
    parser = subparsers.add_parser("bench", help="run a benchmark (figures as ratios to a same-run baseline)",
                                   description="Benchmarks print their figures beside a baseline measured in the "
                                               "same run; `bench all` runs every one.")
    group = parser.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    everything = group.add_parser("all", help="run every benchmark in turn with its defaults")
    everything.add_argument("--skip", action="append", default=[], metavar="NAME", help="leave NAME out (repeatable)")
    everything.set_defaults(func=run_all)
    for benchmark in benchmarks():
        _add_parser(group, benchmark)
    _group = group


def run_all(args: argparse.Namespace) -> int:
    unknown = sorted(set(args.skip) - set(_BENCHMARKS))
    if unknown:
        print(f"deertrack bench all: no benchmark named {', '.join(unknown)}", file=sys.stderr)
        return 2
    chosen = [b for b in benchmarks() if b.name not in args.skip]
    if not chosen:
        print("no benchmarks registered")
        return 0
    failed: list[str] = []
    for benchmark in chosen:
        print(f"\n=== bench {benchmark.name}: {benchmark.help}", flush=True)
        started = time.perf_counter()
        try:
            code = int(benchmark.func(benchmark.defaults()) or 0)
        except Exception:  # one broken benchmark must not hide the others' figures
            traceback.print_exc()
            code = 1
        took = time.perf_counter() - started
        print(f"=== bench {benchmark.name}: {'ok' if code == 0 else f'FAILED ({code})'} in {took:.1f} s", flush=True)
        if code:
            failed.append(benchmark.name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
