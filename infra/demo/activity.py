"""When and where deer pass the cameras: daylight, the rut, the seasons and the habitats.

- Time of day is crepuscular: most sightings fall within an hour or two of sunrise and sunset
  (computed for the study area and each day, in UTC), fewer at night, fewest at midday.
- Bucks move far more in the rut (a peak around 12 November, rising from late October) and more in
  daylight then; everyone moves a little less as winter sets in.
- Cameras draw deer by season: the cornfield and the orchard in early autumn (corn, apples), the
  cedar swamp once snow comes (a winter yard).
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np

from infra.demo.population import Habitat, Sex

SEASON_START = date(2023, 9, 1)
SEASON_END = date(2024, 1, 31)
RUT_PEAK = date(2023, 11, 12)
RUT_WIDTH_DAYS = 13.0
SNOW_FROM = date(2023, 12, 4)
LEAF_FALL_FROM = date(2023, 10, 8)

#: Hours around sunrise/sunset during which a camera still takes colour pictures.
TWILIGHT_HOURS = 0.4


def season_days() -> list[date]:
    return [date.fromordinal(o) for o in range(SEASON_START.toordinal(), SEASON_END.toordinal() + 1)]


def sun_times(day: date, latitude: float, longitude: float) -> tuple[float, float]:
    """Sunrise and sunset as hours after midnight UTC (NOAA's approximate solar equations)."""
    gamma = 2 * math.pi / 365 * (day.timetuple().tm_yday - 1)
    eqtime = 229.18 * (0.000075 + 0.001868 * math.cos(gamma) - 0.032077 * math.sin(gamma)
                       - 0.014615 * math.cos(2 * gamma) - 0.040849 * math.sin(2 * gamma))
    decl = (0.006918 - 0.399912 * math.cos(gamma) + 0.070257 * math.sin(gamma) - 0.006758 * math.cos(2 * gamma)
            + 0.000907 * math.sin(2 * gamma) - 0.002697 * math.cos(3 * gamma) + 0.00148 * math.sin(3 * gamma))
    lat = math.radians(latitude)
    cos_ha = math.cos(math.radians(90.833)) / (math.cos(lat) * math.cos(decl)) - math.tan(lat) * math.tan(decl)
    ha = math.degrees(math.acos(max(-1.0, min(1.0, cos_ha))))
    sunrise = (720 - 4 * (longitude + ha) - eqtime) / 60
    sunset = (720 - 4 * (longitude - ha) - eqtime) / 60
    return sunrise, sunset


def rut(day: date) -> float:
    """0..1: how far into the rut a day is (1 at the peak)."""
    return math.exp(-0.5 * ((day - RUT_PEAK).days / RUT_WIDTH_DAYS) ** 2)


def winter(day: date) -> float:
    """0 until December, rising to 1 by the end of January."""
    return min(1.0, max(0.0, (day - date(2023, 12, 1)).days / 61))


def activity(sex: Sex, day: date) -> float:
    """Relative rate at which a deer of this sex passes a camera on this day."""
    base = 1.0 - 0.35 * winter(day)
    if sex == "buck":
        return base * (1.0 + 2.4 * rut(day))
    if sex == "doe":
        return base * (1.0 + 0.35 * rut(day))
    return base


def attraction(habitat: Habitat, day: date) -> float:
    """How strongly a camera's habitat draws deer on this day."""
    early = 1.0 if day < date(2023, 10, 20) else 0.0
    snow = 1.0 if day >= SNOW_FROM else 0.0
    return {
        "cornfield": 1.0 + 0.7 * early - 0.5 * snow,
        "orchard": 1.0 + 0.6 * early - 0.3 * snow,
        "cedar": 0.8 + 1.2 * snow,
        "hemlock": 1.0 + 0.4 * snow,
        "clearcut": 1.0,
        "wetland": 1.0 - 0.4 * snow,
    }[habitat]


def daytime_share(sex: Sex, day: date) -> float:
    """Share of sightings in full daylight (bucks in the rut move in daylight)."""
    return 0.09 + (0.16 * rut(day) if sex == "buck" else 0.0)


def time_of_day(rng: np.random.Generator, sunrise: float, sunset: float, daytime: float) -> float:
    """Hours after midnight UTC (0-24): dawn and dusk peaks, some night, a little midday."""
    night = 0.2
    dawn = (1.0 - night - daytime) * 0.47
    pick = rng.random()
    if pick < dawn:
        hours = rng.normal(sunrise + 0.2, 0.85)
    elif pick < 1.0 - night - daytime:
        hours = rng.normal(sunset - 0.15, 0.9)
    elif pick < 1.0 - night:
        hours = rng.uniform(sunrise + 1.5, sunset - 1.5)
    else:
        hours = rng.uniform(sunset + 1.0, sunrise + 23.0)
    return float(hours % 24.0)


def is_dark(hours: float, sunrise: float, sunset: float) -> bool:
    """Whether a camera fires its infrared flash (sun well below the horizon)."""
    return not (sunrise - TWILIGHT_HOURS <= hours <= sunset + TWILIGHT_HOURS)


def daylight(hours: float, sunrise: float, sunset: float) -> float:
    """0..1 brightness of daylight: dim near sunrise/sunset, full in the middle of the day."""
    from_edge = min(hours - (sunrise - TWILIGHT_HOURS), (sunset + TWILIGHT_HOURS) - hours)
    return float(np.clip(0.35 + 0.65 * from_edge / 1.8, 0.35, 1.0))


def temperature_f(rng: np.random.Generator, day: date, hours: float, sunrise: float) -> int:
    """Air temperature a camera stamps on its picture: a northern Vermont season, colder at dawn."""
    days = (day - SEASON_START).days
    seasonal = 58.0 - 44.0 * math.sin(min(1.0, days / 140) * math.pi / 2)
    diurnal = 6.0 * math.cos(2 * math.pi * (hours - sunrise - 8.0) / 24)  # warmest mid-afternoon
    return int(round(seasonal + diurnal + rng.normal(0, 4)))
