"""Benchmarks (dev tooling): the backfill against a raw COPY, the demo-shaped synthetic data they run on, and
the request mix against a running stack (`deertrack bench load`)."""

#: The public modules of this package (import them by name; nothing is loaded here).
__all__ = ["backfill", "load", "synthetic"]
