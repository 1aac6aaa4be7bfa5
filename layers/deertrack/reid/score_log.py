"""The re-ID score log (reid_similarity_scores): every detection x deer score, written with COPY.

A detection's rows are always replaced as a whole, inside the caller's transaction, so the log never
holds half of a detection's scores and a redelivered message writes the same rows again.

The COPY text is built by one encoder (_encode) with numpy, not one Python f-string per row: every
column is a small table of distinct byte strings (the detection ids, the deer ids, the 20,001 possible
NUMERIC(5,4) scores, …) gathered by integer codes into one padded byte matrix whose padding is then
dropped. That keeps the writer well below the cost of the COPY itself (`deertrack bench backfill`
prints both).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

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


@lru_cache(maxsize=2)
def _score_table(end: str = "\t") -> np.ndarray:
    """Every NUMERIC(5,4) value in [-1, 1] as COPY text with its separator: row i is (i - SCALE) / SCALE."""
    return _table([f"{(i - SCALE) / SCALE:.4f}{end}" for i in range(2 * SCALE + 1)])


def _int_column(values: Sequence[int] | np.ndarray, end: str) -> np.ndarray:
    """Integers as padded text; each distinct value is formatted once."""
    distinct, codes = np.unique(np.asarray(values, dtype=np.int64), return_inverse=True)
    return _table([f"{v}{end}" for v in distinct.tolist()])[codes.reshape(-1)]


def _text_column(values: Sequence[str], end: str) -> np.ndarray:
    """Categorical text (classifications, sexes) as padded text; each distinct value formatted once."""
    lookup: dict[str, int] = {}
    codes = np.fromiter((lookup.setdefault(v, len(lookup)) for v in values), dtype=np.int32, count=len(values))
    return _table([_escape(v) + end for v in lookup])[codes]


def _flag_column(values: np.ndarray, end: str) -> np.ndarray:
    return _table([f"f{end}", f"t{end}"])[np.asarray(values, dtype=bool).reshape(-1).astype(np.intp)]


def _score_codes(scores: np.ndarray) -> np.ndarray:
    """Scores rounded half-to-even to 4 places, clipped to [-1, 1], as rows of the score table."""
    scaled = np.rint(np.asarray(scores, dtype=np.float64).reshape(-1) * SCALE)
    return (np.clip(np.nan_to_num(scaled, nan=0.0), -SCALE, SCALE) + SCALE).astype(np.int64)


#: How a column's values vary over the (m detections x k deer) grid of rows being written.
Axis = Literal["detection", "deer", "pair", "constant"]


def _encode(order: Sequence[str], m: int, k: int, cells: Mapping[str, tuple[Axis, Callable[[str], np.ndarray]]]
            ) -> bytes:
    """The one COPY text encoder: the m x k grid of rows, row-major, with the columns in `order`.

    Each column gives its axis and a builder of its padded byte table for a separator (tab, or newline
    for the last column): one row per detection, per deer, per pair, or a single row. numpy broadcasts
    the tables into an (m, k, width) byte array and drops the padding.
    """
    if m == 0 or k == 0:
        return b""
    tables: list[tuple[Axis, np.ndarray]] = []
    for i, name in enumerate(order):
        axis, build = cells[name]
        table = build("\n" if i == len(order) - 1 else "\t")
        if tables and axis == tables[-1][0] and axis in ("detection", "deer"):
            # neighbours on the same small axis are one table: fewer passes over the (m, k) array
            table = np.concatenate([tables.pop()[1], table], axis=1)
        tables.append((axis, table))
    out = np.empty((m, k, sum(table.shape[1] for _, table in tables)), dtype=np.uint8)
    at = 0
    for axis, table in tables:
        width = table.shape[1]
        target = out[:, :, at:at + width]
        if axis == "detection":
            target[...] = table[:, None, :]
        elif axis == "deer":
            target[...] = table[None, :, :]
        elif axis == "pair":
            target[...] = table.reshape(m, k, width)
        else:
            target[...] = table[0]
        at += width
    flat = out.reshape(-1)
    return flat[flat != 0].tobytes()


def _score_cells(detection_ids: Sequence[int] | np.ndarray, detection_classifications: Sequence[str],
                 deer_ids: Sequence[int] | np.ndarray, deer_sexes: Sequence[str], scores: np.ndarray,
                 matched: np.ndarray, sex_match: np.ndarray, threshold: float, detection_axis: Axis,
                 deer_axis: Axis) -> dict[str, tuple[Axis, Callable[[str], np.ndarray]]]:
    """The score log's columns, by name, for _encode."""
    return {
        "detection_id": (detection_axis, lambda end: _int_column(detection_ids, end)),
        "deer_id": (deer_axis, lambda end: _int_column(deer_ids, end)),
        "similarity_score": ("pair", lambda end: _score_table(end)[_score_codes(scores)]),
        "threshold_used": ("constant", lambda end: _table([f"{threshold:.4f}{end}"])),
        "matched": ("pair", lambda end: _flag_column(matched, end)),
        "sex_match": ("pair", lambda end: _flag_column(sex_match, end)),
        "detection_classification": (detection_axis, lambda end: _text_column(detection_classifications, end)),
        "deer_sex": (deer_axis, lambda end: _text_column(deer_sexes, end)),
    }


def to_copy_text(block: ScoreBlock) -> bytes:
    """The block as COPY text format (tab-separated, one line per pair), in COLUMNS order."""
    cells = _score_cells(block.detection_ids, block.detection_classifications, block.deer_ids, block.deer_sexes,
                         block.scores, block.matched, block.sex_match, block.threshold, "pair", "pair")
    return _encode(COLUMNS, len(block), 1, cells)


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

    A detection's id and class are formatted once per detection and a deer's once per deer, then
    broadcast over the grid with the per-pair score and flags. This is the backfill's hot path.
    """
    if len(detection_classifications) != len(detection_ids) or len(deer_sexes) != len(deer_ids):
        raise ValueError("one classification per detection and one sex per deer are needed")
    cells = _score_cells(detection_ids, detection_classifications, deer_ids, deer_sexes, scores, matched,
                         sex_match, threshold, "detection", "deer")
    return _encode(MATRIX_COLUMNS, len(detection_ids), len(deer_ids), cells)


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
