"""`deertrack localstack install`: put LocalStack's pinned core into its virtualenv now, not at the first `up`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from infra.cli import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "localstack",
        help="the embedded LocalStack's virtualenv (installed on first use by `deertrack up`)",
        description="Install LocalStack's open-source core, exactly as infra/localstack/requirements.lock pins "
        "it, into its own virtualenv: DEERTRACK_LOCALSTACK_VENV, else <state dir>/localstack/venv.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    install = actions.add_parser("install", help="install it now unless it is installed (prints the time it took)")
    install.add_argument("--state-dir", type=Path, default=None, metavar="DIR",
                         help="the stack's state directory (default: .local/ in the checkout)")
    install.set_defaults(func=run_install)


def run_install(args: argparse.Namespace) -> int:
    from infra.localstack import LocalStackRuntime, LocalStackUnavailable, locked_version
    from infra.stack import DEFAULT_STATE_DIR

    state_dir = (args.state_dir or DEFAULT_STATE_DIR).resolve()
    runtime = LocalStackRuntime.for_state_dir(state_dir)
    if runtime.installed():
        print(f"LocalStack {locked_version()} is installed in {runtime.directory}")
        return 0
    print(f"installing LocalStack {locked_version()} into {runtime.directory} ...", flush=True)
    started = time.monotonic()
    try:
        runtime.ensure()
    except LocalStackUnavailable as exc:
        raise CommandError(str(exc)) from exc
    print(f"LocalStack {locked_version()} installed in {runtime.directory} in {time.monotonic() - started:.0f} s")
    return 0
