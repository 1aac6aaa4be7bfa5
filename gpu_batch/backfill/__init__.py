"""Backfill execution in the batch image: run a planned backfill's shards, here or from the reid queue."""

#: The public modules of this package (import them by name; nothing is loaded here).
__all__ = ["job", "progress", "rescore", "runner", "shard"]
