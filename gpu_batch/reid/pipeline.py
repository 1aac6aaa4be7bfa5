"""Re-identify detections by id: read them, crop and embed their images, then commit (assignment.py).

Images are read once per image (a photo with three deer is fetched once). The embedding work
happens before the transaction; the gallery lock is held only for scoring and writing. A detection
that already has an embedding from the current model is not embedded again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pg8000.native
from PIL import Image

from deertrack import db
from deertrack.logs import logger
from deertrack.reid import crops
from deertrack.reid.assignment import OPEN_STATUSES, CommitResult, commit_batch
from deertrack.reid.bursts import Pending
from deertrack.reid.classes import class_sql
from deertrack.reid.crop_quality import load_geometries
from deertrack.reid.vectors import from_bytes
from deertrack.settings import get_settings
from deertrack.storage import ObjectMissing, get_bytes
from gpu_batch.reid.embedder import Embedder, current_embedder

#: Crops are shrunk to at most this many pixels a side as soon as they are cut (every embedder input is
#: smaller), so a batch of crops from 12-megapixel trail-camera photos stays small in memory.
MAX_CROP_SIDE = 512

def detection_columns() -> str:
    """What re-ID reads of a detection; `classification` is the class its sex rule trusts (classes.py)."""
    return ("d.id, d.image_id, d.bbox_x, d.bbox_y, d.bbox_width, d.bbox_height,"
            f" {class_sql('d')} AS classification, d.is_valid, d.reid_status,"
            " d.embedding, d.embedding_model, i.s3_key, i.location_id, i.captured_at")


@dataclass
class ReidSummary:
    requested: int
    unknown_ids: list[int] = field(default_factory=list)
    embedded: int = 0
    commit: CommitResult = field(default_factory=CommitResult)

    def as_log(self) -> dict[str, Any]:
        c = self.commit
        return {"requested": self.requested, "unknown_ids": self.unknown_ids, "embedded": self.embedded,
                "assigned": len(c.assigned), "new_deer": len(c.new_deer), "needs_review": len(c.needs_review),
                "skipped": len(c.skipped),
                "failed": len(c.failed), "already_done": len(c.already_done), "score_rows": c.score_rows}


def load_detections(con: pg8000.native.Connection, ids: Sequence[int]) -> list[dict[str, Any]]:
    return db.rows_as_dicts(
        con, f"SELECT {detection_columns()} FROM detections d JOIN images i ON i.id = d.image_id"
             " WHERE d.id = ANY(CAST(:ids AS BIGINT[])) ORDER BY i.captured_at, d.id", ids=list(ids),
    )


def embed_rows(rows: Sequence[dict[str, Any]], embedder: Embedder, *, reuse: bool = True,
               bucket: str | None = None) -> tuple[dict[int, np.ndarray], dict[int, str], dict[int, str]]:
    """Embeddings of detection rows (as load_detections gives them) -> (embeddings, skipped, failed).

    skipped: crop too small / outside the image (final); failed: image missing or unreadable.
    Other errors (S3 unreachable) propagate so the message is retried.
    """
    bucket = bucket or get_settings().images_bucket
    embeddings: dict[int, np.ndarray] = {}
    skipped: dict[int, str] = {}
    failed: dict[int, str] = {}
    by_key: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if reuse and row["embedding"] is not None and row["embedding_model"] == embedder.name:
            embeddings[row["id"]] = from_bytes(row["embedding"])
        else:
            by_key.setdefault(row["s3_key"], []).append(row)
    ids: list[int] = []
    images: list[Any] = []
    for key, key_rows in by_key.items():
        try:
            image = crops.decode(get_bytes(bucket, key))
        except ObjectMissing:
            for row in key_rows:
                failed[row["id"]] = f"image s3://{bucket}/{key} does not exist"
            continue
        except crops.UnreadableImage as exc:
            for row in key_rows:
                failed[row["id"]] = f"image s3://{bucket}/{key}: {exc}"
            continue
        for row in key_rows:
            crop = crops.cut(image, (row["bbox_x"], row["bbox_y"], row["bbox_width"], row["bbox_height"]))
            if crop.ok and crop.image is not None:
                crop.image.thumbnail((MAX_CROP_SIDE, MAX_CROP_SIDE), Image.Resampling.BILINEAR)
                ids.append(row["id"])
                images.append(crop.image)
            else:
                skipped[row["id"]] = crop.skip_reason or "crop unusable"
    if images:
        for detection_id, vector in zip(ids, embedder.embed(images), strict=True):
            embeddings[detection_id] = vector
    return embeddings, skipped, failed


def reidentify(detection_ids: Sequence[int], *, embedder: Embedder | None = None, threshold: float | None = None,
               batch_id: str | None = None, con: pg8000.native.Connection | None = None) -> ReidSummary:
    """Re-identify the detections that are still open (pending / failed); the others are left as they are."""
    embedder = embedder or current_embedder()
    threshold = get_settings().reid_threshold if threshold is None else threshold
    summary = ReidSummary(requested=len(detection_ids))
    owned = con is None
    con = con or db.connect()
    try:
        rows = load_detections(con, detection_ids)
        found = {r["id"] for r in rows}
        summary.unknown_ids = [i for i in detection_ids if i not in found]
        open_rows = [r for r in rows if r["reid_status"] in OPEN_STATUSES]
        invalid = {r["id"]: "detection is marked invalid" for r in open_rows if not r["is_valid"]}
        todo = [r for r in open_rows if r["is_valid"]]
        embeddings, skipped, failed = embed_rows(todo, embedder)
        summary.embedded = len(embeddings)
        geometry = load_geometries(con, [r["id"] for r in todo if r["id"] in embeddings])
        pending = [
            Pending(r["id"], r["image_id"], r["location_id"], r["captured_at"], r["classification"],
                    embeddings[r["id"]], geometry.get(r["id"]))
            for r in todo if r["id"] in embeddings
        ]
        summary.commit = commit_batch(
            con, pending, threshold=threshold, model_name=embedder.name, skipped={**skipped, **invalid},
            failed=failed, batch_id=batch_id, gate=get_settings().crop_gate,
        )
        summary.commit.already_done += [r["id"] for r in rows if r["reid_status"] not in OPEN_STATUSES]
    finally:
        if owned:
            con.close()
    if summary.unknown_ids:
        logger.warning("re-ID batch names detections that do not exist",
                       extra={"batch_id": batch_id, "detection_ids": summary.unknown_ids})
    return summary
