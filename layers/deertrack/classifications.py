"""The classes a detection (and the sexes a deer) can have: one list for the whole service."""

from __future__ import annotations

from typing import Literal, get_args

Classification = Literal["buck", "doe", "fawn", "unknown"]

#: ("buck", "doe", "fawn", "unknown"), in that order.
CLASSIFICATIONS: tuple[str, ...] = get_args(Classification)
