"""`deertrack worker NAME [ARGS…]`: run one of the batch workers in gpu_batch/ until stopped.

Workers are registered by name in WORKERS (name -> module). Each module provides
`main(argv: list[str] | None) -> int`, which parses its own ARGS and runs until SIGTERM / SIGINT.
A name is offered only once its module exists, so `deertrack up` starts exactly the workers there are.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util

from infra.cli import CommandError

#: worker name -> module with main(argv). Add a line here for a new worker.
WORKERS: dict[str, str] = {
    "reid": "gpu_batch.reid.worker",
    "exports": "gpu_batch.export_worker",
}


def available() -> list[str]:
    names = []
    for name, module in WORKERS.items():
        try:
            if importlib.util.find_spec(module) is not None:
                names.append(name)
        except ModuleNotFoundError:
            continue
    return names


def register(subparsers: argparse._SubParsersAction) -> None:
    names = available()
    parser = subparsers.add_parser(
        "worker", help="run a batch worker (long-polls its SQS queue) until Ctrl-C / SIGTERM",
        description="Workers: " + ", ".join(f"{n} ({WORKERS[n]})" for n in names)
        + ". Options after NAME go to the worker, e.g. `deertrack worker reid --once`.",
    )
    parser.add_argument("name", choices=names, metavar="NAME", help=" | ".join(names))
    parser.add_argument("worker_args", nargs=argparse.REMAINDER, help="options for that worker (see NAME --help)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        module = importlib.import_module(WORKERS[args.name])
    except ImportError as exc:
        raise CommandError(f"worker {args.name!r} cannot be loaded: {exc}") from exc
    return int(module.main(list(args.worker_args)) or 0)
