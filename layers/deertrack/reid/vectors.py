"""Embeddings as stored in PostgreSQL: L2-normalized float32, little-endian bytes (BYTEA)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DTYPE = np.dtype("<f4")


class DimensionMismatch(ValueError):
    """Embeddings and deer profiles have different lengths (the embedding model changed)."""


def normalize(vectors: np.ndarray) -> np.ndarray:
    """L2-normalize rows (or one vector); zero vectors stay zero."""
    array = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(array, axis=-1, keepdims=True)
    return (array / np.where(norms == 0, 1.0, norms)).astype(np.float32)


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=DTYPE).tobytes()


def from_bytes(data: bytes | memoryview) -> np.ndarray:
    return np.frombuffer(bytes(data), dtype=DTYPE)


def stack(blobs: Sequence[bytes | memoryview], what: str = "stored embeddings") -> np.ndarray:
    """Many stored embeddings as one writable (n, dim) float32 matrix.

    Raises DimensionMismatch when they are not all of one length; `what` names them in the message.
    """
    if not blobs:
        return np.zeros((0, 0), dtype=np.float32)
    data = [bytes(b) for b in blobs]
    sizes = {len(b) for b in data}
    if len(sizes) != 1:
        raise DimensionMismatch(
            f"{what} have different lengths "
            f"({', '.join(str(s // DTYPE.itemsize) for s in sorted(sizes))} dimensions); "
            "re-embed with `deertrack reid embed --all`"
        )
    return np.frombuffer(b"".join(data), dtype=DTYPE).reshape(len(data), -1).astype(np.float32)
