"""Subcommands of `deertrack`; every module here defines register(subparsers)."""

#: The public modules of this package (import them by name; nothing is loaded here).
__all__ = [
    "backfill", "bench", "bench_api", "bench_backfill", "bench_exports", "bench_reid", "dead_letters",
    "import_cmd", "ingest", "localstack", "migrate", "pump", "reid", "seed", "token", "up", "worker"
]
