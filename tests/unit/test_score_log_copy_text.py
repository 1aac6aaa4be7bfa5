"""The vectorized COPY text writers against a one-f-string-per-row reference (kept here, as the oracle)."""

from __future__ import annotations

import numpy as np
import pytest

from deertrack.reid.score_log import (
    COLUMNS,
    MATRIX_COLUMNS,
    ScoreBlock,
    matrix_copy_text,
    to_copy_text,
)

SEXES = ["buck", "doe", "fawn", "unknown"]


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def to_copy_text_rowwise(block: ScoreBlock) -> bytes:
    """The reference: the block in COLUMNS order, one f-string per row, text escaped as COPY reads it."""
    scores = np.clip(np.round(np.asarray(block.scores, dtype=np.float64), 4), -1.0, 1.0)
    threshold = f"{block.threshold:.4f}"
    lines = [
        f"{d}\t{e}\t{s:.4f}\t{threshold}\t{'t' if m else 'f'}\t{'t' if x else 'f'}\t{_escaped(c)}\t{_escaped(sx)}\n"
        for d, e, s, m, x, c, sx in zip(
            block.detection_ids.tolist(), block.deer_ids.tolist(), scores.tolist(), block.matched.tolist(),
            block.sex_match.tolist(), block.detection_classifications, block.deer_sexes, strict=True,
        )
    ]
    return "".join(lines).encode()


def _matrix_case(m: int = 37, k: int = 11, seed: int = 3) -> dict:
    rng = np.random.default_rng(seed)
    scores = rng.uniform(-1, 1, (m, k)).astype(np.float32)
    scores[0, :6] = [1.0, -1.0, 0.8, 0.79995, 0.12345, -0.00004]  # ends, ties, rounding
    return {
        "detection_ids": (np.arange(m) * 997 + 1).tolist(),
        "classifications": [SEXES[i % 4] for i in range(m)],
        "deer_ids": (np.arange(k) + 40).tolist(),
        "deer_sexes": [SEXES[(i + 1) % 4] for i in range(k)],
        "scores": scores,
        "matched": scores > 0.7,
        "sex_match": rng.random((m, k)) > 0.3,
    }


def _reorder(matrix_text: bytes) -> bytes:
    """MATRIX_COLUMNS order -> COLUMNS order, line by line."""
    position = [MATRIX_COLUMNS.index(c) for c in COLUMNS]
    lines = matrix_text.decode().splitlines()
    return "".join("\t".join(line.split("\t")[i] for i in position) + "\n" for line in lines).encode()


def test_block_text_equals_the_rowwise_reference() -> None:
    case = _matrix_case()
    block = ScoreBlock.from_matrix(case["detection_ids"], case["deer_ids"], case["scores"], case["matched"],
                                   case["sex_match"], case["classifications"], case["deer_sexes"], 0.8)
    fast = to_copy_text(block).decode().splitlines()
    slow = to_copy_text_rowwise(block).decode().splitlines()
    assert len(fast) == len(slow) == 37 * 11
    # The reference writes -0.0000 for tiny negative scores; PostgreSQL reads both as 0.
    assert [line.replace("\t-0.0000\t", "\t0.0000\t") for line in slow] == fast


def test_matrix_text_holds_the_same_rows() -> None:
    case = _matrix_case()
    block = ScoreBlock.from_matrix(case["detection_ids"], case["deer_ids"], case["scores"], case["matched"],
                                   case["sex_match"], case["classifications"], case["deer_sexes"], 0.8)
    text = matrix_copy_text(case["detection_ids"], case["classifications"], case["deer_ids"], case["deer_sexes"],
                            case["scores"], case["matched"], case["sex_match"], 0.8)
    assert _reorder(text) == to_copy_text(block)


def test_scores_are_rounded_to_four_places_and_clipped() -> None:
    text = matrix_copy_text([1], ["doe"], [1, 2, 3, 4], ["doe"] * 4, np.array([[1.00004, -1.2, 0.80005, 0.123449]]),
                            np.zeros((1, 4), bool), np.ones((1, 4), bool), 0.8)
    scores = [line.split("\t")[6] for line in text.decode().splitlines()]
    # rounding as scoring.round_scores (np.round), so the logged score decides as the worker did
    assert scores == ["1.0000", "-1.0000", f"{np.round(0.80005, 4):.4f}", "0.1234"]


def test_empty_blocks_give_no_text() -> None:
    assert matrix_copy_text([], [], [1], ["doe"], np.zeros((0, 1)), np.zeros((0, 1), bool),
                            np.zeros((0, 1), bool), 0.8) == b""
    empty = ScoreBlock(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), np.zeros(0, bool),
                       np.zeros(0, bool), [], [], 0.8)
    assert to_copy_text(empty) == b""


def test_text_values_are_escaped() -> None:
    block = ScoreBlock(np.array([1]), np.array([2]), np.array([0.5]), np.array([True]), np.array([False]),
                       ["a\tb"], ["c\\d"], 0.8)
    assert to_copy_text(block) == b"1\t2\t0.5000\t0.8000\tt\tf\ta\\tb\tc\\\\d\n"


def test_from_matrix_checks_shapes() -> None:
    with pytest.raises(ValueError, match="scores has shape"):
        ScoreBlock.from_matrix([1, 2], [1], np.zeros((1, 1)), np.zeros((2, 1), bool), np.zeros((2, 1), bool),
                               ["doe", "doe"], ["doe"], 0.8)


def test_the_reference_escapes_text_as_the_encoder_does() -> None:
    block = ScoreBlock(np.array([1, 1]), np.array([2, 3]), np.array([0.5, -0.25]), np.array([True, False]),
                       np.array([False, True]), ["a\tb", "a\tb"], ["c\\d", "e\nf"], 0.8)
    assert to_copy_text(block) == to_copy_text_rowwise(block)


def test_matrix_text_of_one_deer_or_one_detection() -> None:
    one_deer = matrix_copy_text([5, 6], ["doe", "buck"], [9], ["doe"], np.array([[0.5], [0.25]]),
                                np.array([[True], [False]]), np.array([[True], [False]]), 0.8)
    assert one_deer.decode().splitlines() == ["5\tdoe\t9\tdoe\tt\t0.8000\t0.5000\tt",
                                              "6\tbuck\t9\tdoe\tf\t0.8000\t0.2500\tf"]
    with pytest.raises(ValueError, match="one classification per detection"):
        matrix_copy_text([5], [], [9], ["doe"], np.zeros((1, 1)), np.zeros((1, 1), bool), np.zeros((1, 1), bool), 0.8)
