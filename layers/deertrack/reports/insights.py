"""Insights written from the numbers of a report: peak period, rut-season rise, changes between
periods, activity hours, buck:doe ratio, most-seen individual. Each says what it is based on.

The rut windows are those of white-tailed deer in the northern hemisphere: pre-rut 1 Sep – 14 Oct,
rut 15 Oct – 30 Nov (of every year the range touches).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from deertrack.reports.figures import pct_change, ratio_text

if TYPE_CHECKING:
    from deertrack.reports.seasonal import SeasonalActivity

#: Below this many detections a report section says "not enough data (n=…)" instead of a figure.
MIN_DETECTIONS = 10
MIN_RUT_DAYS = 7
MIN_RUT_BUCKS = 5
PRE_RUT = ((9, 1), (10, 14))
#: Solar hours (at the camera) counted as dawn and dusk; sunrise and sunset move through them over
#: the autumn and winter at temperate latitudes.
DAWN_HOURS = (5, 6, 7, 8)
DUSK_HOURS = (16, 17, 18, 19)
RUT = ((10, 15), (11, 30))


def not_enough(what: str, n: int, need: int, unit: str = "detections") -> str:
    return f"Not enough data for {what} (n={n} {unit}; at least {need} needed)."


def _window_days(start: date, end: date, window: tuple[tuple[int, int], tuple[int, int]]) -> list[date]:
    days = []
    for year in range(start.year, end.year + 1):
        (m1, d1), (m2, d2) = window
        lo, hi = max(start, date(year, m1, d1)), min(end, date(year, m2, d2))
        days.extend(date.fromordinal(o) for o in range(lo.toordinal(), hi.toordinal() + 1))
    return days


def rut_rise(data: SeasonalActivity) -> str | None:
    start, end = data.scope.start_date, data.scope.end_date
    pre = _window_days(start, end, PRE_RUT)
    rut = _window_days(start, end, RUT)
    if len(pre) < MIN_RUT_DAYS or len(rut) < MIN_RUT_DAYS:
        return None
    pre_bucks = sum(data.daily[d].bucks for d in pre if d in data.daily)
    rut_bucks = sum(data.daily[d].bucks for d in rut if d in data.daily)
    if pre_bucks + rut_bucks < MIN_RUT_BUCKS:
        return not_enough("a rut-season comparison", pre_bucks + rut_bucks, MIN_RUT_BUCKS, "buck detections")
    pre_rate, rut_rate = pre_bucks / len(pre), rut_bucks / len(rut)
    change = pct_change(pre_rate, rut_rate)
    how = "rose" if rut_rate > pre_rate else ("fell" if rut_rate < pre_rate else "held")
    pct = f" ({change:+.0f}%)" if change is not None else " (from none)"
    return (
        f"Rut season: buck detections {how} from {pre_rate:.2f} per day before the rut "
        f"(1 Sep-14 Oct, {pre_bucks} in {len(pre)} days) to {rut_rate:.2f} per day during it "
        f"(15 Oct-30 Nov, {rut_bucks} in {len(rut)} days){pct}."
    )


def seasonal_insights(data: SeasonalActivity) -> list[str]:
    total = data.totals.total
    if total < MIN_DETECTIONS:
        return [not_enough("insights", total, MIN_DETECTIONS)]
    out: list[str] = []
    busy = [p for p in data.periods if p.total > 0]
    peak = max(data.periods, key=lambda p: (p.total, -p.period.start.toordinal()))
    out.append(
        f"Peak activity: {peak.period.label} with {peak.total:,} detections "
        f"({100 * peak.total / total:.0f}% of {total:,})."
    )
    rut = rut_rise(data)
    if rut:
        out.append(rut)
    if len(data.periods) >= 2:
        steps = []
        for before, after in zip(data.periods, data.periods[1:], strict=False):
            # Compare per-day rates: a partial first or last bucket must not read as a drop.
            rate_before, rate_after = before.total / max(before.days, 1), after.total / max(after.days, 1)
            steps.append((rate_after - rate_before, before, after, rate_before, rate_after))
        rise = max(steps, key=lambda s: s[0])
        drop = min(steps, key=lambda s: s[0])
        if rise[0] > 0:
            out.append(_step_text("Largest rise", rise))
        if drop[0] < 0:
            out.append(_step_text("Largest drop", drop))
    hour = max(range(24), key=lambda h: data.hours[h])
    dawn_dusk = sum(data.hours[h] for h in DAWN_HOURS + DUSK_HOURS)
    out.append(
        f"Most active hour: {hour:02d}:00-{hour:02d}:59 solar time ({data.hours[hour]:,} detections); "
        f"{100 * dawn_dusk / total:.0f}% of detections fall at dawn (05-08) or dusk (16-19), "
        f"against {100 * len(DAWN_HOURS + DUSK_HOURS) / 24:.0f}% if activity were even through the day."
    )
    sexed = data.totals.bucks + data.totals.does
    if sexed >= MIN_DETECTIONS:
        out.append(f"Buck:doe ratio {ratio_text(data.totals.bucks, data.totals.does)} over {sexed:,} sexed detections.")
    if data.individuals:
        top = data.individuals[0]
        out.append(
            f"Most-seen individual: {top.name} ({top.sex}), {top.sightings:,} sightings at {top.cameras} "
            f"camera{'s' if top.cameras != 1 else ''}; {data.unique_individuals} individuals seen in all."
        )
    active = [c for c in data.cameras if c.counts.total > 0]
    silent = [c for c in data.cameras if c.counts.total == 0]
    if active:
        best = active[0]
        out.append(f"Busiest camera: {best.name} ({best.code}) with {best.counts.total:,} detections.")
    if silent:
        out.append("No detections at " + ", ".join(f"{c.name} ({c.code})" for c in silent) + ": check those cameras.")
    if len(busy) < len(data.periods):
        out.append(f"{len(data.periods) - len(busy)} of {len(data.periods)} periods have no detections.")
    return out


def _step_text(what: str, step: tuple) -> str:
    _, before, after, rate_before, rate_after = step
    change = pct_change(rate_before, rate_after)
    pct = f", {change:+.0f}%" if change is not None else ""
    return (
        f"{what}: {before.period.label} to {after.period.label}, {rate_before:.1f} to {rate_after:.1f} "
        f"detections per day{pct}."
    )
