"""`deertrack token`: mint a token of the local user pool (infra/user_pool.py) for a user and role.

The token is printed alone on the last line, so `TOKEN=$(deertrack token --user ann --role viewer | tail -1)`
works. It is signed by the key under the stack's state directory (`.local/auth/` by default), the key a
running `deertrack up` publishes, with AUTH_ISSUER and AUTH_AUDIENCE.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from deertrack.auth import Role
from infra.cli import CommandError

MAX_TTL_SECONDS = 30 * 24 * 3600


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "token", help="mint a local sign-in token (printed alone on the last line)",
        description="Mint a token of the local user pool for USER in ROLE; use it as "
                    "`Authorization: Bearer <token>` against `deertrack up`.",
    )
    parser.add_argument("--user", required=True, metavar="NAME", help="the username (cognito:username)")
    parser.add_argument("--role", required=True, choices=[r.value for r in Role],
                        help="viewer < reviewer < admin (the cognito:groups claim)")
    parser.add_argument("--ttl", type=int, default=3600, metavar="SECONDS", help="lifetime (default 3600)")
    parser.add_argument("--state-dir", type=Path, default=None, metavar="DIR",
                        help="the stack's state directory (default: .local/ in the checkout)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deertrack.settings import get_settings
    from infra.stack import DEFAULT_STATE_DIR
    from infra.user_pool import UserPool, user_pool_dir

    if not args.user.strip():
        raise CommandError("--user must not be empty", code=2)
    if not 1 <= args.ttl <= MAX_TTL_SECONDS:
        raise CommandError(f"--ttl must be 1-{MAX_TTL_SECONDS} seconds, got {args.ttl}", code=2)
    directory = user_pool_dir((args.state_dir or DEFAULT_STATE_DIR).resolve())
    pool = UserPool(directory)
    settings = get_settings()
    print(f"# {args.role} token for {args.user}, valid {args.ttl} s (issuer {settings.auth_issuer}, "
          f"audience {settings.auth_audience}, key {directory / 'signing-key.pem'})")
    print(pool.mint(args.user.strip(), Role(args.role), ttl_seconds=args.ttl))
    return 0
