"""Small figures shared by the reports: class counts and the buck:doe ratio."""

from __future__ import annotations

from dataclasses import dataclass, field

from deertrack.classifications import CLASSIFICATIONS


@dataclass
class ClassCounts:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CLASSIFICATIONS, 0))

    def add(self, cls: str, n: int) -> None:
        self.counts[cls] = self.counts.get(cls, 0) + n

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def bucks(self) -> int:
        return self.counts.get("buck", 0)

    @property
    def does(self) -> int:
        return self.counts.get("doe", 0)

    def __getitem__(self, cls: str) -> int:
        return self.counts.get(cls, 0)


def bucks_per_doe(bucks: int, does: int) -> float | None:
    return None if does == 0 else bucks / does


def ratio_text(bucks: int, does: int) -> str:
    """'1:2.4' (one buck to 2.4 does); says why when it cannot be computed."""
    if bucks == 0 and does == 0:
        return "n/a (no bucks or does)"
    if bucks == 0:
        return f"0:{does} (no bucks)"
    if does == 0:
        return f"{bucks}:0 (no does)"
    return f"1:{does / bucks:.1f}"


def pct_change(before: float, after: float) -> float | None:
    return None if before == 0 else 100.0 * (after - before) / before


def signed(n: float, decimals: int = 0) -> str:
    return f"{n:+,.{decimals}f}"
