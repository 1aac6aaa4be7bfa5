"""The re-ID score log (reid_similarity_scores): every detection x deer score, written with COPY.

A detection's rows are always replaced as a whole, inside the caller's transaction, so the log never
holds half of a detection's scores and a redelivered message writes the same rows again.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pg8000.native

COLUMNS = (
    "detection_id", "deer_id", "similarity_score", "threshold_used", "matched", "sex_match",
    "detection_classification", "deer_sex",
)


@dataclass(frozen=True)
class ScoreBlock:
    """Scores of some detections against some deer, columnar (one entry per pair)."""

    detection_ids: np.ndarray  # int64 (n,)
    deer_ids: np.ndarray  # int64 (n,)
    scores: np.ndarray  # float (n,), rounded to 4 places on write
    matched: np.ndarray  # bool (n,)
    sex_match: np.ndarray  # bool (n,)
    detection_classifications: Sequence[str]  # (n,)
    deer_sexes: Sequence[str]  # (n,)
    threshold: float

    def __len__(self) -> int:
        return int(self.detection_ids.shape[0])


def to_copy_text(block: ScoreBlock) -> bytes:
    """The block as COPY text format (tab-separated, one line per pair)."""
    scores = np.clip(np.round(np.asarray(block.scores, dtype=np.float64), 4), -1.0, 1.0)
    threshold = f"{block.threshold:.4f}"
    lines = [
        f"{d}\t{e}\t{s:.4f}\t{threshold}\t{'t' if m else 'f'}\t{'t' if x else 'f'}\t{c}\t{sx}\n"
        for d, e, s, m, x, c, sx in zip(
            block.detection_ids.tolist(), block.deer_ids.tolist(), scores.tolist(), block.matched.tolist(),
            block.sex_match.tolist(), block.detection_classifications, block.deer_sexes, strict=True,
        )
    ]
    return "".join(lines).encode()


def replace_scores(con: pg8000.native.Connection, detection_ids: Sequence[int], block: ScoreBlock,
                   table: str = "reid_similarity_scores") -> int:
    """Delete every score row of `detection_ids`, then COPY `block` in. Call inside a transaction."""
    if detection_ids:
        con.run(f"DELETE FROM {table} WHERE detection_id = ANY(CAST(:ids AS BIGINT[]))", ids=list(detection_ids))
    if len(block):
        con.run(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN", stream=io.BytesIO(to_copy_text(block)))
    return len(block)
