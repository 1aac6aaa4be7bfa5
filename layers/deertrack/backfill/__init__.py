"""Backfill: re-score the stored detection embeddings against the current deer gallery and replace
each detection's score rows (reid_similarity_scores) atomically, with the current threshold.

One code path, three triggers: a run is planned into shards (ranges of detection ids,
`plan.py`), and every shard is processed by `shard.process_shard` — in-process by the CLI
(`deertrack backfill`), or from `reid.backfill` messages on the reid queue by the worker
(gpu_batch/backfill/job.py) for the nightly schedule and the API. Progress and resume state live
in backfill_runs / backfill_shards (`runs.py`).
"""

#: The public modules of this package (import them by name; nothing is loaded here).
__all__ = ["enqueue", "plan", "runs", "scope", "triggers"]
