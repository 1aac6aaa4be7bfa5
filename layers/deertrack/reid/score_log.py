"""The re-ID score log (reid_similarity_scores): every detection x deer score, written with COPY.

A detection's rows are always replaced as a whole, inside the caller's transaction, so the log never
holds half of a detection's scores and a redelivered message writes the same rows again.

The COPY text is built with numpy, not one Python f-string per row: every column is a small table of
distinct byte strings (the detection ids, the deer ids, the 20,001 possible NUMERIC(5,4) scores, …)
gathered by integer codes into one padded byte matrix whose padding is then dropped. At 241,000 rows
that is ~20x faster than the per-row f-string and keeps the writer well below the cost of the COPY
itself (see `deertrack bench backfill`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pg8000.native

COLUMNS = (
    "detection_id", "deer_id", "similarity_score", "threshold_used", "matched", "sex_match",
    "detection_classification", "deer_sex",
)

#: NUMERIC(5,4): scores are written as round(score * 10^4) / 10^4.
SCALE = 10_000


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

    @classmethod
    def from_matrix(
        cls,
        detection_ids: Sequence[int] | np.ndarray,
        deer_ids: Sequence[int] | np.ndarray,
        scores: np.ndarray,
        matched: np.ndarray,
        sex_match: np.ndarray,
        detection_classifications: Sequence[str],
        deer_sexes: Sequence[str],
        threshold: float,
    ) -> ScoreBlock:
        """Every detection (rows of the (m, k) matrices) against every deer (columns), row-major."""
        det = np.asarray(detection_ids, dtype=np.int64)
        deer = np.asarray(deer_ids, dtype=np.int64)
        m, k = det.shape[0], deer.shape[0]
        shape = (m, k)
        for name, array in (("scores", scores), ("matched", matched), ("sex_match", sex_match)):
            if np.shape(array) != shape:
                raise ValueError(f"{name} has shape {np.shape(array)}, expected {shape}")
        if len(detection_classifications) != m or len(deer_sexes) != k:
            raise ValueError("one classification per detection and one sex per deer are needed")
        return cls(
            detection_ids=np.repeat(det, k),
            deer_ids=np.tile(deer, m),
            scores=np.asarray(scores).reshape(-1),
            matched=np.asarray(matched, dtype=bool).reshape(-1),
            sex_match=np.asarray(sex_match, dtype=bool).reshape(-1),
            detection_classifications=np.repeat(np.asarray(detection_classifications, dtype=object), k),
            deer_sexes=np.tile(np.asarray(deer_sexes, dtype=object), m),
            threshold=threshold,
        )

    def rows(self, start: int, stop: int) -> ScoreBlock:
        """Pairs start..stop-1 as a block of their own (views, no copies)."""
        return ScoreBlock(
            self.detection_ids[start:stop], self.deer_ids[start:stop], self.scores[start:stop],
            self.matched[start:stop], self.sex_match[start:stop],
            self.detection_classifications[start:stop], self.deer_sexes[start:stop], self.threshold,
        )


# ------------------------------------------------------------------------------------------ COPY text


def _escape(text: str) -> str:
    """COPY text-format escaping of one value (backslash, tab, newline, carriage return)."""
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _table(values: Sequence[str]) -> np.ndarray:
    """Byte strings as a zero-padded (len, width) uint8 matrix (COPY text never contains NUL)."""
    encoded = [v.encode() for v in values]
    width = max((len(e) for e in encoded), default=1)
    return np.frombuffer(b"".join(e.ljust(width, b"\0") for e in encoded), dtype=np.uint8).reshape(
        len(encoded), width
    )


@lru_cache(maxsize=1)
def _score_table() -> np.ndarray:
    """Every NUMERIC(5,4) value in [-1, 1] as COPY text with its tab: row i is (i - SCALE) / SCALE."""
    return _table([f"{(i - SCALE) / SCALE:.4f}\t" for i in range(2 * SCALE + 1)])


_FLAGS = _table(["f\t", "t\t"])
_FLAGS_LAST = _table(["f\n", "t\n"])


def _int_column(values: np.ndarray, end: str) -> np.ndarray:
    """Integers as padded text; each distinct value is formatted once."""
    distinct, codes = np.unique(np.asarray(values, dtype=np.int64), return_inverse=True)
    return _table([f"{v}{end}" for v in distinct.tolist()])[codes.reshape(-1)]


def _text_column(values: Sequence[str], end: str) -> np.ndarray:
    """Categorical text (classifications, sexes) as padded text; each distinct value formatted once."""
    lookup: dict[str, int] = {}
    codes = np.fromiter((lookup.setdefault(v, len(lookup)) for v in values), dtype=np.int32, count=len(values))
    return _table([_escape(v) + end for v in lookup])[codes]


def _score_codes(scores: np.ndarray) -> np.ndarray:
    """Scores rounded half-to-even to 4 places, clipped to [-1, 1], as rows of the score table."""
    scaled = np.rint(np.asarray(scores, dtype=np.float64) * SCALE)
    return (np.clip(np.nan_to_num(scaled, nan=0.0), -SCALE, SCALE) + SCALE).astype(np.int64)


def to_copy_text(block: ScoreBlock) -> bytes:
    """The block as COPY text format (tab-separated, one line per pair), in COLUMNS order."""
    n = len(block)
    if n == 0:
        return b""
    threshold = _table([f"{block.threshold:.4f}\t"])
    parts = [
        _int_column(block.detection_ids, "\t"),
        _int_column(block.deer_ids, "\t"),
        _score_table()[_score_codes(block.scores)],
        np.broadcast_to(threshold, (n, threshold.shape[1])),
        _FLAGS[np.asarray(block.matched, dtype=bool).astype(np.intp)],
        _FLAGS[np.asarray(block.sex_match, dtype=bool).astype(np.intp)],
        _text_column(block.detection_classifications, "\t"),
        _text_column(block.deer_sexes, "\n"),
    ]
    matrix = np.concatenate(parts, axis=1).reshape(-1)
    return matrix[matrix != 0].tobytes()


#: Column order of matrix_copy_text: the per-detection and per-deer parts first, the per-pair last.
MATRIX_COLUMNS = (
    "detection_id", "detection_classification", "deer_id", "deer_sex", "sex_match", "threshold_used",
    "similarity_score", "matched",
)


def matrix_copy_text(
    detection_ids: Sequence[int] | np.ndarray,
    detection_classifications: Sequence[str],
    deer_ids: Sequence[int] | np.ndarray,
    deer_sexes: Sequence[str],
    scores: np.ndarray,
    matched: np.ndarray,
    sex_match: np.ndarray,
    threshold: float,
) -> bytes:
    """Every detection against every deer as COPY text in MATRIX_COLUMNS order, row-major.

    The detection part of a line ("id<TAB>class<TAB>") is formatted once per detection and the deer
    part once per deer; numpy broadcasts them with the per-pair score and flags into an (m, k, width)
    byte array and drops the padding. This is the backfill's hot path.
    """
    m, k = len(detection_ids), len(deer_ids)
    if m == 0 or k == 0:
        return b""
    det = _table([f"{int(d)}\t{_escape(c)}\t" for d, c in zip(detection_ids, detection_classifications, strict=True)])
    deer = _table([f"{int(d)}\t{_escape(s)}\t" for d, s in zip(deer_ids, deer_sexes, strict=True)])
    threshold_text = _table([f"{threshold:.4f}\t"])[0]
    score_table = _score_table()
    widths = [det.shape[1], deer.shape[1], 2, threshold_text.shape[0], score_table.shape[1], 2]
    out = np.empty((m, k, sum(widths)), dtype=np.uint8)
    edges = np.cumsum([0, *widths])
    out[:, :, edges[0]:edges[1]] = det[:, None, :]
    out[:, :, edges[1]:edges[2]] = deer[None, :, :]
    out[:, :, edges[2]:edges[3]] = _FLAGS[np.asarray(sex_match, dtype=bool).astype(np.intp)]
    out[:, :, edges[3]:edges[4]] = threshold_text
    out[:, :, edges[4]:edges[5]] = score_table[_score_codes(scores)]
    out[:, :, edges[5]:edges[6]] = _FLAGS_LAST[np.asarray(matched, dtype=bool).astype(np.intp)]
    flat = out.reshape(-1)
    return flat[flat != 0].tobytes()


def to_copy_text_rowwise(block: ScoreBlock) -> bytes:
    """The same text as to_copy_text, one f-string per row: the reference the fast writer is checked
    and benchmarked against."""
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


# ------------------------------------------------------------------------------------------ writing


def copy_sql(table: str = "reid_similarity_scores", columns: Sequence[str] = COLUMNS) -> str:
    return f"COPY {table} ({', '.join(columns)}) FROM STDIN"


def copy_chunks(con: pg8000.native.Connection, chunks: Iterable[bytes],
                table: str = "reid_similarity_scores", columns: Sequence[str] = COLUMNS) -> None:
    """COPY an iterable of COPY-text chunks (each whole lines) into `table`, one CopyData each.

    A generator lets the caller compute the next chunk while the server indexes the previous one.
    """
    con.run(copy_sql(table, columns), stream=(chunk for chunk in chunks if chunk))


def block_chunks(block: ScoreBlock, rows_per_chunk: int = 50_000) -> Iterator[bytes]:
    for start in range(0, len(block), rows_per_chunk):
        yield to_copy_text(block.rows(start, start + rows_per_chunk))


def replace_scores(con: pg8000.native.Connection, detection_ids: Sequence[int], block: ScoreBlock,
                   table: str = "reid_similarity_scores") -> int:
    """Delete every score row of `detection_ids`, then COPY `block` in. Call inside a transaction."""
    ids = [int(i) for i in detection_ids]
    if ids:
        con.run(f"DELETE FROM {table} WHERE detection_id = ANY(CAST(:ids AS BIGINT[]))", ids=ids)
    if len(block):
        copy_chunks(con, block_chunks(block), table)
    return len(block)
