"""Backfill execution in the batch image: run a planned backfill's shards, here or from the reid queue."""
