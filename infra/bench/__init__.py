"""Benchmarks (dev tooling): the backfill against a raw COPY, and the demo-shaped synthetic data they run on."""
