"""The `deertrack` command. Each module in infra.cli.commands adds its subcommands via register()."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from deertrack.settings import SettingsError
from gpu_batch.command import CommandError  # one error type for both commands (deertrack, deertrack-batch)

__all__ = ["CommandError", "build_parser", "main", "unit_interval"]


def unit_interval(text: str) -> float:
    """argparse type of thresholds and confidences: a number in 0..1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in 0..1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in 0..1, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from infra.cli import commands

    parser = argparse.ArgumentParser(prog="deertrack", description="deer tracking backend")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"infra.cli.commands.{module_info.name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except SettingsError as exc:
        print(f"deertrack: {exc}", file=sys.stderr)
        return 2
    except CommandError as exc:
        print(f"deertrack: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
