"""Benchmarks (dev tooling): the backfill against a raw COPY, and the demo-shaped synthetic data they run on."""

#: The public modules of this package (import them by name; nothing is loaded here).
__all__ = ["backfill", "synthetic"]
