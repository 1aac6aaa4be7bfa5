"""Subcommands of `deertrack`; every module here defines register(subparsers)."""
