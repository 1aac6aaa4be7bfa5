"""Embeddings as stored in PostgreSQL: L2-normalized float32, little-endian bytes (BYTEA)."""

from __future__ import annotations

import numpy as np

DTYPE = np.dtype("<f4")


def normalize(vectors: np.ndarray) -> np.ndarray:
    """L2-normalize rows (or one vector); zero vectors stay zero."""
    array = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(array, axis=-1, keepdims=True)
    return (array / np.where(norms == 0, 1.0, norms)).astype(np.float32)


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=DTYPE).tobytes()


def from_bytes(data: bytes | memoryview) -> np.ndarray:
    return np.frombuffer(bytes(data), dtype=DTYPE)


def stack(blobs: list[bytes]) -> np.ndarray:
    """Many stored embeddings as one (n, dim) float32 matrix."""
    if not blobs:
        return np.zeros((0, 0), dtype=np.float32)
    return np.frombuffer(b"".join(bytes(b) for b in blobs), dtype=DTYPE).reshape(len(blobs), -1)
