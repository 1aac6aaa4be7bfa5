"""A small slice of the demo for review tests: the first images of the demo data set (its cameras, deer and
pictures, as `deertrack seed --demo` writes them), re-identified by the worker as `make run` does, and the
merge job's suggestions; small enough that a test seeds it in seconds."""

from __future__ import annotations

import dataclasses

from deertrack import db
from deertrack.reid import merges, requeue
from infra.demo.dataset import DemoDataset, generate_dataset
from infra.demo.seed import seed_demo
from tests.reid_helpers import run_reid_queue


def demo_slice(images: int) -> DemoDataset:
    """The demo data set cut to its first `images` images and their detections."""
    full = generate_dataset()
    kept = full.images[:images]
    return dataclasses.replace(full, images=kept, detections=tuple(d for d in full.detections if d.image < images))


def seed_reviewable(images: int = 60, suggest_threshold: float = 0.5) -> DemoDataset:
    """Seed `demo_slice(images)`, re-identify it batch by batch in time order, store merge suggestions
    (at `suggest_threshold`, low so that a small slice has some)."""
    data = demo_slice(images)
    seed_demo(dataset=data, workers=4)
    with db.connection() as con:
        batches = requeue.pending_batches(con)
    for number, batch in enumerate(batches):
        requeue.enqueue(batch, f"review-{number}")
        run_reid_queue()
    with db.connection() as con:
        merges.run_merge_job(con, auto=False, suggest_threshold=suggest_threshold)
    return data
