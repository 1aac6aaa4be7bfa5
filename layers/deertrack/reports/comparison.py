"""Data of the comparison report: 2-5 periods side by side, each against the first (the baseline),
and the three largest changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pg8000.native

from deertrack.classifications import CLASSIFICATIONS
from deertrack.reports.figures import ClassCounts, bucks_per_doe, pct_change
from deertrack.reports.insights import MIN_DETECTIONS, not_enough
from deertrack.reports.queries import class_counts
from deertrack.reports.scope import ReportScope, detections_cte

HIGHLIGHTS = 3
#: A change smaller than this many detections (or individuals) is never a highlight: noise.
MIN_HIGHLIGHT_DELTA = 3


@dataclass(frozen=True)
class PeriodSpec:
    label: str
    start_date: date
    end_date: date


@dataclass
class PeriodFigures:
    spec: PeriodSpec
    days: int
    counts: ClassCounts
    unique_individuals: int
    per_camera: dict[str, int]
    peak_hour: int | None

    @property
    def total(self) -> int:
        return self.counts.total

    @property
    def per_day(self) -> float:
        return self.total / self.days if self.days else 0.0

    def metrics(self) -> dict[str, float]:
        out: dict[str, float] = {
            "detections": self.total,
            "detections per day": round(self.per_day, 2),
            "unique individuals": self.unique_individuals,
        }
        for cls in CLASSIFICATIONS:
            out[f"{cls} detections"] = self.counts[cls]
        for camera, n in self.per_camera.items():
            out[f"detections at {camera}"] = n
        return out


@dataclass(frozen=True)
class Change:
    metric: str
    baseline_label: str
    label: str
    before: float
    after: float

    @property
    def delta(self) -> float:
        return self.after - self.before

    @property
    def percent(self) -> float | None:
        return pct_change(self.before, self.after)

    def text(self) -> str:
        pct = f" ({self.percent:+.0f}%)" if self.percent is not None else " (none in the baseline)"
        fmt = (lambda v: f"{v:,.2f}") if isinstance(self.after, float) and not self.after.is_integer() else (
            lambda v: f"{v:,.0f}")
        return (
            f"{self.metric[:1].upper()}{self.metric[1:]}: {fmt(self.before)} in {self.baseline_label} "
            f"to {fmt(self.after)} in {self.label}{pct}."
        )


@dataclass
class Comparison:
    scope: ReportScope
    periods: list[PeriodFigures]
    changes: list[Change] = field(default_factory=list)
    highlights: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _figures(con: pg8000.native.Connection, scope: ReportScope, spec: PeriodSpec) -> PeriodFigures:
    cte, params = detections_cte(scope.with_range(spec.start_date, spec.end_date))
    counts = class_counts(con, cte, params)
    unique = con.run(cte + "SELECT count(DISTINCT deer_id) FROM sel", **params)[0][0]
    per_camera = dict(
        con.run(
            cte + "SELECT l.code, count(*) FROM sel JOIN locations l ON l.id = sel.location_id "
            "GROUP BY l.code ORDER BY l.code",
            **params,
        )
    )
    hours = con.run(
        cte + "SELECT solar_hour, count(*) FROM sel GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1", **params
    )
    return PeriodFigures(
        spec, (spec.end_date - spec.start_date).days + 1, counts, unique, per_camera, hours[0][0] if hours else None
    )


def comparison(con: pg8000.native.Connection, scope: ReportScope, specs: list[PeriodSpec]) -> Comparison:
    periods = [_figures(con, scope, spec) for spec in specs]
    data = Comparison(scope, periods)
    cameras = sorted({c for p in periods for c in p.per_camera})
    for p in periods:
        for camera in cameras:
            p.per_camera.setdefault(camera, 0)
    baseline = periods[0]
    base_metrics = baseline.metrics()
    for other in periods[1:]:
        for metric, after in other.metrics().items():
            data.changes.append(Change(metric, baseline.spec.label, other.spec.label, base_metrics[metric], after))
    data.highlights = largest_changes(data.changes)
    for p in periods:
        if p.total < MIN_DETECTIONS:
            data.notes.append(f"{p.spec.label}: " + not_enough("reliable comparisons", p.total, MIN_DETECTIONS))
    return data


def largest_changes(changes: list[Change], n: int = HIGHLIGHTS) -> list[Change]:
    """The n changes with the largest relative size; a change from zero ranks by its absolute size.

    Detections per day are a rate: it ranks only when no count does (counts are what people read).
    """

    def size(change: Change) -> tuple[float, float]:
        relative = abs(change.delta) / max(abs(change.before), 1.0)
        return (relative, abs(change.delta))

    candidates = [c for c in changes if abs(c.delta) >= MIN_HIGHLIGHT_DELTA and c.metric != "detections per day"]
    return sorted(candidates, key=size, reverse=True)[:n]


def ratio(p: PeriodFigures) -> float | None:
    return bucks_per_doe(p.counts.bucks, p.counts.does)
